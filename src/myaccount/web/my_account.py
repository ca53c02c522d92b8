"""`/me/v1`: the My Account API routes. Each parses input, calls one use case, and picks status and headers.

Every response carries `x-ratelimit-limit`, `x-ratelimit-remaining` and `x-ratelimit-reset`; a 429 adds
`retry-after`. Errors are `{type, status, title, detail, validation_errors?}` as `application/json`.
"""

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from myaccount.errors import BadRequest, Forbidden, Problem, RateLimited, UnsupportedMediaType
from myaccount.my_account.service import MyAccount
from myaccount.oauth.tokens import AccessClaims
from myaccount.observability import RATE_LIMITED
from myaccount.policy.rate_limits import Decision, Rule
from myaccount.settings import RateLimitSettings
from myaccount.web.guard import dpop_nonce_headers, require_token
from myaccount.web.http import BodyError, caller_of, core_of, read_json
from myaccount.web.http import FastJSONResponse as JSONResponse
from myaccount.web.problems import problem_response

__all__ = ["routes"]

Handler = Callable[[Request, AccessClaims, MyAccount], Awaitable[Response]]


def _service(request: Request) -> MyAccount:
    service: MyAccount = request.app.state.my_account
    return service


@functools.lru_cache(maxsize=64)
def _rules(limits: RateLimitSettings, family: str) -> tuple[tuple[Rule, str], ...]:
    """The rules an operation family takes, per set of limits (settings are immutable: built once each)."""
    rules: list[tuple[Rule, str]] = []
    if limits.tenant_capacity:
        rules.append((Rule("me-tenant", limits.tenant_capacity, limits.tenant_per_seconds), "tenant"))
    if family == "write":
        rules.append((Rule("me-write", limits.user_write_capacity, limits.user_write_per_seconds), ""))
    elif family == "code":
        rules.append((Rule("me-write", limits.user_write_capacity, limits.user_write_per_seconds), ""))
        rules.append((Rule("me-code", limits.code_attempt_capacity, limits.code_attempt_per_seconds), ""))
    elif limits.user_read_capacity:
        rules.append((Rule("me-read", limits.user_read_capacity, limits.user_read_per_seconds), ""))
    return tuple((rule, key) for rule, key in rules if rule.enabled)


def _headers(decision: Decision) -> list[tuple[bytes, bytes]]:
    return [
        (b"x-ratelimit-limit", str(decision.limit).encode()),
        (b"x-ratelimit-remaining", str(decision.remaining).encode()),
        (b"x-ratelimit-reset", str(decision.reset).encode()),
    ]


class Endpoint:
    """One operation as an ASGI app: token check, rate limits and error rendering around a handler.

    Starlette calls an ASGI endpoint directly, without the request/response wrapper it puts around a plain
    function: these routes render their own errors, and anything unexpected still reaches the application's
    exception handlers."""

    def __init__(self, handler: Handler, scope: str, family: str) -> None:
        self.handler = handler
        self.scope = scope
        self.family = family

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.run(Request(scope, receive))
        await response(scope, receive, send)

    async def run(self, request: Request) -> Response:
        core = core_of(request)
        shown: Decision | None = None
        try:
            claims = require_token(request, audience=core.settings.my_account_audience, scope=self.scope)
            if not claims.is_user:
                # The API's client policy is deny_all; a client's token (however it was made) acts for nobody.
                raise Forbidden("The My Account API accepts user tokens only.")
            for rule, key in _rules(core.settings.rate_limits, self.family):
                try:
                    decision = core.limiter.take(rule, key or claims.subject)
                except Exception:
                    # The limiter's store (Redis) is unreachable: serve rather than fail every request;
                    # /readyz reports the outage, and the failure is logged.
                    logging.getLogger("myaccount.ratelimit").warning("rate limiter unavailable", exc_info=True)
                    continue
                if shown is None or decision.remaining < shown.remaining or not decision.allowed:
                    shown = decision
                if not decision.allowed:
                    RATE_LIMITED.labels(rule.name).inc()
                    headers = {"retry-after": str(decision.retry_after)}
                    if rule.name == "me-tenant":
                        headers["x-auth0-error-kind"] = "global-rate-limit"
                    raise RateLimited("Too many requests. Retry later.", headers=headers)
            response = await self.handler(request, claims, _service(request))
        except Problem as exc:
            response = problem_response(exc)
        except BodyError as exc:
            kind = {413: "A0E-413-0001", 415: "A0E-415-0001"}.get(exc.status, "A0E-400-0001")
            title = {413: "Payload Too Large", 415: "Unsupported Media Type"}.get(exc.status, "Bad Request")
            response = JSONResponse(
                {
                    "type": f"https://auth0.com/api-errors/{kind}",
                    "status": exc.status,
                    "title": title,
                    "detail": exc.detail,
                },
                status_code=exc.status,
            )
        if shown is None:
            shown = _unlimited(core.clock.now().timestamp())
        # Appended, not set: no response here carries these already, and setting one scans the list.
        response.raw_headers.extend(_headers(shown))
        nonce = dpop_nonce_headers(core)
        if nonce:
            response.headers.update(nonce)
        return response


