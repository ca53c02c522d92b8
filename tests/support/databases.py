"""Fresh, migrated databases for each test: a copied SQLite file, or a cleaned PostgreSQL database.

`MYACCOUNT_TEST_DATABASE_URL` picks PostgreSQL (e.g. `postgresql://postgres@127.0.0.1:5432/postgres`); unset means
SQLite. With pytest-xdist each worker gets its own PostgreSQL database.
"""

import os
import shutil
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from myaccount.store.db import Database, normalize_url
from myaccount.store.migrate import upgrade
from myaccount.store.schema import metadata

__all__ = ["DatabasePool"]


class DatabasePool:
    """Hands out one empty, migrated database per test."""

    def __init__(self, base_dir: Path, worker: str) -> None:
        self.base_dir = base_dir
        self.worker = worker
        self.server_url = os.environ.get("MYACCOUNT_TEST_DATABASE_URL")
        self._template: Path | None = None
        self._pg_url: str | None = None
        self._counter = 0
        self._created: str | None = None

    def close(self) -> None:
        """Drop the PostgreSQL database this worker made."""
        if self.server_url and self._created:
            admin = create_engine(normalize_url(self.server_url), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self._created}" WITH (FORCE)'))
            admin.dispose()

    @property
    def backend(self) -> str:
        return "postgresql" if self.server_url else "sqlite"

    def fresh(self) -> str:
        if self.server_url:
            return self._fresh_pg()
        return self._fresh_sqlite()

    def _fresh_sqlite(self) -> str:
        if self._template is None:
            self._template = self.base_dir / "template.db"
            db = Database(f"sqlite:///{self._template}")
            upgrade(db)
            db.dispose()
        self._counter += 1
        target = self.base_dir / f"test-{self._counter}.db"
        shutil.copyfile(self._template, target)
        return f"sqlite:///{target}"

    def _fresh_pg(self) -> str:
        assert self.server_url is not None
        if self._pg_url is None:
            # One name per test run and worker, so that two runs on one server never clean each other's tables.
            run = os.environ.get("PYTEST_XDIST_TESTRUNUID", str(os.getpid()))[:12]
            name = f"myaccount_test_{run}_{self.worker}"
            self._created = name
            admin = create_engine(normalize_url(self.server_url), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            self._pg_url = make_url(normalize_url(self.server_url)).set(database=name).render_as_string(False)
            db = Database(self._pg_url)
            upgrade(db)
            db.dispose()
            return self._pg_url
        engine = create_engine(self._pg_url)
        tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} CASCADE"))
        engine.dispose()
        return self._pg_url
