"""RawStatement runs prebuilt statements on the DB-API cursor: what goes in and comes out must be exactly what
SQLAlchemy's own execution gives, on SQLite and on PostgreSQL (the suite runs on both)."""

import multiprocessing
import os
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import bindparam, insert, select, update

from myaccount.core import Core
from myaccount.store.db import WriterLock
from myaccount.store.methods import MethodRecord, MethodStore
from myaccount.store.raw import RawStatement
from myaccount.store.schema import audit_events, auth_sessions
from myaccount.store.sessions import AuthSessionRecord, SessionStore
from myaccount.store.users import UserStore

_EVENTS = RawStatement(select(audit_events).where(audit_events.c.user_id == bindparam("user_id")))
_ADD_EVENT = RawStatement(insert(audit_events).values({c.name: bindparam(c.name) for c in audit_events.c}))


def _user(core: Core) -> str:
    now = datetime.now(UTC)
    with core.db.write() as conn:
        UserStore(conn).create(user_id="auth0|raw", now=now, email="raw@example.com", password_hash=None)
    return "auth0|raw"


def _event(event_id: str, user_id: str) -> dict[str, object]:
    return {
        "id": event_id,
        "at": datetime.now(UTC),
        "type": "s",
        "outcome": "success",
        "user_id": user_id,
        "client_id": None,
        "ip": None,
        "user_agent": None,
        "description": "",
        "details": {},
    }


def _event_ids(core: Core, user_id: str) -> list[str]:
    with core.db.read() as conn:
        return sorted(str(row["id"]) for row in _EVENTS.rows(conn, {"user_id": user_id}))


def test_raw_select_reads_what_sqlalchemy_reads(core: Core) -> None:
    user_id = _user(core)
    at = datetime(2026, 11, 24, 10, 11, 12, 345678, tzinfo=UTC)
    details = {"nested": {"list": [1, "two", None, True]}, "unicode": "é✓"}
    with core.db.write() as conn:
        conn.execute(
            insert(audit_events).values(
                id="e1", at=at, type="s", outcome="success", user_id=user_id, description="", details=details
            )
        )
    with core.db.read() as conn:
        raw = _EVENTS.rows(conn, {"user_id": user_id})
        orm = [dict(r) for r in conn.execute(select(audit_events).where(audit_events.c.user_id == user_id)).mappings()]
    assert raw == orm
    assert raw[0]["details"] == details and raw[0]["ip"] is None
    assert raw[0]["at"].replace(tzinfo=UTC) == at


def test_raw_insert_writes_what_sqlalchemy_writes(core: Core) -> None:
    user_id = _user(core)
    at = datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)
    values = {
        "id": "e2",
        "at": at,
        "type": "s",
        "outcome": "failure",
        "user_id": user_id,
        "client_id": None,
        "ip": "203.0.113.9",
        "user_agent": "ua",
        "description": "d",
        "details": {"k": [1, 2]},
    }
    with core.db.write() as conn:
        assert _ADD_EVENT.execute(conn, values) == 1
    with core.db.read() as conn:
        row = dict(conn.execute(select(audit_events).where(audit_events.c.id == "e2")).mappings().one())
    assert row["details"] == {"k": [1, 2]} and row["ip"] == "203.0.113.9" and row["outcome"] == "failure"
    assert row["at"].replace(tzinfo=UTC) == at


def test_method_store_round_trip_and_partial_update(core: Core) -> None:
    user_id = _user(core)
    created = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    record = MethodRecord(
        id="totp|dev_1",
        user_id=user_id,
        type="totp",
        name=None,
        confirmed=False,
        created_at=created,
        data={"a": 1},
        secret="sealed",
    )
    with core.db.write() as conn:
        store = MethodStore(conn)
        store.add(record)
        assert store.count(user_id, type_="totp") == 1
        assert store.count(user_id, type_="totp", confirmed=True) == 0
        assert store.update(user_id, "totp|dev_1", confirmed=True, data={"a": 2}) is True
        assert store.update(user_id, "totp|dev_other", confirmed=True) is False
    with core.db.read() as conn:
        got = MethodStore(conn).get(user_id, "totp|dev_1")
        listed = MethodStore(conn).list(user_id, type_="totp")
    assert got is not None and got.confirmed is True and got.data == {"a": 2} and got.secret == "sealed"
    assert got.created_at == created and listed == [got]


