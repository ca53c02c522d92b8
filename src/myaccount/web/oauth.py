"""Token server endpoints: `/oauth/token`, `/oauth/revoke`, `/userinfo`, discovery and JWKS."""

from dataclasses import replace
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from myaccount.errors import Problem
from myaccount.oauth.clients import authenticate_client
from myaccount.oauth.dpop import DpopError, verify_proof
from myaccount.oauth.errors import InvalidRequest, OAuthError
from myaccount.oauth.issuance import REFRESH_PURPOSE, user_claims
from myaccount.oauth.token_endpoint import GRANTS, token_request
from myaccount.store.clients import ClientStore
from myaccount.store.grants import GrantStore
from myaccount.store.users import UserStore
from myaccount.web.guard import dpop_nonce_headers, require_token
from myaccount.web.http import FastJSONResponse, basic_credentials, caller_of, core_of, read_params

__all__ = ["routes"]

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


# The only parameters a grant takes as a JSON object (the webauthn grant's authenticator answer).
_OBJECT_PARAMS = frozenset({"authn_response"})


def _strings(params: dict[str, Any]) -> dict[str, str]:
    """Token parameters are strings; a JSON body may carry objects only where a grant expects them."""
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue  # auth0-python sends unset optional parameters as JSON null
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, bool):
            raise InvalidRequest(f"Parameter '{key}' must be a string.")
        elif isinstance(value, int | float):
            out[key] = str(value)
        elif key in _OBJECT_PARAMS:
            out[key] = value  # the webauthn grant reads it as an object, and says so when it is not one
        else:
            # Found by the fuzz suite: an object as client_id or token reached the database (500).
            raise InvalidRequest(f"Parameter '{key}' must be a string.")
    return out


async def token(request: Request) -> Response:
    params = _strings(await read_params(request))
    core = core_of(request)
    caller = caller_of(request)
    proofs = request.headers.getlist("dpop")
    if proofs:
        try:
            proof = verify_proof(
                proofs[0] if len(proofs) == 1 else ",",
                method="POST",
                url=core.settings.origin + "/oauth/token",
                now=core.clock.now().timestamp(),
                replay=core.dpop_replay,
                nonces=core.dpop_nonces,
                require_nonce=core.settings.dpop_require_nonce,
                iat_window=core.settings.dpop_iat_window_seconds,
            )
        except DpopError as exc:
            return JSONResponse(
                {"error": exc.error, "error_description": exc.description},
                status_code=400,
                headers={**_NO_STORE, **dpop_nonce_headers(core)},
            )
        caller = replace(caller, dpop_jkt=proof.jkt)
    cors_origin = request.scope.get("state", {}).get("cors_origin")
    if cors_origin and params.get("grant_type") in ("password", "http://auth0.com/oauth/grant-type/password-realm"):
        _check_cross_origin_authentication(request, params.get("client_id"), cors_origin)
    try:
        body = await run_in_threadpool(token_request, core, params, basic=basic_credentials(request), caller=caller)
    except OAuthError as exc:
        return JSONResponse(
            exc.body(), status_code=exc.status, headers={**_NO_STORE, **exc.headers(), **dpop_nonce_headers(core)}
        )
    return FastJSONResponse(body, headers={**_NO_STORE, **dpop_nonce_headers(core)})


def _check_cross_origin_authentication(request: Request, client_id: str | None, origin: str) -> None:
    """Auth0's switch: passwords may be posted from another origin only for clients that allow it."""
    with core_of(request).db.read() as conn:
        client = ClientStore(conn).get(client_id or "")
    if client is None or not client.cross_origin_authentication:
        raise OAuthError("Cross origin login not allowed for this client.")


async def revoke(request: Request) -> Response:
    """RFC 7009: revoke a refresh token (its whole family). Unknown tokens answer 200 as well (§2.2)."""
    params = _strings(await read_params(request))
    core = core_of(request)
    raw = params.get("token")
    if not raw:
        raise InvalidRequest("Missing required parameter: token")

    def work() -> None:
        with core.db.write() as conn:
            client = authenticate_client(
                ClientStore(conn),
                core.sealer,
                client_id=params.get("client_id"),
                client_secret=params.get("client_secret"),
                basic=basic_credentials(request),
            )
            grants = GrantStore(conn)
            stored = grants.refresh(core.fingerprint(raw, purpose=REFRESH_PURPOSE))
            if stored is not None and stored.client_id == client.client_id:
                grants.revoke_family(stored.family_id, now=core.clock.now())

    await run_in_threadpool(work)
    return Response(status_code=200)


async def userinfo(request: Request) -> Response:
    """OIDC Core §5.3, for access tokens whose audience includes `{origin}/userinfo` (Bearer or DPoP)."""
    core = core_of(request)
    try:
        claims = require_token(request, audience=core.settings.userinfo_url, scope="openid")
    except Problem as exc:
        error = "insufficient_scope" if exc.status == 403 else "invalid_token"
        return JSONResponse(
            {"error": error, "error_description": exc.detail}, status_code=exc.status, headers=exc.headers
        )
    with core.db.raw_read() as conn:  # one prebuilt statement: no SQLAlchemy Connection around it
        user = UserStore(conn).get(claims.subject)
    if user is None or user.blocked:
        return JSONResponse(
            {"error": "invalid_token", "error_description": "Unknown user."},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="myaccount", error="invalid_token"'},
        )
    body = {"sub": user.id, **user_claims(user, claims.scopes)}
    return FastJSONResponse(body, headers={**_NO_STORE, **dpop_nonce_headers(core)})


async def openid_configuration(request: Request) -> Response:
    settings = core_of(request).settings
    origin = settings.origin
    return JSONResponse(
        {
            "issuer": settings.issuer,
            "authorization_endpoint": f"{origin}/authorize",
            "token_endpoint": f"{origin}/oauth/token",
            "userinfo_endpoint": f"{origin}/userinfo",
            "jwks_uri": f"{origin}/.well-known/jwks.json",
            "revocation_endpoint": f"{origin}/oauth/revoke",
            "end_session_endpoint": f"{origin}/oidc/logout",
            "scopes_supported": ["openid", "profile", "email", "phone", "offline_access"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "form_post"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": sorted(GRANTS),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
            "claims_supported": [
                "aud",
                "auth_time",
                "email",
                "email_verified",
                "exp",
                "family_name",
                "given_name",
                "iat",
                "iss",
                "name",
                "nickname",
                "picture",
                "sub",
                "sid",
                "nonce",
                "amr",
            ],
            "request_uri_parameter_supported": False,
        },
        headers={"Cache-Control": "public, max-age=60"},
    )


async def jwks(request: Request) -> Response:
    core = core_of(request)
    core.keyring.maybe_reload()
    return JSONResponse(core.keyring.jwks(), headers={"Cache-Control": "public, max-age=60"})


routes = [
    Route("/oauth/token", token, methods=["POST"]),
    Route("/oauth/revoke", revoke, methods=["POST"]),
    Route("/userinfo", userinfo, methods=["GET", "POST"]),
    Route("/.well-known/openid-configuration", openid_configuration, methods=["GET"]),
    Route("/.well-known/jwks.json", jwks, methods=["GET"]),
]
