"""Passwords: argon2id with OWASP's minimum parameters (m=19 MiB, t=2, p=1), about 30 ms per hash here."""

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["PasswordHashing"]


class PasswordHashing:
    def __init__(self, *, memory_cost: int = 19 * 1024, time_cost: int = 2, parallelism: int = 1) -> None:
        self._hasher = PasswordHasher(memory_cost=memory_cost, time_cost=time_cost, parallelism=parallelism)
        # Checked when the user does not exist, so that the answer takes as long either way.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, hashed: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(hashed or self._dummy, password) and hashed is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, hashed: str) -> bool:
        return self._hasher.check_needs_rehash(hashed)