def test_conditional_update_with_literal_in_the_statement(core: Core) -> None:
    """`attempts = attempts + 1 WHERE attempts < :limit`: the literal 1 is a bind SQLAlchemy fills in."""
    _user(core)
    now = datetime.now(UTC)
    with core.db.write() as conn:
        SessionStore(conn).add_auth_session(
            AuthSessionRecord(
                id="s1",
                user_id="auth0|raw",
                client_id="c",
                kind="enrollment",
                method_type="totp",
                method_id="m",
                state="x",
                attempts=0,
                created_at=now,
                expires_at=now + timedelta(minutes=5),
                consumed_at=None,
            )
        )
    results = []
    for _ in range(4):
        with core.db.write() as conn:
            results.append(SessionStore(conn).reserve_auth_session_attempt("s1", limit=3))
    assert results == [True, True, True, False]
    with core.db.write() as conn:
        assert SessionStore(conn).consume_auth_session("s1", now=now) is True
        assert SessionStore(conn).consume_auth_session("s1", now=now) is False
        record = SessionStore(conn).auth_session("s1")
        conn.execute(update(auth_sessions).where(auth_sessions.c.id == "s1").values(attempts=0))
    assert record is not None and record.attempts == 3 and record.consumed_at is not None


def _hold(path: str, rounds: int) -> list[tuple[float, float]]:
    """Take the writer lock `rounds` times, holding it a moment; the (entered, left) times on the shared clock."""
    lock = WriterLock(path)
    spans = []
    for _ in range(rounds):
        with lock:
            entered = time.monotonic()
            time.sleep(0.002)
            spans.append((entered, time.monotonic()))
    lock.close()
    return spans


def _overlaps(spans: list[tuple[float, float]]) -> int:
    ordered = sorted(spans)
    return sum(1 for a, b in zip(ordered, ordered[1:], strict=False) if b[0] < a[1])


def test_writer_lock_excludes_other_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "db.sqlite-writelock")
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        results = pool.starmap(_hold, [(path, 40)] * 3)
    spans = [span for result in results for span in result]
    assert len(spans) == 120
    assert _overlaps(spans) == 0


def test_writer_lock_excludes_other_threads_and_is_reentrant(tmp_path: Path) -> None:
    lock = WriterLock(str(tmp_path / "db.sqlite-writelock"))
    spans: list[tuple[float, float]] = []

    def work() -> None:
        for _ in range(30):
            with lock:
                with lock:  # a nested write in the same thread must not deadlock on the lock itself
                    entered = time.monotonic()
                    time.sleep(0.001)
                    spans.append((entered, time.monotonic()))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lock.close()
    assert len(spans) == 120
    assert _overlaps(spans) == 0


def test_checkpoint_moves_the_wal_into_the_database(core: Core) -> None:
    """Request commits leave checkpoints to the server's background task (Database.checkpoint) on SQLite."""
    _user(core)
    with core.db.write() as conn:
        for i in range(50):
            MethodStore(conn).add(
                MethodRecord(
                    id=f"email|dev_{i}",
                    user_id="auth0|raw",
                    type="email",
                    name=None,
                    confirmed=True,
                    created_at=datetime.now(UTC),
                    data={"email": f"{i}@example.com"},
                )
            )
    frames, done = core.db.checkpoint()
    if core.db.is_sqlite:
        assert frames > 0 and done == frames
    else:
        assert (frames, done) == (0, 0)


def test_raw_read_runs_statements_as_read_does(core: Core) -> None:
    """`raw_read()` hands out the DB-API connection: the same rows as through a SQLAlchemy `Connection`."""
    user_id = _user(core)
    with core.db.write() as conn:
        conn.execute(
            insert(audit_events).values(
                id="e3", at=datetime.now(UTC), type="s", outcome="success", user_id=user_id, description="", details={}
            )
        )
    with core.db.read() as conn:
        through_sqlalchemy = _EVENTS.rows(conn, {"user_id": user_id})
    with core.db.raw_read() as raw:
        assert _EVENTS.rows(raw, {"user_id": user_id}) == through_sqlalchemy
        tuples = _EVENTS.tuples(raw, {"user_id": user_id})
    assert [_EVENTS.decode(raw.dialect, t) for t in tuples] == through_sqlalchemy


