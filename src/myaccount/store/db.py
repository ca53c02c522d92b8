"""The engine, one per process: SQLite (WAL) by default, PostgreSQL by URL. Same SQLAlchemy Core code on both.

`Database.read()` opens a connection for reads; `Database.write()` a transaction that takes SQLite's write lock
up front (`BEGIN IMMEDIATE`), so two writers queue on the busy timeout instead of failing on a lock upgrade.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

__all__ = ["Database", "normalize_url"]


def normalize_url(url: str) -> str:
    """Plain `postgresql://` and `postgres://` URLs use psycopg 3, the driver we ship."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


class Database:
    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalize_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if parsed.database in (None, "", ":memory:"):
                kwargs["poolclass"] = StaticPool
            else:
                # As many connections as the threadpool has threads, so no request waits for one.
                kwargs.update(pool_size=40, max_overflow=10)
        else:
            # pool_recycle instead of a ping per checkout: the ping cost a round trip on every request.
            kwargs.update(pool_size=20, max_overflow=20, pool_recycle=1800)
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            if self.is_sqlite:
                # Reads run in SQLite's autocommit mode: no BEGIN/ROLLBACK round trip around each request.
                conn = conn.execution_options(myaccount_read=True)
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(myaccount_write=True)
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves (below); pysqlite's own transaction handling defers the write lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn: Connection) -> None:
        options = conn.get_execution_options()
        if options.get("myaccount_read", False):
            return
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("myaccount_write", False) else "BEGIN")
