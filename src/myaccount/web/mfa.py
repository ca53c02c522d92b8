"""Auth0's MFA API endpoints: `POST /mfa/challenge` and `GET /mfa/authenticators` (bearer: the mfa_token)."""

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from myaccount import auth_sessions
from myaccount.mfa import MfaError, SecondFactors
from myaccount.oauth.clients import authenticate_client
from myaccount.oauth.errors import InvalidRequest, OAuthError, TooManyRequests
from myaccount.oauth.grants.mfa import load_mfa_session
from myaccount.policy.abuse import Abuse, TooManyAttempts
from myaccount.store.clients import ClientStore
from myaccount.web.guard import bearer_token
from myaccount.web.http import basic_credentials, caller_of, core_of, read_params

__all__ = ["routes"]

_NO_STORE = {"Cache-Control": "no-store"}


class UnsupportedChallengeType(OAuthError):
    error = "unsupported_challenge_type"


async def challenge(request: Request) -> Response:
    params: dict[str, Any] = {k: v for k, v in (await read_params(request)).items() if isinstance(v, str)}
    core = core_of(request)
    with core.db.read() as conn:
        client = authenticate_client(
            ClientStore(conn),
            core.sealer,
            client_id=params.get("client_id"),
            client_secret=params.get("client_secret"),
            basic=basic_credentials(request),
        )
    opened = load_mfa_session(core, client, params.get("mfa_token"))
    user_id = opened.record.user_id or ""
    factors = SecondFactors(core)
    wanted = set((params.get("challenge_type") or "otp oob").split())
    if not wanted <= {"otp", "oob"}:
        raise UnsupportedChallengeType("challenge_type must be otp and/or oob.")
    allowed = set(opened.state.get("factors") or [])
    options = [o for o in factors.options(user_id) if not allowed or o.type in allowed]
    authenticator_id = params.get("authenticator_id")
    if authenticator_id:
        options = [o for o in options if o.method_id == authenticator_id]
        if not options:
            raise InvalidRequest("Unknown authenticator_id.")
    otp = [o for o in options if o.type == "totp"]
    oob = [o for o in options if o.type in ("phone", "email", "push-notification")]
    if "otp" in wanted and otp and (not oob or "oob" not in wanted or authenticator_id):
        return JSONResponse({"challenge_type": "otp"}, headers=_NO_STORE)
    if "oob" not in wanted or not oob:
        raise UnsupportedChallengeType("The user has no authenticator for the requested challenge type.")
    option = oob[0]
    method = factors.method(user_id, option.method_id)
    oob_code = auth_sessions_token()
    entry: dict[str, Any]
    body: dict[str, Any] = {"challenge_type": "oob", "oob_code": oob_code}
    if method.type == "push-notification":
        from myaccount import push

        entry = {
            "push_challenge": push.create_challenge(
                core,
                user_id,
                client_id=client.client_id,
                binding={"client": client.name, "ip": request.client.host if request.client else None},
            )
        }
    else:
        try:
            Abuse(core).code_send(caller_of(request), user_id)
            entry = {"code": await factors.send_code(method, channel=params.get("oob_channel"))}
        except TooManyAttempts as exc:
            raise TooManyRequests(exc.detail, retry_after=exc.retry_after) from exc
        except MfaError as exc:
            raise OAuthError(exc.detail) from exc
        body["binding_method"] = "prompt"
    with core.db.write() as conn:
        state = dict(opened.state)
        state.setdefault("oob", {})[core.fingerprint(oob_code, purpose="oob-code")] = entry
        auth_sessions.save_state(core, conn, opened.record, state)
    return JSONResponse(body, headers=_NO_STORE)


def auth_sessions_token() -> str:
    from myaccount.ids import token

    return token(24)


async def authenticators(request: Request) -> Response:
    core = core_of(request)
    raw = bearer_token(request)
    with core.db.read() as conn:
        opened = auth_sessions.load(core, conn, raw)
    if opened is None or opened.record.kind != "mfa":
        return JSONResponse(
            {"error": "invalid_token", "error_description": "The mfa_token is invalid or expired."}, status_code=401
        )
    options = SecondFactors(core).options(opened.record.user_id or "")
    return JSONResponse([o.as_authenticator() for o in options], headers=_NO_STORE)


routes = [
    Route("/mfa/challenge", challenge, methods=["POST"]),
    Route("/mfa/authenticators", authenticators, methods=["GET"]),
]
