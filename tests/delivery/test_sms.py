"""HttpSmsChannel against a real HTTP server on 127.0.0.1 (stdlib http.server in a thread)."""

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from myaccount.delivery import DeliveryError, HttpSmsChannel, Message

SMS = Message(to="+14155550123", subject="", body="Your verification code is 482913", channel="sms")


@dataclass
class Provider:
    """What the fake provider saw, and the status it answers with."""

    url: str
    status: int = 202
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def provider() -> Iterator[Provider]:
    state = Provider(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            state.requests.append(
                {
                    "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "content_type": self.headers.get("Content-Type"),
                    "json": json.loads(self.rfile.read(length)),
                }
            )
            body = b'{"error":"provider exploded, message 482913"}' if state.status >= 400 else b'{"id":"msg_1"}'
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1/messages"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_posts_json_with_bearer_token(provider: Provider) -> None:
    asyncio.run(HttpSmsChannel(provider.url, token="tok_123").send(SMS))

    assert provider.requests == [
        {
            "path": "/v1/messages",
            "authorization": "Bearer tok_123",
            "content_type": "application/json",
            "json": {"to": "+14155550123", "body": "Your verification code is 482913", "channel": "sms"},
        }
    ]


def test_voice_goes_through_the_same_endpoint_without_a_token(provider: Provider) -> None:
    voice = Message(to="+14155550123", subject="", body="Your code is 4 8 2 9 1 3", channel="voice")
    asyncio.run(HttpSmsChannel(provider.url).send(voice))
    assert provider.requests[0]["authorization"] is None
    assert provider.requests[0]["json"]["channel"] == "voice"


def test_a_shared_client_is_used(provider: Provider) -> None:
    async def run() -> None:
        async with httpx.AsyncClient() as client:
            channel = HttpSmsChannel(provider.url, token="t", client=client)
            await channel.send(SMS)
            await channel.send(SMS)
            assert not client.is_closed  # the channel does not close a client it was given

    asyncio.run(run())
    assert len(provider.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 500, 503])
def test_an_error_status_is_a_delivery_error(provider: Provider, status: int) -> None:
    provider.status = status
    with pytest.raises(DeliveryError, match=f"HTTP {status}") as caught:
        asyncio.run(HttpSmsChannel(provider.url).send(SMS))
    assert "482913" not in str(caught.value)  # neither our body nor the provider's echo of it


def test_a_redirect_is_not_success(provider: Provider) -> None:
    provider.status = 302
    with pytest.raises(DeliveryError, match="HTTP 302"):
        asyncio.run(HttpSmsChannel(provider.url).send(SMS))


def test_an_unreachable_provider_is_a_delivery_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DeliveryError, match="unreachable: ConnectError"):
        asyncio.run(HttpSmsChannel(f"http://127.0.0.1:{port}/").send(SMS))


def test_email_messages_are_refused(provider: Provider) -> None:
    with pytest.raises(DeliveryError, match="cannot send email"):
        asyncio.run(HttpSmsChannel(provider.url).send(Message(to="a@b.co", subject="s", body="b", channel="email")))
    assert provider.requests == []
