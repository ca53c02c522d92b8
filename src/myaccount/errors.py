"""Errors a My Account or Management API client may see, as data on classes (status, type, title).

The My Account API renders them as `{type, status, title, detail, validation_errors?}` served as
`application/json` (contracts/auth0-wire-notes.md §1); `web/problems.py` is the only place that renders.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "BadRequest",
    "Conflict",
    "FieldError",
    "Forbidden",
    "InsufficientScope",
    "NotFound",
    "PayloadTooLarge",
    "Problem",
    "RateLimited",
    "ReauthenticationRequired",
    "Unauthorized",
    "UnsupportedMediaType",
]

_BASE = "https://auth0.com/api-errors/"


@dataclass(frozen=True, slots=True)
class FieldError:
    detail: str
    pointer: str | None = None
    field: str | None = None
    source: str | None = None


class Problem(Exception):
    status: ClassVar[int] = 400
    type: ClassVar[str] = _BASE + "A0E-400-0001"
    title: ClassVar[str] = "Bad Request"

    def __init__(
        self,
        detail: str = "",
        *,
        validation_errors: Sequence[FieldError] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.validation_errors = list(validation_errors)
        self.headers = headers or {}


class BadRequest(Problem):
    pass


class Unauthorized(Problem):
    status = 401
    type = _BASE + "A0E-401-0001"
    title = "Unauthorized"


class Forbidden(Problem):
    status = 403
    type = _BASE + "A0E-403-0001"
    title = "Forbidden"


class InsufficientScope(Forbidden):
    type = _BASE + "A0E-403-0002"
    title = "Insufficient scope"


class ReauthenticationRequired(Forbidden):
    """Enrolling or deleting a method needs a login or second factor within the recent-authentication window."""

    type = _BASE + "A0E-403-0010"
    title = "Recent authentication required"


class NotFound(Problem):
    status = 404
    type = _BASE + "A0E-404-0001"
    title = "Not Found"


class Conflict(Problem):
    status = 409
    type = _BASE + "A0E-409-0001"
    title = "Conflict"


class PayloadTooLarge(Problem):
    status = 413
    type = _BASE + "A0E-413-0001"
    title = "Payload Too Large"


class UnsupportedMediaType(Problem):
    status = 415
    type = _BASE + "A0E-415-0001"
    title = "Unsupported Media Type"


class RateLimited(Problem):
    status = 429
    type = _BASE + "A0E-429-0001"
    title = "Too Many Requests"
