"""Management API errors: the `admin` error family with an Auth0 `errorCode` attached.

`web/management.py` renders them as `{statusCode, error, message, errorCode}` (contracts/auth0-wire-notes.md §9).
Errors raised by `admin` itself carry no code; the renderer then picks one from the status.
"""

from myaccount.admin import AdminError, Conflict, NotFound

__all__ = ["Exists", "Invalid", "Missing", "Unsupported", "error_code"]


class Invalid(AdminError):
    """400: the body or the query string is not acceptable."""

    def __init__(self, message: str, *, code: str = "invalid_body") -> None:
        super().__init__(message)
        self.error_code = code


class Unsupported(Invalid):
    """400: a valid Auth0 request this server does not implement (say which, rather than ignore it)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="operation_not_supported")


class Missing(NotFound):
    """404, with Auth0's `inexistent_<thing>` code."""

    def __init__(self, message: str, *, code: str = "inexistent_resource") -> None:
        super().__init__(message)
        self.error_code = code


class Exists(Conflict):
    """409."""

    def __init__(self, message: str, *, code: str = "conflict") -> None:
        super().__init__(message)
        self.error_code = code


def error_code(exc: AdminError) -> str:
    code = getattr(exc, "error_code", None)
    if isinstance(code, str):
        return code
    if isinstance(exc, NotFound):
        return "inexistent_resource"
    if isinstance(exc, Conflict):
        return "conflict"
    return "invalid_body"
