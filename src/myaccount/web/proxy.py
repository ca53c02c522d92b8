"""Behind a load balancer: take the client address and scheme from `X-Forwarded-For` / `X-Forwarded-Proto`,
but only when the direct peer is a configured trusted proxy (otherwise anyone could choose their own IP and
walk around per-IP limits)."""

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["ProxyHeadersMiddleware"]


class ProxyHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, trusted: Iterable[str]) -> None:
        self.app = app
        self.networks = [ipaddress.ip_network(item, strict=False) for item in trusted]

    def _trusted(self, host: str | None) -> bool:
        if not host:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.networks:
            client = scope.get("client")
            if client and self._trusted(client[0]):
                headers = dict(scope["headers"])
                forwarded = headers.get(b"x-forwarded-for", b"").decode("latin-1")
                # Walk from the right: the first address that is not one of our proxies is the client.
                hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
                for hop in reversed(hops):
                    if not self._trusted(hop):
                        try:
                            ipaddress.ip_address(hop)
                        except ValueError:
                            break
                        scope["client"] = (hop, 0)
                        break
                proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").strip().lower()
                if proto in ("http", "https"):
                    scope["scheme"] = proto
        await self.app(scope, receive, send)
