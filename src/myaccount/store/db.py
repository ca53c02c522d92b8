"""The engine, one per process: SQLite (WAL) by default, PostgreSQL by URL. Same SQLAlchemy Core code on both.

`Database.read()` opens a connection for reads (`raw_read()` its DB-API connection, for the hottest reads);
`Database.write()` a transaction that takes SQLite's write lock
up front (`BEGIN IMMEDIATE`), so two writers queue on the busy timeout instead of failing on a lock upgrade.
"""

import fcntl
import json
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from types import TracebackType
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.pool import StaticPool

from myaccount.store.raw import RawConnection

__all__ = ["Database", "WriterLock", "normalize_url"]

WAL_AUTOCHECKPOINT_PAGES = 16_000  # ~64 MB of WAL with 4 KiB pages (SQLite's default is 1,000)
_SQLITE_CONNECT_ARGS: dict[str, Any] = {"check_same_thread": False, "timeout": 30}


def normalize_url(url: str) -> str:
    """Plain `postgresql://` and `postgres://` URLs use psycopg 3, the driver we ship."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def _json_text(value: Any) -> str:
    """JSON columns written by orjson (compact, UTF-8; non-string keys as strings, as the json module does).
    What orjson refuses and the json module takes (an integer beyond 64 bits) is written by the json module."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self._writer: WriterLock | None = None
        self._raw_readers: _ThreadConnections | None = None
        # orjson reads and writes JSON columns (methods' data, metadata) several times faster than the json module.
        kwargs: dict[str, Any] = {"echo": echo, "json_deserializer": orjson.loads, "json_serializer": _json_text}
        if self.is_sqlite:
            kwargs["connect_args"] = dict(_SQLITE_CONNECT_ARGS)
            if parsed.database in (None, "", ":memory:"):
                kwargs["poolclass"] = StaticPool
            else:
                # As many connections as the threadpool has threads, so no request waits for one.
                kwargs.update(pool_size=40, max_overflow=10)
                self._writer = WriterLock(f"{parsed.database}-writelock")
                self._raw_readers = _ThreadConnections(self._connect_sqlite)
        else:
            # pool_recycle instead of a ping per checkout: the ping cost a round trip on every request.
            kwargs.update(pool_size=15, max_overflow=15, pool_recycle=1800)
            # Sessions in UTC: psycopg then hands back timestamps with datetime.UTC itself, which need no
            # conversion on the way to the wire (every column is timestamptz; the zone changes no stored value).
            kwargs["connect_args"] = {"options": "-c TimeZone=UTC"}
        self.engine: Engine = create_engine(self.url, **kwargs)
        # Reads on PostgreSQL use a pool of their own whose connections are in autocommit mode for good: no BEGIN
        # and ROLLBACK around a read (two round trips of the three a one-query read took), and no switching of the
        # mode at every checkout and return (psycopg work on every request). SQLite reads run in autocommit on
        # the one pool (`myaccount_read`, no BEGIN).
        self._reader: Engine = self.engine
        if not self.is_sqlite:
            self._reader = create_engine(
                self.url,
                **kwargs | {"pool_size": 10, "max_overflow": 10},
                isolation_level="AUTOCOMMIT",
                pool_reset_on_return=None,
            )
        # Writes carry their option from an engine of their own (the same pool), not a branch per transaction.
        self._writes = self.engine.execution_options(myaccount_write=True)
        if self.is_sqlite:
            _configure_sqlite(self.engine)
            # The same pool, with the option that keeps reads out of an explicit transaction (`on_begin`).
            self._reader = self.engine.execution_options(myaccount_read=True)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        # Reads run in autocommit mode: each statement sees the latest committed data.
        with self._reader.connect() as conn:
            yield conn

    @contextmanager
    def raw_read(self) -> Iterator[RawConnection]:
        """Like `read()`, but the DB-API connection itself, for `RawStatement`s on the hottest reads: no
        SQLAlchemy `Connection` to build, no pool checkout and return on SQLite.

        A SQLite file is read through one connection per thread, opened for good (in autocommit mode, like every
        read: each statement sees the latest commit). Elsewhere the connection comes from the reader pool."""
        if self._raw_readers is not None:
            yield RawConnection(self._raw_readers.get(), self.engine.dialect)
            return
        with _pooled(self._reader) as dbapi:
            yield RawConnection(dbapi, self._reader.dialect)

    @contextmanager
    def raw_write(self) -> Iterator[RawConnection]:
        """Like `write()`, but the DB-API connection itself, for transactions made only of `RawStatement`s:
        no SQLAlchemy `Connection`, transaction or pool checkout around them (about 30 µs a transaction).

        On a SQLite file the transaction runs on this thread's connection (the one `raw_read()` uses), under the
        same writer lock and `BEGIN IMMEDIATE` as `write()`. Elsewhere the connection comes from the pool `write()`
        uses. Commits when the block ends; rolls back if it raises, or if the COMMIT itself fails (a connection
        kept for the thread must not stay inside the transaction)."""
        if self._raw_readers is not None:
            assert self._writer is not None
            with self._writer:
                yield from _transaction(self._raw_readers.get(), self.engine.dialect, begin="BEGIN IMMEDIATE")
            return
        with _pooled(self.engine) as dbapi:
            # In memory, SQLite's own transaction handling is off (`_set_up_sqlite`): we begin; psycopg begins itself.
            begin = "BEGIN IMMEDIATE" if self.is_sqlite else None
            yield from _transaction(dbapi, self.engine.dialect, begin=begin)

    def _connect_sqlite(self) -> Any:
        dialect = self.engine.dialect
        cargs, cparams = dialect.create_connect_args(self.engine.url)
        connection = dialect.connect(*cargs, **{**cparams, **_SQLITE_CONNECT_ARGS})
        _set_up_sqlite(connection)
        return connection

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self._writes.connect() as conn:
            # The lock covers BEGIN IMMEDIATE … COMMIT only, not the pool checkout and return around it.
            with self._writer or nullcontext(), conn.begin():
                yield conn

    def checkpoint(self) -> tuple[int, int]:
        """Copy what the WAL holds back into the SQLite database file, without waiting on readers or writers
        (PASSIVE); a no-op elsewhere. The server runs it in the background (myaccount.lifecycle).
        Returns the WAL's frames and how many of them are now in the database."""
        if self._writer is None:  # PostgreSQL, or an in-memory SQLite database (one shared connection, no WAL)
            return (0, 0)
        with self.engine.connect() as conn:
            row = conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").one()
        return int(row[1]), int(row[2])

    def dispose(self) -> None:
        if self._raw_readers is not None:
            self._raw_readers.close()
        self.engine.dispose()
        if not self.is_sqlite:  # PostgreSQL's reader has a pool of its own; SQLite's shares the engine's
            self._reader.dispose()
        if self._writer is not None:
            self._writer.close()


