"""Small request helpers shared by the route modules: bounded body parsing, the caller, basic auth."""

import base64
import binascii
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import unquote_plus

import orjson
from starlette.datastructures import FormData
from starlette.formparsers import FormParser, MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from myaccount.audit import Caller
from myaccount.core import Core

__all__ = [
    "BodyError",
    "FastJSONResponse",
    "RefuseNul",
    "basic_credentials",
    "caller_of",
    "core_of",
    "read_body",
    "read_form",
    "read_json",
    "read_params",
]

MAX_BODY = 64 * 1024
MAX_DEPTH = 32


class BodyError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class FastJSONResponse(JSONResponse):
    """Starlette's JSONResponse rendered by orjson: the same compact UTF-8 JSON, several times faster. For the
    bodies of the hot endpoints (My Account, /userinfo, /oauth/token), which are plain dicts with string keys."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def core_of(request: Request) -> Core:
    core: Core = request.app.state.core
    return core


def caller_of(request: Request) -> Caller:
    return Caller(ip=request.client.host if request.client else None, user_agent=request.headers.get("user-agent"))


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise BodyError(413, "The request body is too large.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BodyError(413, "The request body is too large.")
        chunks.append(chunk)
    return b"".join(chunks)


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max([_depth(v, level + 1) for v in value.values()] or [level + 1])
    if isinstance(value, list):
        return max([_depth(v, level + 1) for v in value] or [level + 1])
    return level


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


_NUL = "Text must not contain control characters such as NUL."


def parse_json(raw: bytes) -> Any:
    # A cheap bound before parsing: nesting deeper than MAX_DEPTH needs at least that many brackets.
    brackets = raw.count(b"[") + raw.count(b"{")
    if brackets > 4096:
        raise BodyError(400, "The JSON body is too deeply nested.")
    try:
        value = orjson.loads(raw)  # strict: no NaN, no lone surrogates, no invalid UTF-8
    except (ValueError, RecursionError) as exc:
        raise BodyError(400, "The request body is not valid JSON.") from exc
    # The walks only when they can find something: fewer brackets than MAX_DEPTH cannot nest deeper, and a
    # NUL in a parsed string can only come from a \u0000 escape in the raw text.
    if brackets > MAX_DEPTH and _depth(value) > MAX_DEPTH:
        raise BodyError(400, "The JSON body is too deeply nested.")
    if b"\\u0000" in raw and _has_nul(value):
        # PostgreSQL text cannot hold NUL: refused at the door rather than a 500 at the first query (fuzz suite).
        raise BodyError(400, _NUL)
    return value


async def read_json(request: Request) -> Any:
    return parse_json(await read_body(request))


async def read_params(request: Request) -> dict[str, Any]:
    """OAuth endpoints take form bodies (RFC 6749) and, as Auth0's do, JSON bodies."""
    raw = await read_body(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        value = parse_json(raw)
        if not isinstance(value, dict):
            raise BodyError(400, "The request body must be a JSON object.")
        return value
    if content_type in ("application/x-www-form-urlencoded", ""):
        params: dict[str, Any] = {}
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BodyError(400, "The request body is not valid UTF-8.") from exc
        for pair in text.split("&"):
            if not pair:
                continue
            key, _, value = pair.partition("=")
            key, value = unquote_plus(key), unquote_plus(value)
            if "\x00" in key or "\x00" in value:
                raise BodyError(400, _NUL)
            if key in params:
                # RFC 6749 §3.1: request parameters must not be included more than once.
                raise BodyError(400, f"Parameter '{key}' is repeated.")
            params[key] = value
        return params
    raise BodyError(415, "Send application/x-www-form-urlencoded or application/json.")


async def read_form(request: Request, *, max_fields: int = 20) -> FormData:
    """`request.form()` for the hosted login pages, the body bounded by MAX_BODY first: Starlette bounds each
    field (1 MiB) and the number of fields, not the body, and reads it whole."""
    raw = await read_body(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()

    async def stream() -> AsyncGenerator[bytes, None]:
        yield raw

    try:
        if content_type == "application/x-www-form-urlencoded":
            form = await FormParser(request.headers, stream(), max_fields=max_fields).parse()
        elif content_type == "multipart/form-data":
            form = await MultiPartParser(request.headers, stream(), max_files=0, max_fields=max_fields).parse()
        else:
            return FormData()
    except MultiPartException as exc:
        raise BodyError(400, exc.message) from exc
    if any(_has_nul(key) or _has_nul(value) for key, value in form.multi_items()):
        raise BodyError(400, _NUL)
    return form


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1: client_id and secret are form-urlencoded before being joined for HTTP Basic."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        return None
    return unquote_plus(client_id), unquote_plus(secret)


def form_value(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


class RefuseNul:
    """400 for a URL whose path or query carries a NUL character: PostgreSQL text cannot hold one, so any id or
    parameter with it would otherwise fail at the first query (found by the fuzz suite on PostgreSQL)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query: bytes = scope.get("query_string", b"")
            path: str = scope["path"]
            # /push/v1 answers 404 for such a challenge id itself (tests/push).
            if ("\x00" in path and not path.startswith("/push/")) or b"%00" in query or b"\x00" in query:
                body: dict[str, Any]
                if path.startswith(("/me/", "/push/")):
                    body = {"type": "https://auth0.com/api-errors/A0E-400-0001", "status": 400, "title": "Bad Request"}
                    body["detail"] = _NUL
                elif path.startswith("/api/"):
                    body = {"statusCode": 400, "error": "Bad Request", "message": _NUL, "errorCode": "invalid_uri"}
                else:
                    body = {"error": "invalid_request", "error_description": _NUL}
                await JSONResponse(body, status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)
