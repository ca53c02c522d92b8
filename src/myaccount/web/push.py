"""`/push/v1`: the device API that `myaccount authenticator` speaks (the protocol is in `methods/push.py`).

    POST /push/v1/enroll                  {enrollment_tx_id, device_name?, public_key}  → 201 {device_id, user}
    GET  /push/v1/challenges              Authorization: Device <jwt>  → 200 {challenges: [{id, status,
                                          created_at, expires_at, details}]}, the user's pending challenges
    POST /push/v1/challenges/{id}/answer  Authorization: Device <jwt>, {approve, signature}  → 200 {id, status}

Errors are `{type, status, title, detail, validation_errors?}` as `application/json`, like `/me/v1`: 400 bad
input or answer signature, 401 missing, invalid or replayed device proof, 403 enrollment not confirmed yet,
404 unknown challenge, 409 already answered, 410 expired, 413 and 415 for bodies.
"""

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from myaccount import push
from myaccount.errors import BadRequest, PayloadTooLarge, Problem, UnsupportedMediaType
from myaccount.web.http import BodyError, caller_of, core_of, read_json
from myaccount.web.problems import problem_response

__all__ = ["routes"]

_NO_STORE = {"Cache-Control": "no-store"}


def _problem_of(exc: BodyError) -> Problem:
    if exc.status == 413:
        return PayloadTooLarge(exc.detail)
    if exc.status == 415:
        return UnsupportedMediaType(exc.detail)
    return BadRequest(exc.detail)


def _endpoint(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """Every refusal as problem JSON (the app-wide handlers would answer OAuth-style bodies on this path)."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except Problem as exc:
            return problem_response(exc)
        except BodyError as exc:
            return problem_response(_problem_of(exc))

    return run


async def _json_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.")
    return await read_json(request)


async def _device(request: Request) -> push.Device:
    core = core_of(request)
    # htu is the target URI as sent (RFC 9449 §4.2): our public origin, not whatever a proxy forwarded, and the
    # path still percent-encoded (`request.url.path` is decoded), without the query.
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    url = core.settings.origin + raw_path.decode("latin-1").split("?", 1)[0]
    return await run_in_threadpool(
        push.authenticate_device, core, request.headers.get("authorization"), method=request.method, url=url
    )


@_endpoint
async def enroll(request: Request) -> Response:
    body = await _json_body(request)
    result = await run_in_threadpool(push.enroll_device, core_of(request), body, caller_of(request))
    return JSONResponse(result, status_code=201, headers=_NO_STORE)


@_endpoint
async def challenges(request: Request) -> Response:
    device = await _device(request)
    found = await run_in_threadpool(push.pending_challenges, core_of(request), device)
    return JSONResponse({"challenges": found}, headers=_NO_STORE)


@_endpoint
async def answer(request: Request) -> Response:
    device = await _device(request)
    body = await _json_body(request)
    result = await run_in_threadpool(
        push.answer_challenge,
        core_of(request),
        device,
        request.path_params["challenge_id"],
        body,
        caller_of(request),
    )
    return JSONResponse(result, headers=_NO_STORE)


routes = [
    Route("/push/v1/enroll", enroll, methods=["POST"]),
    Route("/push/v1/challenges", challenges, methods=["GET"]),
    Route("/push/v1/challenges/{challenge_id}/answer", answer, methods=["POST"]),
]
