"""CORS per application (a pure ASGI middleware, so it costs nothing on same-origin requests).

An origin is admitted when some client lists it in `allowed_origins` or `web_origins`. Preflights from any other
origin are refused. `Location`, `WWW-Authenticate`, `DPoP-Nonce` and the rate-limit headers are exposed, because
SDKs read them (SPA reads `Location` to find the verify URL).
"""

import time
from collections.abc import Callable

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CorsMiddleware"]

EXPOSE = (
    "Location, WWW-Authenticate, DPoP-Nonce, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset, retry-after"
)
ALLOW_HEADERS = "Authorization, Content-Type, DPoP, auth0-client, Accept, Cache-Control"
ALLOW_METHODS = "GET, POST, PATCH, PUT, DELETE, OPTIONS"
# Public documents any origin may read.
PUBLIC_PATHS = ("/.well-known/",)
CORS_PATHS = ("/oauth/token", "/oauth/revoke", "/userinfo", "/me/", "/api/v2/", "/passkey/", "/mfa/", "/.well-known/")


class CorsMiddleware:
    def __init__(self, app: ASGIApp, *, own_origin: str, allowed: Callable[[], set[str]], ttl: float = 5.0) -> None:
        self.app = app
        self.own_origin = own_origin
        self._allowed = allowed
        self._ttl = ttl
        self._cache: tuple[float, set[str]] = (0.0, set())

    def origins(self) -> set[str]:
        loaded_at, origins = self._cache
        if time.monotonic() - loaded_at > self._ttl:
            origins = self._allowed()
            self._cache = (time.monotonic(), origins)
        return origins

    def invalidate(self) -> None:
        self._cache = (0.0, set())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        path: str = scope["path"]
        if origin is None or origin == self.own_origin or not path.startswith(CORS_PATHS):
            await self.app(scope, receive, send)
            return
        public = path.startswith(PUBLIC_PATHS)
        admitted = public or origin in self.origins()
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            if not admitted:
                await PlainTextResponse("Origin not allowed", status_code=403)(scope, receive, send)
                return
            preflight = PlainTextResponse(
                "",
                status_code=204,
                headers={
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": ALLOW_METHODS,
                    "Access-Control-Allow-Headers": ALLOW_HEADERS,
                    "Access-Control-Max-Age": "600",
                    "Vary": "Origin",
                },
            )
            await preflight(scope, receive, send)
            return
        if not admitted:
            await self.app(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["Access-Control-Allow-Origin"] = origin
                out["Access-Control-Expose-Headers"] = EXPOSE
                out.add_vary_header("Origin")
            await send(message)

        scope.setdefault("state", {})["cors_origin"] = origin
        await self.app(scope, receive, send_with_cors)
