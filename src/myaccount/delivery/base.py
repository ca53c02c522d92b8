"""What a delivery channel is: one async `send`, given a `Message`, raising `DeliveryError` when it cannot."""

from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["Channel", "ChannelKind", "DeliveryError", "Message"]

ChannelKind = Literal["email", "sms", "voice"]


@dataclass(frozen=True, slots=True)
class Message:
    """One message to one recipient: an email address, or an E.164 number for `sms` and `voice`."""

    to: str
    subject: str
    body: str
    channel: ChannelKind


class DeliveryError(Exception):
    """The message was not handed over. The text names the channel and the cause, never the message body."""


class Channel(Protocol):
    async def send(self, message: Message) -> None: ...
