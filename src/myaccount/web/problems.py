"""Rendering errors: My Account problems, OAuth errors, body errors. The only place that picks media types."""

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from myaccount.errors import Problem
from myaccount.oauth.errors import OAuthError
from myaccount.web.http import BodyError

__all__ = ["oauth_error_response", "problem_body", "problem_response"]

log = logging.getLogger("myaccount.web")

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Payload Too Large",
    415: "Unsupported Media Type",
    429: "Too Many Requests",
}


def problem_body(exc: Problem) -> dict[str, Any]:
    body: dict[str, Any] = {"type": exc.type, "status": exc.status, "title": exc.title, "detail": exc.detail}
    if exc.validation_errors:
        body["validation_errors"] = [
            {
                k: v
                for k, v in (("detail", e.detail), ("field", e.field), ("pointer", e.pointer), ("source", e.source))
                if v is not None
            }
            for e in exc.validation_errors
        ]
    return body


def problem_response(exc: Problem) -> Response:
    # Served as application/json, not problem+json: Auth0.Android parses only bodies whose type contains it.
    return JSONResponse(problem_body(exc), status_code=exc.status, headers=exc.headers)


def oauth_error_response(exc: OAuthError) -> Response:
    return JSONResponse(exc.body(), status_code=exc.status, headers={**_NO_STORE, **exc.headers()})


async def handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc)


async def handle_oauth(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return oauth_error_response(exc)


async def handle_body(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BodyError)
    if request.url.path.startswith(("/me/", "/api/")):
        return JSONResponse(
            {
                "type": f"https://auth0.com/api-errors/A0E-{exc.status}-0001",
                "status": exc.status,
                "title": _TITLES.get(exc.status, "Error"),
                "detail": exc.detail,
            },
            status_code=exc.status,
        )
    error = "invalid_request" if exc.status != 415 else "invalid_request"
    return JSONResponse({"error": error, "error_description": exc.detail}, status_code=exc.status, headers=_NO_STORE)


async def handle_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith("/me/"):
        title = _TITLES.get(exc.status_code, "Error")
        body = {
            "type": f"https://auth0.com/api-errors/A0E-{exc.status_code}-0001",
            "status": exc.status_code,
            "title": title,
            "detail": exc.detail if exc.detail != title else title,
        }
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
    if request.url.path.startswith("/api/"):
        # Paths no route matches (a %0A in a path parameter defeats every route pattern): Management shape.
        code = "inexistent_route" if exc.status_code == 404 else "invalid_request"
        management = {"statusCode": exc.status_code, "error": _TITLES.get(exc.status_code, "Error")}
        management.update({"message": str(exc.detail), "errorCode": code})
        return JSONResponse(management, status_code=exc.status_code, headers=exc.headers)
    return JSONResponse(
        {"error": _TITLES.get(exc.status_code, "error"), "error_description": exc.detail},
        status_code=exc.status_code,
        headers=exc.headers,
    )


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse({"error": "server_error", "error_description": "Internal error."}, status_code=500)
