"""SmtpChannel against a real SMTP server (aiosmtpd) listening on 127.0.0.1."""

import asyncio
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from myaccount.clock import FrozenClock
from myaccount.delivery import DeliveryError, Message, SmtpChannel

SENDER = "MyAccount <no-reply@id.example.com>"
CODE_MESSAGE = Message(
    to="ada@example.com",
    subject="Your verification code: 482913",
    body="Your verification code is 482913.\nIt expires in 5 minutes. — MyAccount",
    channel="email",
)


class Recorder:
    """An aiosmtpd handler that keeps every envelope it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def smtp_port(recorder: Recorder) -> Iterator[int]:
    controller = Controller(recorder, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


def _received(recorder: Recorder) -> EmailMessage:
    assert len(recorder.envelopes) == 1
    parsed = message_from_bytes(recorder.envelopes[0].content, policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_a_code_arrives_with_proper_headers(recorder: Recorder, smtp_port: int) -> None:
    clock = FrozenClock(datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC))
    channel = SmtpChannel("127.0.0.1", smtp_port, sender=SENDER, clock=clock)

    asyncio.run(channel.send(CODE_MESSAGE))

    envelope = recorder.envelopes[0]
    assert envelope.mail_from == "no-reply@id.example.com"
    assert envelope.rcpt_tos == ["ada@example.com"]
    mail = _received(recorder)
    assert mail["From"] == SENDER
    assert mail["To"] == "ada@example.com"
    assert mail["Subject"] == "Your verification code: 482913"
    assert mail["Date"].datetime == datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert mail["Message-ID"].startswith("<") and mail["Message-ID"].endswith("@id.example.com>")
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content_charset() == "utf-8"
    assert "482913" in mail.get_content()
    assert "— MyAccount" in mail.get_content()  # non-ASCII survives the trip


def test_each_message_gets_its_own_message_id(recorder: Recorder, smtp_port: int) -> None:
    channel = SmtpChannel("127.0.0.1", smtp_port, sender=SENDER)

    async def twice() -> None:
        await channel.send(CODE_MESSAGE)
        await channel.send(CODE_MESSAGE)

    asyncio.run(twice())
    ids = {message_from_bytes(e.content, policy=default)["Message-ID"] for e in recorder.envelopes}
    assert len(ids) == 2


def test_credentials_are_used_when_configured() -> None:
    seen: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)  # let aiosmtpd answer 535

    recorder = Recorder()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=_free_port(),
        authenticator=authenticator,
        auth_require_tls=False,  # loopback only; a real relay would insist on STARTTLS
    )
    controller.start()
    try:
        good = SmtpChannel("127.0.0.1", controller.port, sender=SENDER, username="mailer", password="s3cret")
        asyncio.run(good.send(CODE_MESSAGE))
        bad = SmtpChannel("127.0.0.1", controller.port, sender=SENDER, username="mailer", password="wrong")
        with pytest.raises(DeliveryError, match="SMTPAuthenticationError"):
            asyncio.run(bad.send(CODE_MESSAGE))
    finally:
        controller.stop()
    # aiosmtplib tries each offered mechanism (PLAIN, then LOGIN) before it gives up.
    assert seen[0] == (b"mailer", b"s3cret")
    assert set(seen[1:]) == {(b"mailer", b"wrong")}
    assert len(recorder.envelopes) == 1


def test_an_unreachable_server_is_a_delivery_error() -> None:
    channel = SmtpChannel("127.0.0.1", _free_port(), sender=SENDER, timeout=2)
    with pytest.raises(DeliveryError, match="failed") as caught:
        asyncio.run(channel.send(CODE_MESSAGE))
    assert "482913" not in str(caught.value)


def test_starttls_required_but_not_offered_is_a_delivery_error(smtp_port: int) -> None:
    channel = SmtpChannel("127.0.0.1", smtp_port, sender=SENDER, starttls=True, timeout=2)
    with pytest.raises(DeliveryError):
        asyncio.run(channel.send(CODE_MESSAGE))


@pytest.mark.parametrize(
    "message",
    [
        Message(to="ada@example.com\r\nBcc: eve@example.com", subject="Code", body="123456", channel="email"),
        Message(to="ada@example.com", subject="Code\nBcc: eve@example.com", body="123456", channel="email"),
    ],
)
def test_header_injection_is_refused_before_connecting(message: Message) -> None:
    channel = SmtpChannel("127.0.0.1", 9, sender=SENDER)
    with pytest.raises(DeliveryError, match="invalid header"):
        channel.build(message)


def test_sms_messages_are_refused() -> None:
    channel = SmtpChannel("127.0.0.1", 9, sender=SENDER)
    with pytest.raises(DeliveryError, match="cannot send sms"):
        asyncio.run(channel.send(Message(to="+14155550123", subject="", body="123456", channel="sms")))
