"""What every authentication-method module shares: the type names Auth0 uses and the two-step enrollment shape.

A method module never reads a request, a session or a global: it receives what it needs (user facts, the
state it handed out at `begin`, a clock) and returns plain values. The use cases in `my_account.py` keep the
state (sealed, in an `auth_session`) and store what a finished enrollment returns.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = ["Challenge", "Enrolled", "MethodError", "MethodType", "Subject"]


class MethodType(StrEnum):
    PASSWORD = "password"
    PASSKEY = "passkey"
    WEBAUTHN_PLATFORM = "webauthn-platform"
    WEBAUTHN_ROAMING = "webauthn-roaming"
    TOTP = "totp"
    PHONE = "phone"
    EMAIL = "email"
    PUSH = "push-notification"
    RECOVERY_CODE = "recovery-code"


PRIMARY_TYPES = frozenset({MethodType.PASSWORD, MethodType.PASSKEY})


@dataclass(frozen=True, slots=True)
class Subject:
    """The facts about a user that enrollment needs."""

    user_id: str
    email: str | None
    name: str | None
    webauthn_user_handle: bytes  # random, 32+ bytes, stable per user; never the user id itself


@dataclass(frozen=True, slots=True)
class Challenge:
    """First half of an enrollment: `public` goes to the client, `state` stays on the server (sealed)."""

    public: dict[str, Any]
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Enrolled:
    """What a finished enrollment leaves to store.

    `data` holds the public, per-type fields (stored as JSON, shown through the API); `secret` is sealed at rest
    and never sent to a client; `credential_id` is set for WebAuthn credentials (unique, used at sign-in).
    """

    name: str | None
    data: dict[str, Any] = field(default_factory=dict)
    secret: dict[str, Any] | None = None
    credential_id: str | None = None


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One entry of `validation_errors`: RFC 6901 `pointer` into the request body, and a message."""

    detail: str
    pointer: str | None = None
    field: str | None = None


class MethodError(Exception):
    """A proof did not check out (wrong code, bad attestation, …). Rendered as 400 with validation_errors."""

    def __init__(self, detail: str, *, problems: tuple[FieldProblem, ...] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.problems = problems
