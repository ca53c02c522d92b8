"""Bearer-token guard for our own APIs (RFC 6750): which token, for which audience, with which scope."""

from starlette.requests import Request

from myaccount.errors import InsufficientScope, Unauthorized
from myaccount.oauth.errors import InvalidToken
from myaccount.oauth.tokens import AccessClaims
from myaccount.web.http import core_of

__all__ = ["bearer_token", "require_token"]


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _challenge(error: str | None = None, description: str | None = None, scope: str | None = None) -> str:
    parts = ['Bearer realm="myaccount"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append('error_description="' + description.replace('"', "'") + '"')
    if scope:
        parts.append(f'scope="{scope}"')
    return ", ".join(parts)


def require_token(request: Request, *, audience: str, scope: str | None) -> AccessClaims:
    """Verify the request's bearer token for `audience` and `scope`, or raise a 401/403 problem."""
    token = bearer_token(request)
    if token is None:
        raise Unauthorized("Missing or invalid token.", headers={"WWW-Authenticate": _challenge()})
    core = core_of(request)
    core.keyring.maybe_reload()
    try:
        claims = core.tokens.verify_access_token(token, audience=audience)
    except InvalidToken as exc:
        raise Unauthorized(
            exc.description or "Invalid token.",
            headers={"WWW-Authenticate": _challenge("invalid_token", exc.description)},
        ) from exc
    if scope is not None and scope not in claims.scopes:
        raise InsufficientScope(
            f"Insufficient scope, expected: {scope}",
            headers={"WWW-Authenticate": _challenge("insufficient_scope", scope=scope)},
        )
    return claims
