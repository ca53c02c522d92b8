"""Recovery codes (Auth0 type `recovery-code`): one 24-character code, shown once, kept only as a keyed hash.

Auth0 (and Guardian) show a single 24-character uppercase code such as `ABCDEFGHIJKLMNOPQRSTUVWX`; a used code is
replaced by a new one, which is simply another `begin`.
"""

import hmac
import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from myaccount.methods.base import Challenge, Enrolled, MethodError, MethodType

__all__ = ["ALPHABET", "CODE_LENGTH", "RecoveryCode", "normalize"]

# A-Z and 2-9 without I and O: nothing a reader can take for 1 or 0. 32 symbols = 5 bits each, 120 bits in all.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 24
_SEPARATORS = re.compile(r"[\s\-]+")
_MAX_INPUT = 4 * CODE_LENGTH  # room for any grouping a user might type; longer input cannot be a code


def normalize(candidate: str) -> str:
    """What the user typed, as the code was shown: separators dropped, letters uppercased."""
    return _SEPARATORS.sub("", candidate).upper()


class RecoveryCode:
    """Issue and check recovery codes. `fingerprint` is a keyed hash (e.g. the sealer's HMAC), so this module
    never sees the key and a stolen database alone does not let anyone test guesses offline."""

    type = MethodType.RECOVERY_CODE

    def __init__(self, *, fingerprint: Callable[[str], str]) -> None:
        self._fingerprint = fingerprint

    def begin(self) -> Challenge:
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        return Challenge(public={"recovery_code": code}, state={"hash": self._fingerprint(code)})

    def complete(self, state: Mapping[str, Any]) -> Enrolled:
        """Auth0's verify for this type carries no proof: the user has seen the code, so it is stored."""
        hashed = state.get("hash")
        if not isinstance(hashed, str) or not hashed:
            raise MethodError("The enrollment state holds no recovery code.")
        return Enrolled(name=None, secret={"hash": hashed})

    def check(self, stored_hash: str, candidate: str) -> bool:
        """Whether `candidate` is the code behind `stored_hash`, compared in constant time."""
        if not isinstance(candidate, str) or not isinstance(stored_hash, str) or len(candidate) > _MAX_INPUT:
            return False
        # Hashing first means the comparison sees two fixed-length digests, whatever the user typed.
        return hmac.compare_digest(self._fingerprint(normalize(candidate)).encode(), stored_hash.encode())