@contextmanager
def _pooled(engine: Engine) -> Iterator[Any]:
    """A DB-API connection from `engine`'s pool, given back at the end; one that failed with a disconnect is
    dropped from the pool."""
    fairy = engine.raw_connection()
    dbapi = fairy.dbapi_connection
    try:
        yield dbapi
    except engine.dialect.loaded_dbapi.Error as exc:
        if engine.dialect.is_disconnect(exc, dbapi, None):
            fairy.invalidate(exc)
        raise
    finally:
        fairy.close()


def _transaction(dbapi: Any, dialect: Dialect, *, begin: str | None) -> Iterator[RawConnection]:
    """The body of a `raw_write()`: one transaction on `dbapi`, committed at the end, rolled back on any error
    (the drivers' rollback does nothing outside a transaction, as after a failed COMMIT that ended it)."""
    if begin:
        dbapi.execute(begin)
    try:
        yield RawConnection(dbapi, dialect)
        dbapi.commit()
    except BaseException:
        dbapi.rollback()
        raise


class WriterLock:
    """One SQLite writer at a time, across the threads and the worker processes that share a database file.

    SQLite admits one writer; the others wait in its busy handler, which polls with sleeps of 1, 2, 5, 10… ms.
    Under write load those sleeps, not the work, set the pace (and they block the event loop that runs the
    write). Writers here queue on a lock instead: a thread lock within the process, then `flock` on a file next
    to the database across processes; the kernel wakes the next writer the moment the lock is released. The
    busy timeout stays as the fallback for processes that do not take this lock (a CLI command, say).
    Re-entrant within a thread, as a nested write already was (it deadlocks on SQLite either way).
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        this = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forget_in_child(this))

    def _forget(self) -> None:
        # A forked child must not share the parent's open file description: flock locks belong to it. The child
        # opens its own on its first write (without a system call per write to compare process ids).
        self._lock = threading.RLock()
        self._depth = 0
        self._fd = None

    def _file(self) -> int:
        if self._fd is None:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            if self._depth == 0:
                fcntl.flock(self._file(), fcntl.LOCK_EX)
        except BaseException:
            self._lock.release()
            raise
        self._depth += 1

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
            self._fd = None


class _ThreadConnections:
    """One DB-API connection per thread, closed together. A forked child opens its own: it forgets the parent's
    at the fork (the check costs nothing per call, where comparing process ids took a system call each time)."""

    def __init__(self, connect: Callable[[], Any]) -> None:
        self._connect = connect
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[Any] = []
        self._inherited: list[Any] = []
        this = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forget_in_child(this))

    def _forget(self) -> None:
        self._local = threading.local()
        # The parent's connections are the parent's: kept (a garbage-collected sqlite3 connection would close
        # its handle in this process too) but never used or closed here.
        self._inherited = self._all
        self._all = []

    def get(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            return connection
        connection = self._connect()
        self._local.connection = connection
        with self._lock:
            self._all.append(connection)
        return connection

    def close(self) -> None:
        with self._lock:
            connections, self._all = self._all, []
        self._local = threading.local()
        for connection in connections:
            connection.close()  # opened with check_same_thread=False: any thread may close it


def _forget_in_child(ref: "weakref.ref[_ThreadConnections] | weakref.ref[WriterLock]") -> None:
    held = ref()
    if held is not None:
        held._forget()


def _set_up_sqlite(dbapi_connection: Any) -> None:
    # We issue BEGIN ourselves (below); pysqlite's own transaction handling defers the write lock.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Checkpoints copy the WAL back into the database and fsync it; run by whichever commit crosses the
    # threshold, they cost a request milliseconds. The server checkpoints in the background instead
    # (`Database.checkpoint`, every second); this larger threshold only bounds the WAL if nothing does.
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    cursor.close()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        _set_up_sqlite(dbapi_connection)

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("myaccount_read", False):
            return
        # On the DB-API connection: what exec_driver_sql would send, without its execution machinery.
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        dbapi.execute("BEGIN IMMEDIATE" if options.get("myaccount_write", False) else "BEGIN")
