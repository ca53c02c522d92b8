"""The development channel: messages stay in memory and go to the log instead of to a person.

This is what runs when no SMTP server or SMS provider is configured. It logs each message in full, one-time codes
included, because showing them to the developer is its whole purpose; never configure it where real users sign in.
Tests and the development account page read codes back with `latest_code`.
"""

import logging
import re
import threading
from collections import deque

from myaccount.delivery.base import Message

__all__ = ["Outbox"]

logger = logging.getLogger(__name__)

# Six ASCII digits standing alone: not part of a longer number such as a year or a phone number.
_CODE = re.compile(r"(?<![0-9])[0-9]{6}(?![0-9])")


class Outbox:
    """Keeps the last `capacity` messages, oldest first; safe to use from several threads."""

    def __init__(self, capacity: int = 100) -> None:
        if capacity < 1:
            raise ValueError("the outbox needs room for at least one message")
        self._messages: deque[Message] = deque(maxlen=capacity)
        self._lock = threading.Lock()

    async def send(self, message: Message) -> None:
        with self._lock:
            self._messages.append(message)
        logger.info("outbox %s to %s: %s | %s", message.channel, message.to, message.subject, message.body)

    def messages(self, to: str | None = None) -> list[Message]:
        """The kept messages, oldest first, optionally only those sent to `to`."""
        with self._lock:
            kept = list(self._messages)
        return [m for m in kept if to is None or m.to == to]

    def latest_code(self, to: str) -> str | None:
        """The 6-digit code in the newest message to `to` that has one."""
        for message in reversed(self.messages(to)):
            found = _CODE.search(message.body) or _CODE.search(message.subject)
            if found:
                return found.group()
        return None

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
