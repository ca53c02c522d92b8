"""SMS and voice through an HTTP provider: POST `{to, body, channel}` as JSON with an optional Bearer token.

The provider's HTTP API is the one generic shape we support; a small adapter service can translate it to any
vendor's API (Twilio, Vonage, …) without this server knowing them.
"""

import httpx

from myaccount.delivery.base import DeliveryError, Message

__all__ = ["HttpSmsChannel"]


class HttpSmsChannel:
    """Sends `sms` and `voice` messages to one HTTP endpoint; any 2xx answer means the provider took it."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        client: httpx.AsyncClient | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._url = url
        self._token = token
        self._client = client  # shared for connection reuse when given; otherwise one client per message
        self._timeout = timeout

    async def send(self, message: Message) -> None:
        if message.channel not in ("sms", "voice"):
            raise DeliveryError(f"the SMS channel cannot send {message.channel} messages")
        headers = {"Authorization": f"Bearer {self._token}"} if self._token else {}
        payload = {"to": message.to, "body": message.body, "channel": message.channel}
        try:
            if self._client is not None:
                response = await self._client.post(self._url, json=payload, headers=headers, timeout=self._timeout)
            else:
                async with httpx.AsyncClient(timeout=self._timeout) as client:
                    response = await client.post(self._url, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"SMS provider unreachable: {type(exc).__name__}") from exc
        if not response.is_success:
            # The status only: a provider's error body may echo the message, and with it the code.
            raise DeliveryError(f"SMS provider answered HTTP {response.status_code}")
