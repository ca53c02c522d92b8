"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives, for email-code tests."""

import email
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.live import free_port

__all__ = ["Mailbox", "smtp_server"]


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"

    def code_for(self, address: str, *, timeout: float = 5.0) -> str:
        """The newest 6-digit code sent to `address`, waiting briefly for delivery."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for message in reversed(self.messages):
                    if address.lower() in str(message["To"]).lower():
                        body = message.get_payload(decode=True)
                        text = body.decode() if isinstance(body, bytes) else str(message.get_payload())
                        found = re.search(r"\b(\d{6})\b", text)
                        if found:
                            return found.group(1)
            time.sleep(0.05)
        raise AssertionError(f"no code was mailed to {address}")


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()
