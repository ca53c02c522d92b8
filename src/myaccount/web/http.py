"""Small request helpers shared by the route modules: bounded body parsing, the caller, basic auth."""

import base64
import binascii
import json
from typing import Any
from urllib.parse import unquote_plus

from starlette.datastructures import FormData
from starlette.requests import Request

from myaccount.audit import Caller
from myaccount.core import Core

__all__ = ["BodyError", "basic_credentials", "caller_of", "core_of", "read_body", "read_json", "read_params"]

MAX_BODY = 64 * 1024
MAX_DEPTH = 32


class BodyError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


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


def parse_json(raw: bytes) -> Any:
    # A cheap bound before parsing: nesting deeper than MAX_DEPTH needs at least that many brackets.
    if raw.count(b"[") + raw.count(b"{") > 4096:
        raise BodyError(400, "The JSON body is too deeply nested.")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BodyError(400, "The request body is not valid JSON.") from exc
    if _depth(value) > MAX_DEPTH:
        raise BodyError(400, "The JSON body is too deeply nested.")
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
            key = unquote_plus(key)
            if key in params:
                # RFC 6749 §3.1: request parameters must not be included more than once.
                raise BodyError(400, f"Parameter '{key}' is repeated.")
            params[key] = unquote_plus(value)
        return params
    raise BodyError(415, "Send application/x-www-form-urlencoded or application/json.")


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