def test_raw_read_sees_every_commit(core: Core) -> None:
    """A SQLite file is read through one long-lived connection per thread: it must not hold a stale snapshot."""
    user_id = _user(core)
    seen = []
    for n in range(3):
        with core.db.raw_read() as raw:
            seen.append(len(_EVENTS.rows(raw, {"user_id": user_id})))
        with core.db.write() as conn:
            _ADD_EVENT.execute(conn, _event(f"seen{n}", user_id))
    assert seen == [0, 1, 2]


def test_raw_read_connections_are_per_thread_and_closed_on_dispose(core: Core) -> None:
    if not core.db.is_sqlite:
        # PostgreSQL: the connection is borrowed from the reader pool and always given back, error or not.
        pool = core.db._reader.pool
        before = pool.checkedout()  # type: ignore[attr-defined]
        with core.db.raw_read() as raw:
            assert pool.checkedout() == before + 1  # type: ignore[attr-defined]
            assert _EVENTS.rows(raw, {"user_id": "nobody"}) == []
        with pytest.raises(psycopg.errors.UndefinedTable), core.db.raw_read() as raw:
            raw.dbapi.cursor().execute("SELECT * FROM no_such_table")
        assert pool.checkedout() == before  # type: ignore[attr-defined]
        return
    with core.db.raw_read() as first, core.db.raw_read() as again:
        assert first.dbapi is again.dbapi
    other: list[object] = []

    def in_thread() -> None:
        with core.db.raw_read() as raw:
            other.append(raw.dbapi)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert other and other[0] is not first.dbapi
    core.db.dispose()
    with pytest.raises(sqlite3.ProgrammingError):
        first.dbapi.execute("SELECT 1")


def test_a_forked_child_opens_its_own_raw_read_connection(core: Core) -> None:
    """Workers are forked: a child must never use the parent's SQLite connection (SQLite forbids it)."""
    if not core.db.is_sqlite:
        pytest.skip("per-thread connections are for SQLite files; PostgreSQL's pool is not shared across a fork")
    with core.db.raw_read() as raw:
        parent = raw.dbapi
        kept = _EVENTS.rows(raw, {"user_id": "nobody"})
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether it got a connection of its own that works
        try:
            with core.db.raw_read() as raw:
                ok = raw.dbapi is not parent and _EVENTS.rows(raw, {"user_id": "nobody"}) == []
            os.write(writer, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(writer)
    answer = os.read(reader, 1)
    os.waitpid(pid, 0)
    os.close(reader)
    assert answer == b"1" and kept == []
    with core.db.raw_read() as raw:
        assert raw.dbapi is parent  # the parent keeps its own


def test_json_columns_round_trip_what_the_json_module_took(core: Core) -> None:
    """JSON columns are written by orjson, and by the json module for what orjson refuses (integers beyond 64
    bits), so nothing that was storable before is refused now."""
    user_id = _user(core)
    details = {"big": 2**70, "unicode": "é✓", "nested": [1, {"k": None}]}
    with core.db.write() as conn:
        conn.execute(
            insert(audit_events).values(
                id="big",
                at=datetime.now(UTC),
                type="s",
                outcome="success",
                user_id=user_id,
                description="",
                details=details,
            )
        )
    with core.db.read() as conn:
        read = _EVENTS.rows(conn, {"user_id": user_id})[0]["details"]
    # 2**70 is exact as a float too (orjson reads integers beyond 64 bits as floats).
    assert read["big"] == 2**70 and read["unicode"] == "é✓" and read["nested"] == [1, {"k": None}]


def test_raw_write_commits_at_the_end_of_the_block(core: Core) -> None:
    user_id = _user(core)
    with core.db.raw_write() as raw:
        _ADD_EVENT.execute(raw, _event("w1", user_id))
        _ADD_EVENT.execute(raw, _event("w2", user_id))
        with core.db.read() as other:  # another connection: nothing is visible before the commit
            assert _EVENTS.rows(other, {"user_id": user_id}) == []
    assert _event_ids(core, user_id) == ["w1", "w2"]
    with core.db.raw_read() as raw:  # SQLite: the same per-thread connection, back in autocommit mode
        assert len(_EVENTS.rows(raw, {"user_id": user_id})) == 2


def test_raw_write_rolls_back_everything_when_the_block_raises(core: Core) -> None:
    user_id = _user(core)
    pool = core.db.engine.pool
    checked_out = pool.checkedout()  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="changed my mind"), core.db.raw_write() as raw:
        _ADD_EVENT.execute(raw, _event("gone", user_id))
        raise RuntimeError("changed my mind")
    # A failed statement: the driver's own error, and the statement before it is undone too.
    duplicate = sqlite3.IntegrityError if core.db.is_sqlite else psycopg.errors.UniqueViolation
    with pytest.raises(duplicate), core.db.raw_write() as raw:
        _ADD_EVENT.execute(raw, _event("first", user_id))
        _ADD_EVENT.execute(raw, _event("first", user_id))
    assert _event_ids(core, user_id) == []
    with core.db.raw_write() as raw:  # no transaction was left open on the connection
        _ADD_EVENT.execute(raw, _event("after", user_id))
    assert _event_ids(core, user_id) == ["after"]
    assert pool.checkedout() == checked_out  # type: ignore[attr-defined]  # PostgreSQL: every one given back