def endpoint(scope: str, family: str) -> Callable[[Handler], Endpoint]:
    def wrap(handler: Handler) -> Endpoint:
        return Endpoint(handler, scope, family)

    return wrap


_UNLIMITED = 1_000_000


def _unlimited(now: float) -> Decision:
    return Decision(allowed=True, limit=_UNLIMITED, remaining=_UNLIMITED, reset=int(now), retry_after=0)


async def _json_object(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType("Send the request body as application/json.")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def _location(request: Request, method_id: str) -> str:
    origin = core_of(request).settings.origin
    return f"{origin}/me/v1/authentication-methods/{quote(method_id, safe='')}"


def _method_id(request: Request) -> str:
    method_id: str = request.path_params["method_id"]
    if len(method_id) > 300:
        raise BadRequest("The authentication method id is too long.")
    return method_id


@endpoint("read:me:factors", "read")
async def factors(request: Request, claims: AccessClaims, service: MyAccount) -> Response:
    return JSONResponse({"factors": service.factors(claims)})


@endpoint("read:me:authentication_methods", "read")
async def list_methods(request: Request, claims: AccessClaims, service: MyAccount) -> Response:
    type_ = request.query_params.get("type") if request.scope["query_string"] else None
    return Response(service.list_methods_json(claims, type_), media_type="application/json")


@endpoint("read:me:authentication_methods", "read")
async def get_method(request: Request, claims: AccessClaims, service: MyAccount) -> Response:
    return JSONResponse(service.get_method(claims, _method_id(request)))


@endpoint("create:me:authentication_methods", "write")
async def start(request: Request, claims: AccessClaims, service: MyAccount) -> Response:
    body = await _json_object(request)
    enrollment = await service.start(claims, body, caller_of(request))
    return JSONResponse(
        enrollment.body, status_code=202, headers={"Location": _location(request, enrollment.method_id)}
    )


@endpoint("create:me:authentication_methods", "code")
async def verify(request: Request, claims: AccessClaims, service: MyAccount) -> Response:
    body = await _json_object(request)
    enrollment = await service.verify(claims, _method_id(request), body, caller_of(request))
    return JSONResponse(
        enrollment.body, status_code=201, headers={"Location": _location(request, enrollment.method_id)}
    )


@endpoint("update:me:authentication_methods", "write")
async def update(request: Request, claims: AccessClaims, service: MyAccount) -> Response:
    body = await _json_object(request)
    return JSONResponse(service.update(claims, _method_id(request), body, caller_of(request)))


@endpoint("delete:me:authentication_methods", "write")
async def delete(request: Request, claims: AccessClaims, service: MyAccount) -> Response:
    service.delete(claims, _method_id(request), caller_of(request))
    return Response(status_code=204)


routes = [
    Route("/me/v1/factors", factors, methods=["GET"]),
    Route("/me/v1/authentication-methods", list_methods, methods=["GET"]),
    Route("/me/v1/authentication-methods", start, methods=["POST"]),
    Route("/me/v1/authentication-methods/{method_id}", get_method, methods=["GET"]),
    Route("/me/v1/authentication-methods/{method_id}", update, methods=["PATCH"]),
    Route("/me/v1/authentication-methods/{method_id}", delete, methods=["DELETE"]),
    Route("/me/v1/authentication-methods/{method_id}/verify", verify, methods=["POST"]),
]
