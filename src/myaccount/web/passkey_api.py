"""Auth0's Native Passkey API endpoints: `POST /passkey/register` and `POST /passkey/challenge`.

Errors are OAuth-shaped (`{error, error_description}`), as Auth0's Authentication API answers them and as the
SDKs read them (auth0-auth-js `PasskeyApiErrorResponse`). The token exchange is `/oauth/token` (web/oauth.py).
"""

from collections.abc import Callable, Mapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from myaccount import passkey_api
from myaccount.audit import Caller
from myaccount.core import Core
from myaccount.oauth.errors import TooManyRequests
from myaccount.policy.abuse import Abuse, TooManyAttempts
from myaccount.web.http import basic_credentials, caller_of, core_of, read_params

__all__ = ["routes"]

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

UseCase = Callable[..., dict[str, Any]]


async def _answer(request: Request, use_case: UseCase) -> Response:
    params: Mapping[str, Any] = await read_params(request)
    core: Core = core_of(request)
    caller: Caller = caller_of(request)
    body = await run_in_threadpool(use_case, core, params, basic=basic_credentials(request), caller=caller)
    return JSONResponse(body, headers=_NO_STORE)


async def register(request: Request) -> Response:
    """https://auth0.com/docs/api/authentication/passkey/register (contracts §6.1)."""
    try:
        Abuse(core_of(request)).signup(caller_of(request))
    except TooManyAttempts as exc:
        raise TooManyRequests(exc.detail, retry_after=exc.retry_after) from exc
    return await _answer(request, passkey_api.signup_challenge)


async def challenge(request: Request) -> Response:
    """https://auth0.com/docs/api/authentication/passkey/challenge (contracts §6.2)."""
    return await _answer(request, passkey_api.login_challenge)


routes = [
    Route("/passkey/register", register, methods=["POST"]),
    Route("/passkey/challenge", challenge, methods=["POST"]),
]