def test_raw_write_rolls_back_when_the_commit_itself_fails(core: Core) -> None:
    """SQLite checks deferred foreign keys at COMMIT: a failed commit must not leave this thread's connection
    inside the transaction (every later write on the thread would fail)."""
    if not core.db.is_sqlite:
        pytest.skip("PostgreSQL's connection is given back to the pool after a rollback; SQLite keeps its own")
    with pytest.raises(sqlite3.IntegrityError), core.db.raw_write() as raw:
        raw.dbapi.execute("PRAGMA defer_foreign_keys=ON")
        _ADD_EVENT.execute(raw, _event("orphan-ok", "anyone"))  # audit events have no foreign key
        raw.dbapi.execute(
            "INSERT INTO auth_sessions (id, user_id, client_id, kind, state, attempts, created_at, expires_at)"
            " VALUES ('s', 'no-such-user', 'c', 'k', '', 0, '2026-01-01', '2026-01-01')"
        )
    with core.db.raw_read() as raw:
        assert not raw.dbapi.in_transaction
    assert _event_ids(core, "anyone") == []
    user_id = _user(core)
    with core.db.raw_write() as raw:
        _ADD_EVENT.execute(raw, _event("next", user_id))
    assert _event_ids(core, user_id) == ["next"]


def test_raw_write_takes_the_writer_lock(core: Core) -> None:
    """On SQLite another thread's write waits for a raw_write to finish (no SQLITE_BUSY, no interleaving)."""
    if not core.db.is_sqlite:
        pytest.skip("PostgreSQL has no database-wide writer lock: writers of different rows run side by side")
    user_id = _user(core)
    order: list[str] = []

    def other_writer() -> None:
        with core.db.write() as conn:
            _ADD_EVENT.execute(conn, _event("other", user_id))
        order.append("other committed")

    with core.db.raw_write() as raw:
        _ADD_EVENT.execute(raw, _event("mine", user_id))
        thread = threading.Thread(target=other_writer)
        thread.start()
        thread.join(timeout=0.3)  # it cannot finish while this transaction holds the lock
        order.append("mine committing")
    thread.join()
    assert order == ["mine committing", "other committed"]
    assert _event_ids(core, user_id) == ["mine", "other"]


def test_stores_on_a_raw_connection(core: Core) -> None:
    """Stores take a RawConnection for their prebuilt statements; a method that builds its statement per call
    says it needs a SQLAlchemy Connection instead of failing somewhere inside SQLAlchemy."""
    user_id = _user(core)
    later = datetime.now(UTC) + timedelta(minutes=1)
    with core.db.raw_write() as raw:
        store = UserStore(raw)
        store.update(user_id, now=later, email="  New@Example.COM ", name="Raw Writer")
        found = store.get(user_id)
        with pytest.raises(TypeError, match="SQLAlchemy Connection"):
            store.by_email("new@example.com")
        with pytest.raises(ValueError, match="no column 'not_a_column'"):
            store.update(user_id, now=later, not_a_column=1)
    assert found is not None and found.email == "new@example.com" and found.name == "Raw Writer"
    with core.db.read() as conn:
        assert UserStore(conn).by_email("new@example.com") == found
