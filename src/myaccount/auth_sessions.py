"""`auth_session`: the opaque, single-use, short-lived handle on a ceremony's server-side state.

The client holds a random token; we keep its keyed hash, the binding (user, client, kind, method), and the
ceremony state sealed with AES-GCM. Consumption is one conditional UPDATE, so of N concurrent verifies on any
number of nodes exactly one succeeds.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import Connection

from myaccount.core import Core
from myaccount.crypto.sealing import SealError
from myaccount.ids import token
from myaccount.store.raw import Connectable
from myaccount.store.sessions import AuthSessionRecord, SessionStore

__all__ = ["OpenSession", "consume", "load", "open_session", "reserve_attempt", "save_state"]

_PURPOSE = "auth-session"
MAX_TOKEN = 128


@dataclass(frozen=True, slots=True)
class OpenSession:
    record: AuthSessionRecord
    state: dict[str, Any]


def open_session(
    core: Core,
    conn: Connectable,
    *,
    user_id: str | None,
    client_id: str,
    kind: str,
    state: dict[str, Any],
    method_type: str | None = None,
    method_id: str | None = None,
    ttl: timedelta | None = None,
) -> str:
    raw = token(32)
    now = core.clock.now()
    SessionStore(conn).add_auth_session(
        AuthSessionRecord(
            id=core.fingerprint(raw, purpose=_PURPOSE),
            user_id=user_id,
            client_id=client_id,
            kind=kind,
            method_type=method_type,
            method_id=method_id,
            state=core.sealer.seal(orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS), purpose=_PURPOSE),
            attempts=0,
            created_at=now,
            expires_at=now + (ttl or core.settings.auth_session_ttl),
            consumed_at=None,
        )
    )
    return raw


def load(core: Core, conn: Connectable, raw: object) -> OpenSession | None:
    """The session for `raw`, unconsumed and unexpired, or None (callers answer one error for every case)."""
    if not isinstance(raw, str) or not raw or len(raw) > MAX_TOKEN:
        return None
    record = SessionStore(conn).auth_session(core.fingerprint(raw, purpose=_PURPOSE))
    if record is None or record.consumed_at is not None or record.expires_at <= core.clock.now():
        return None
    try:
        state = orjson.loads(core.sealer.open(record.state, purpose=_PURPOSE))
    except (SealError, ValueError):
        return None
    return OpenSession(record=record, state=state)


def consume(core: Core, conn: Connectable, record: AuthSessionRecord) -> bool:
    return SessionStore(conn).consume_auth_session(record.id, now=core.clock.now())


def reserve_attempt(core: Core, session_id: str, *, limit: int) -> bool:
    """Take one of the session's `limit` attempts before checking a code, in its own committed transaction.

    Reserving first bounds the number of codes ever checked against one session, however many guesses arrive
    at once. False means the attempts are spent: the user has to start over.
    """
    with core.db.write() as conn:
        return SessionStore(conn).reserve_auth_session_attempt(session_id, limit=limit)


def save_state(core: Core, conn: Connection, record: AuthSessionRecord, state: dict[str, Any]) -> None:
    """Replace a session's sealed state (for multi-step ceremonies such as MFA challenges)."""
    sealed = core.sealer.seal(orjson.dumps(state, option=orjson.OPT_NON_STR_KEYS), purpose=_PURPOSE)
    SessionStore(conn).update_auth_session(record.id, state=sealed)
