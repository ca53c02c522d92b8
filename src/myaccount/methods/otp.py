"""One-time codes sent by email, SMS or voice (Auth0 types `email` and `phone`), independent of the channel.

`issue` makes a code and the state to keep (a keyed hash, never the code); `check` compares a typed code against
that state. Every outcome hands back the state to persist, so a wrong guess is counted even when the caller goes on
to answer with an error.
"""

import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from myaccount.clock import Clock
from myaccount.methods.base import FieldProblem, MethodError

__all__ = ["CodeRejected", "OneTimeCodes", "normalize_email", "normalize_phone"]

Reason = Literal["invalid", "expired", "locked", "used"]

_POINTER = "/otp_code"
_MESSAGES: dict[Reason, str] = {
    "invalid": "The code is wrong.",
    "expired": "The code has expired; request a new one.",
    "locked": "Too many wrong codes; request a new one.",
    "used": "The code has already been used; request a new one.",
}


class CodeRejected(MethodError):
    """A code was refused. Persist `state` before answering: it carries the attempt just counted.

    `locked` is true when no later attempt against this state can succeed (expired, used up, or out of attempts):
    the user needs a new code.
    """

    def __init__(self, reason: Reason, *, state: dict[str, Any], locked: bool) -> None:
        detail = _MESSAGES[reason]
        super().__init__(detail, problems=(FieldProblem(detail=detail, pointer=_POINTER, field="otp_code"),))
        self.reason: Reason = reason
        self.state = state
        self.locked = locked


class OneTimeCodes:
    """Numeric codes with an expiry and an attempt limit (NIST SP 800-63B §5.1.3: out-of-band secrets)."""

    def __init__(
        self,
        *,
        clock: Clock,
        fingerprint: Callable[[str], str],
        ttl: timedelta = timedelta(minutes=5),
        max_attempts: int = 5,
        digits: int = 6,
    ) -> None:
        if ttl <= timedelta(0) or max_attempts < 1 or not 6 <= digits <= 10:
            raise ValueError("one-time codes need a positive ttl, at least one attempt and 6-10 digits")
        self._clock = clock
        self._fingerprint = fingerprint
        self.ttl = ttl  # public: the message to the user says how long the code lasts
        self._max_attempts = max_attempts
        self._digits = digits
        self._shape = re.compile(f"[0-9]{{{digits}}}")

    def issue(self) -> tuple[str, dict[str, Any]]:
        """A fresh code to send, and the state to keep with the pending enrollment or sign-in."""
        code = f"{secrets.randbelow(10**self._digits):0{self._digits}d}"
        expires_at = self._clock.now() + self.ttl
        state = {"hash": self._fingerprint(code), "expires_at": expires_at.isoformat(), "attempts": 0, "used": False}
        return code, state

    def check(self, state: Mapping[str, Any], code: str) -> dict[str, Any]:
        """The state after a successful check (marked used, so the code works once).

        Raises `CodeRejected` carrying the state to persist; `MethodError` if `state` is not one `issue` made.
        """
        hashed, expires_at, attempts, used = _read(state)
        current = {"hash": hashed, "expires_at": expires_at.isoformat(), "attempts": attempts, "used": used}
        if used:
            raise CodeRejected("used", state=current, locked=True)
        # The limit is checked before the code, so once locked even the right code is refused.
        if attempts >= self._max_attempts:
            raise CodeRejected("locked", state=current, locked=True)
        if self._clock.now() >= expires_at:
            raise CodeRejected("expired", state=current, locked=True)

        attempts += 1
        well_formed = isinstance(code, str) and self._shape.fullmatch(code) is not None
        # Hash what was typed even when malformed, so a right and a wrong answer take the same path.
        typed = code if isinstance(code, str) and len(code) <= 64 else ""
        matches = hmac.compare_digest(self._fingerprint(typed).encode(), hashed.encode())
        if well_formed and matches:
            return {**current, "attempts": attempts, "used": True}
        after = {**current, "attempts": attempts}
        raise CodeRejected("invalid", state=after, locked=attempts >= self._max_attempts)


def _read(state: Mapping[str, Any]) -> tuple[str, datetime, int, bool]:
    hashed = state.get("hash")
    attempts = state.get("attempts")
    used = state.get("used", False)
    try:
        expires_at = datetime.fromisoformat(str(state.get("expires_at")))
    except ValueError:
        expires_at = None
    if (
        not isinstance(hashed, str)
        or expires_at is None
        or expires_at.tzinfo is None
        or not isinstance(attempts, int)
        or isinstance(attempts, bool)
        or not isinstance(used, bool)
    ):
        raise MethodError("The one-time code state is malformed.")
    return hashed, expires_at, attempts, used


# E.164 (ITU-T): "+", a country code that never starts with 0, at most 15 digits in all. Seven is the shortest
# number in use anywhere (country code included), which also stops obvious typos.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def normalize_phone(number: str) -> str:
    """The number, if it is strict E.164 (`+` and 7-15 ASCII digits); Auth0 stores and shows it that way."""
    if not isinstance(number, str) or not _E164.fullmatch(number):
        detail = "The phone number must be in E.164 format, such as +14155550123."
        raise MethodError(
            detail, problems=(FieldProblem(detail=detail, pointer="/phone_number", field="phone_number"),)
        )
    return number


# RFC 5322 §3.2.3 atext, and dots between atoms (§3.4.1 dot-atom). Quoted local parts are refused: no mail provider
# hands them out, and they are the usual vehicle for header tricks.
_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def normalize_email(address: str) -> str:
    """The address with its domain lowercased, if it looks deliverable: dot-atom local part (RFC 5322 §3.4.1),
    a domain of at least two DNS labels (RFC 1035 §2.3.1, internationalized names via IDNA), 254 octets at most
    (RFC 5321 §4.5.3.1 path limit less the angle brackets)."""
    detail = "The email address is not valid."
    problem = MethodError(detail, problems=(FieldProblem(detail=detail, pointer="/email", field="email"),))
    if not isinstance(address, str):
        raise problem
    address = address.strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or len(local.encode()) > 64 or not _LOCAL.fullmatch(local):
        raise problem
    domain = domain.lower().rstrip(".")
    try:
        ascii_domain = domain.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise problem from exc
    labels = ascii_domain.split(".")
    if (
        len(labels) < 2
        or len(ascii_domain) > 253
        or not all(_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()  # an IP-looking "domain" such as 10.0.0.1
        or len(local) + 1 + len(ascii_domain) > 254
    ):
        raise problem
    return f"{local}@{domain}"
