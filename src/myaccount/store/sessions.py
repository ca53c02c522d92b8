"""Browser sessions, /authorize transactions and `auth_session`s (single-use ceremony state)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from myaccount.store.raw import Connectable, RawStatement, sqlalchemy_connection
from myaccount.store.schema import auth_sessions, login_sessions, login_transactions
from myaccount.timefmt import utc_fields

__all__ = ["AuthSessionRecord", "LoginSession", "LoginTransaction", "SessionStore"]

# The auth_session statements run on every enrollment and verify: built once, run on the cursor (store/raw.py).
_a = auth_sessions.c
_AUTH_SESSION = RawStatement(select(auth_sessions).where(_a.id == bindparam("id")))
_CONSUME_AUTH_SESSION = RawStatement(
    update(auth_sessions).where(_a.id == bindparam("id"), _a.consumed_at.is_(None)).values(consumed_at=bindparam("now"))
)
_RESERVE_ATTEMPT = RawStatement(
    update(auth_sessions)
    .where(_a.id == bindparam("id"), _a.consumed_at.is_(None), _a.attempts < bindparam("limit"))
    .values(attempts=_a.attempts + 1)
)


@dataclass(frozen=True, slots=True)
class LoginSession:
    id: str
    user_id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    auth_time: datetime
    amr: list[str]
    mfa_time: datetime | None
    revoked_at: datetime | None
    ip: str | None
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class LoginTransaction:
    id: str
    client_id: str
    params: dict[str, Any]
    csrf_token: str
    state: dict[str, Any]
    created_at: datetime
    expires_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class AuthSessionRecord:
    id: str
    user_id: str | None
    client_id: str
    kind: str
    method_type: str | None
    method_id: str | None
    state: str  # sealed
    attempts: int
    created_at: datetime
    expires_at: datetime
    consumed_at: datetime | None


_ADD_AUTH_SESSION = RawStatement(
    insert(auth_sessions).values({name: bindparam(name) for name in AuthSessionRecord.__dataclass_fields__})
)


class SessionStore:
    def __init__(self, conn: Connectable) -> None:
        self._conn = conn

    @property
    def _sa(self) -> Connection:
        return sqlalchemy_connection(self._conn)

    # browser sessions
    def add_login_session(self, session: LoginSession) -> None:
        values = {f: getattr(session, f) for f in LoginSession.__dataclass_fields__}
        self._sa.execute(insert(login_sessions).values(**values))

    def login_session(self, session_id: str) -> LoginSession | None:
        row = self._sa.execute(select(login_sessions).where(login_sessions.c.id == session_id)).mappings().first()
        if not row:
            return None
        return LoginSession(
            **utc_fields(row, "created_at", "last_seen_at", "expires_at", "auth_time", "mfa_time", "revoked_at")
        )

    def touch_login_session(self, session_id: str, *, now: datetime, **values: Any) -> None:
        self._sa.execute(
            update(login_sessions).where(login_sessions.c.id == session_id).values(last_seen_at=now, **values)
        )

    def revoke_login_session(self, session_id: str, *, now: datetime) -> None:
        self._sa.execute(update(login_sessions).where(login_sessions.c.id == session_id).values(revoked_at=now))

    def revoke_user_sessions(self, user_id: str, *, now: datetime) -> None:
        self._sa.execute(
            update(login_sessions)
            .where(login_sessions.c.user_id == user_id, login_sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    # /authorize transactions
    def add_transaction(self, txn: LoginTransaction) -> None:
        values = {f: getattr(txn, f) for f in LoginTransaction.__dataclass_fields__}
        self._sa.execute(insert(login_transactions).values(**values))

    def transaction(self, txn_id: str) -> LoginTransaction | None:
        row = self._sa.execute(select(login_transactions).where(login_transactions.c.id == txn_id)).mappings().first()
        return LoginTransaction(**utc_fields(row, "created_at", "expires_at", "completed_at")) if row else None

    def update_transaction_state(self, txn_id: str, state: dict[str, Any]) -> None:
        self._sa.execute(update(login_transactions).where(login_transactions.c.id == txn_id).values(state=state))

    def complete_transaction(self, txn_id: str, *, now: datetime) -> bool:
        result = self._sa.execute(
            update(login_transactions)
            .where(login_transactions.c.id == txn_id, login_transactions.c.completed_at.is_(None))
            .values(completed_at=now)
        )
        return result.rowcount == 1

    # auth_sessions
    def add_auth_session(self, record: AuthSessionRecord) -> None:
        _ADD_AUTH_SESSION.execute(self._conn, {f: getattr(record, f) for f in AuthSessionRecord.__dataclass_fields__})

    def auth_session(self, session_id: str) -> AuthSessionRecord | None:
        rows = _AUTH_SESSION.rows(self._conn, {"id": session_id})
        return AuthSessionRecord(**utc_fields(rows[0], "created_at", "expires_at", "consumed_at")) if rows else None

    def consume_auth_session(self, session_id: str, *, now: datetime) -> bool:
        return _CONSUME_AUTH_SESSION.execute(self._conn, {"id": session_id, "now": now}) == 1

    def reserve_auth_session_attempt(self, session_id: str, *, limit: int) -> bool:
        """Take one attempt if the session is unconsumed and has fewer than `limit`: one conditional UPDATE."""
        return _RESERVE_ATTEMPT.execute(self._conn, {"id": session_id, "limit": limit}) == 1

    def update_auth_session(self, session_id: str, *, state: str | None = None, attempts: int | None = None) -> None:
        values: dict[str, Any] = {}
        if state is not None:
            values["state"] = state
        if attempts is not None:
            values["attempts"] = attempts
        if values:
            self._sa.execute(update(auth_sessions).where(auth_sessions.c.id == session_id).values(**values))

    def purge(self, *, now: datetime) -> int:
        total = self._sa.execute(delete(auth_sessions).where(auth_sessions.c.expires_at < now)).rowcount
        total += self._sa.execute(delete(login_transactions).where(login_transactions.c.expires_at < now)).rowcount
        total += self._sa.execute(delete(login_sessions).where(login_sessions.c.expires_at < now)).rowcount
        return int(total)
