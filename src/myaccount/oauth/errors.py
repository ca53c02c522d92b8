"""OAuth 2.0 errors, RFC 6749 §5.2 shape: `{"error", "error_description"}` with the status each one carries."""

from typing import Any, ClassVar

__all__ = [
    "AccessDenied",
    "InvalidClient",
    "InvalidGrant",
    "InvalidRequest",
    "InvalidScope",
    "InvalidToken",
    "MfaRequired",
    "OAuthError",
    "ServerError",
    "TooManyRequests",
    "UnauthorizedClient",
    "UnmetAuthenticationRequirements",
    "UnsupportedGrantType",
    "UnsupportedResponseType",
]


class OAuthError(Exception):
    error: ClassVar[str] = "invalid_request"
    status: ClassVar[int] = 400

    def __init__(self, description: str = "", *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(description or self.error)
        self.description = description
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "error_description": self.description}
        body.update(self.extra)
        return body

    def headers(self) -> dict[str, str]:
        return {}


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidClient(OAuthError):
    """RFC 6749 §5.2: 401, with `WWW-Authenticate` when the client tried HTTP Basic."""

    error = "invalid_client"
    status = 401

    def __init__(self, description: str = "", *, basic: bool = False) -> None:
        super().__init__(description)
        self.basic = basic

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Basic realm="oauth", error="invalid_client"'} if self.basic else {}


class InvalidGrant(OAuthError):
    error = "invalid_grant"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"
    status = 403


class UnsupportedGrantType(OAuthError):
    error = "unsupported_grant_type"


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class AccessDenied(OAuthError):
    error = "access_denied"
    status = 403


class MfaRequired(OAuthError):
    error = "mfa_required"
    status = 403


class UnmetAuthenticationRequirements(OAuthError):
    error = "unmet_authentication_requirements"
    status = 403


class TooManyRequests(OAuthError):
    error = "too_many_attempts"
    status = 429

    def __init__(self, description: str = "", *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after else {}


class InvalidToken(OAuthError):
    """A bearer token that fails verification (RFC 6750 §3.1)."""

    error = "invalid_token"
    status = 401


class InvalidDpopProof(OAuthError):
    """RFC 9449 §5: a token request's DPoP proof was refused (or, with `use_dpop_nonce`, needs a nonce)."""

    error = "invalid_dpop_proof"


class UseDpopNonce(OAuthError):
    error = "use_dpop_nonce"


class ServerError(OAuthError):
    error = "server_error"
    status = 500
