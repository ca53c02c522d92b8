"""Getting one-time codes and notices to people: SMTP email, an HTTP SMS provider, or the development outbox."""

from myaccount.delivery.base import Channel, ChannelKind, DeliveryError, Message
from myaccount.delivery.email import SmtpChannel
from myaccount.delivery.outbox import Outbox
from myaccount.delivery.sms import HttpSmsChannel

__all__ = ["Channel", "ChannelKind", "DeliveryError", "HttpSmsChannel", "Message", "Outbox", "SmtpChannel"]
