"""Authorization codes and refresh tokens: stored as keyed hashes, consumed and rotated atomically.

Single use is a conditional UPDATE (`… WHERE consumed_at IS NULL`): of any number of concurrent attempts, on one
node or many, exactly one sees rowcount 1.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from myaccount.store.schema import authorization_codes, refresh_tokens, revoked_access_tokens
from myaccount.timefmt import utc_fields

__all__ = ["AuthorizationCode", "GrantStore", "RefreshToken"]


@dataclass(frozen=True, slots=True)
class AuthorizationCode:
    code_hash: str
    client_id: str
    user_id: str
    session_id: str | None
    redirect_uri: str
    audience: str | None
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: datetime
    amr: list[str]
    mfa_time: datetime | None
    created_at: datetime
    expires_at: datetime
    consumed_at: datetime | None = None
    refresh_family_id: str | None = None
    access_token_jti: str | None = None
    claims: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RefreshToken:
    id: str
    token_hash: str
    family_id: str
    client_id: str
    user_id: str
    audience: str | None
    scope: str
    amr: list[str]
    auth_time: datetime
    mfa_time: datetime | None
    session_id: str | None
    dpop_jkt: str | None
    created_at: datetime
    expires_at: datetime
    family_expires_at: datetime
    rotated_at: datetime | None = None
    revoked_at: datetime | None = None
    replaced_by: str | None = None


_CODE_TIMES = ("auth_time", "mfa_time", "created_at", "expires_at", "consumed_at")
_RT_TIMES = ("auth_time", "mfa_time", "created_at", "expires_at", "family_expires_at", "rotated_at", "revoked_at")


class GrantStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # authorization codes
    def add_code(self, code: AuthorizationCode) -> None:
        values = {f: getattr(code, f) for f in AuthorizationCode.__dataclass_fields__}
        self._conn.execute(insert(authorization_codes).values(**values))

    def code(self, code_hash: str) -> AuthorizationCode | None:
        query = select(authorization_codes).where(authorization_codes.c.code_hash == code_hash)
        row = self._conn.execute(query).mappings().first()
        return AuthorizationCode(**utc_fields(row, *_CODE_TIMES)) if row else None

    def consume_code(self, code_hash: str, *, now: datetime) -> bool:
        result = self._conn.execute(
            update(authorization_codes)
            .where(authorization_codes.c.code_hash == code_hash, authorization_codes.c.consumed_at.is_(None))
            .values(consumed_at=now)
        )
        return result.rowcount == 1

    def link_code(self, code_hash: str, *, refresh_family_id: str | None, access_token_jti: str) -> None:
        self._conn.execute(
            update(authorization_codes)
            .where(authorization_codes.c.code_hash == code_hash)
            .values(refresh_family_id=refresh_family_id, access_token_jti=access_token_jti)
        )

    # refresh tokens
    def add_refresh(self, token: RefreshToken) -> None:
        values = {f: getattr(token, f) for f in RefreshToken.__dataclass_fields__}
        self._conn.execute(insert(refresh_tokens).values(**values))

    def refresh(self, token_hash: str) -> RefreshToken | None:
        row = self._conn.execute(select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)).mappings()
        first = row.first()
        return RefreshToken(**utc_fields(first, *_RT_TIMES)) if first else None

    def rotate(self, token_id: str, *, replaced_by: str, now: datetime) -> bool:
        result = self._conn.execute(
            update(refresh_tokens)
            .where(
                refresh_tokens.c.id == token_id,
                refresh_tokens.c.rotated_at.is_(None),
                refresh_tokens.c.revoked_at.is_(None),
            )
            .values(rotated_at=now, replaced_by=replaced_by)
        )
        return result.rowcount == 1

    def revoke_family(self, family_id: str, *, now: datetime) -> int:
        result = self._conn.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount)

    def revoke_for_user(self, user_id: str, *, now: datetime, client_id: str | None = None) -> int:
        query = update(refresh_tokens).where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
        if client_id:
            query = query.where(refresh_tokens.c.client_id == client_id)
        return int(self._conn.execute(query.values(revoked_at=now)).rowcount)

    # access tokens revoked before their expiry (a reused authorization code)
    def revoke_access_token(self, jti: str, *, expires_at: datetime) -> None:
        exists = self._conn.execute(select(revoked_access_tokens.c.jti).where(revoked_access_tokens.c.jti == jti))
        if exists.first() is None:
            self._conn.execute(insert(revoked_access_tokens).values(jti=jti, expires_at=expires_at))

    def revoked_jtis(self, *, now: datetime) -> set[str]:
        query = select(revoked_access_tokens.c.jti).where(revoked_access_tokens.c.expires_at > now)
        return set(self._conn.execute(query).scalars())

    def purge(self, *, now: datetime) -> int:
        total = 0
        total += self._conn.execute(delete(authorization_codes).where(authorization_codes.c.expires_at < now)).rowcount
        total += self._conn.execute(delete(refresh_tokens).where(refresh_tokens.c.family_expires_at < now)).rowcount
        total += self._conn.execute(
            delete(revoked_access_tokens).where(revoked_access_tokens.c.expires_at < now)
        ).rowcount
        return total
