"""Email over SMTP (RFC 5321) with aiosmtplib; the message is a plain-text RFC 5322 message in UTF-8."""

import ssl
from datetime import UTC
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid, parseaddr

import aiosmtplib

from myaccount.clock import Clock, SystemClock
from myaccount.delivery.base import DeliveryError, Message

__all__ = ["SmtpChannel"]


class SmtpChannel:
    """Sends `email` messages through one SMTP server (a relay or the provider's submission port)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout
        self._tls_context = tls_context
        self._clock = clock or SystemClock()
        # Message-IDs name the sender's domain (RFC 5322 §3.6.4 asks for a globally unique right-hand side).
        self._domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"

    def build(self, message: Message) -> EmailMessage:
        """The RFC 5322 message: From, To, Subject, Date and Message-ID headers, a text/plain UTF-8 body."""
        if message.channel != "email":
            raise DeliveryError(f"the SMTP channel cannot send {message.channel} messages")
        mail = EmailMessage(policy=SMTP)  # CRLF line ends, as SMTP wants them
        try:
            mail["From"] = self._sender
            mail["To"] = message.to
            mail["Subject"] = message.subject
            mail["Date"] = self._clock.now().astimezone(UTC)  # rendered per RFC 5322 §3.3
            mail["Message-ID"] = make_msgid(domain=self._domain)
            mail.set_content(message.body, subtype="plain", charset="utf-8")
        except ValueError as exc:
            # The email package refuses CR or LF in a header value: a header injection attempt or a bad address.
            raise DeliveryError("the message has an invalid header") from exc
        return mail

    async def send(self, message: Message) -> None:
        mail = self.build(message)
        try:
            await aiosmtplib.send(
                mail,
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                # Explicit: aiosmtplib's default (None) upgrades opportunistically whenever the server offers it.
                start_tls=self._starttls,
                tls_context=self._tls_context,
                timeout=self._timeout,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryError(f"SMTP delivery via {self._host}:{self._port} failed: {type(exc).__name__}") from exc
