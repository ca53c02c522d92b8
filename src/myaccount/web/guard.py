"""Access-token guard for our own APIs: RFC 6750 Bearer tokens and RFC 9449 DPoP-bound tokens.

- `Authorization: Bearer <token>`: refused for a DPoP-bound token (it has `cnf.jkt`), and for an API that
  requires DPoP.
- `Authorization: DPoP <token>` with a `DPoP` proof: the proof must verify for this request (method, URL,
  `ath` of this token, nonce when required) and its key must be the one in the token's `cnf.jkt`.
Then: the audience, and the scope the operation needs.
"""

from starlette.requests import Request

from myaccount.core import Core
from myaccount.errors import InsufficientScope, Unauthorized
from myaccount.oauth.dpop import ASYMMETRIC, DpopError, verify_proof
from myaccount.oauth.errors import InvalidToken
from myaccount.oauth.tokens import AccessClaims
from myaccount.web.http import core_of

__all__ = ["bearer_token", "dpop_nonce_headers", "require_token"]

_ALGS = " ".join(sorted(ASYMMETRIC))


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme not in ("bearer", "dpop") or not value.strip():
        return None
    return scheme, value.strip()


def _challenge(scheme: str, error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
    parts = [f'{scheme} realm="myaccount"']
    if scheme == "DPoP":
        parts.append(f'algs="{_ALGS}"')
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append('error_description="' + description.replace('"', "'") + '"')
    if scope:
        parts.append(f'scope="{scope}"')
    return ", ".join(parts)


def dpop_nonce_headers(core: Core) -> dict[str, str]:
    """A fresh nonce on every answer when nonces are required, so clients can keep up (RFC 9449 §8.2)."""
    if not core.settings.dpop_require_nonce:
        return {}
    return {"DPoP-Nonce": core.dpop_nonces.issue(core.clock.now().timestamp())}


def _requires_dpop(core: Core, audience: str) -> bool:
    api = core.api(audience)
    return bool(api is not None and (api.proof_of_possession or {}).get("required"))


def require_token(request: Request, *, audience: str, scope: str | None) -> AccessClaims:
    """Verify the request's access token for `audience` and `scope`, or raise a 401/403 problem."""
    core = core_of(request)
    credentials = _credentials(request)
    dpop_required = _requires_dpop(core, audience)
    scheme_name = "DPoP" if dpop_required or (credentials and credentials[0] == "dpop") else "Bearer"
    if credentials is None:
        raise Unauthorized("Missing or invalid token.", headers={"WWW-Authenticate": _challenge(scheme_name)})
    scheme, token = credentials
    core.keyring.maybe_reload()
    try:
        claims = core.tokens.verify_access_token(token, audience=audience)
    except InvalidToken as exc:
        raise Unauthorized(
            exc.description or "Invalid token.",
            headers={"WWW-Authenticate": _challenge(scheme_name, "invalid_token", exc.description)},
        ) from exc
    cnf = claims.claims.get("cnf")
    bound = cnf.get("jkt") if isinstance(cnf, dict) else None
    if scheme == "bearer":
        if bound:
            raise Unauthorized(
                "This token is DPoP-bound: present it with the DPoP scheme and a proof.",
                headers={
                    "WWW-Authenticate": _challenge("DPoP", "invalid_token", "DPoP-bound token presented as Bearer")
                },
            )
        if dpop_required:
            raise Unauthorized(
                "This API accepts only DPoP-bound tokens.",
                headers={"WWW-Authenticate": _challenge("DPoP", "invalid_token", "DPoP-bound token required")},
            )
    else:
        proofs = request.headers.getlist("dpop")
        try:
            proof = verify_proof(
                proofs[0] if len(proofs) == 1 else ("," if proofs else None),
                method=request.method,
                url=core.settings.origin
                + (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1"),
                now=core.clock.now().timestamp(),
                replay=core.dpop_replay,
                nonces=core.dpop_nonces,
                require_nonce=core.settings.dpop_require_nonce,
                access_token=token,
                iat_window=core.settings.dpop_iat_window_seconds,
            )
        except DpopError as exc:
            raise Unauthorized(
                exc.description,
                headers={
                    "WWW-Authenticate": _challenge("DPoP", exc.error, exc.description),
                    **dpop_nonce_headers(core),
                },
            ) from exc
        if not bound or proof.jkt != bound:
            raise Unauthorized(
                "The DPoP proof's key does not match the token's binding (cnf.jkt).",
                headers={"WWW-Authenticate": _challenge("DPoP", "invalid_dpop_proof", "key mismatch with cnf.jkt")},
            )
    if scope is not None and scope not in claims.scopes:
        raise InsufficientScope(
            f"Insufficient scope, expected: {scope}",
            headers={"WWW-Authenticate": _challenge(scheme_name, "insufficient_scope", scope=scope)},
        )
    return claims
