"""Migration 0004 matches `store/connected.py`: Alembic's autogenerate finds nothing to add for these tables, and
the migration downgrades and upgrades again cleanly."""

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from myaccount.store.connected import connect_requests, connected_accounts, connections
from myaccount.store.db import Database, normalize_url
from myaccount.store.migrate import alembic_config
from myaccount.store.schema import metadata

TABLES = {connections.name, connected_accounts.name, connect_requests.name}


def _tables_of(diff: Any) -> set[str]:
    """Table names an autogenerate diff entry touches (entries are tuples, or lists of tuples for columns)."""
    names: set[str] = set()
    for entry in diff if isinstance(diff, list) else [diff]:
        for item in entry:
            name = getattr(item, "name", None)
            table = getattr(item, "table", None)
            if isinstance(item, str) and item in TABLES:
                names.add(item)
            elif table is not None:
                names.add(table.name)
            elif name in TABLES:
                names.add(str(name))
    return names


def _diffs(url: str) -> list[Any]:
    engine = create_engine(normalize_url(url))
    try:
        with engine.connect() as conn:
            assert TABLES <= set(inspect(conn).get_table_names())
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return [d for d in compare_metadata(context, metadata) if _tables_of(d) & TABLES]
    finally:
        engine.dispose()


def test_migration_matches_the_tables(database_url: str) -> None:
    assert _diffs(database_url) == []


def test_downgrade_and_upgrade(database_url: str) -> None:
    db = Database(database_url)
    try:
        config = alembic_config(db.url)
        with db.engine.connect() as conn:
            config.attributes["connection"] = conn.execution_options(myaccount_write=True) if db.is_sqlite else conn
            command.downgrade(config, "0003_login_claims")
            assert not TABLES & set(inspect(conn).get_table_names())
            command.upgrade(config, "0004_connected_accounts")
            conn.commit()
    finally:
        db.dispose()
    assert _diffs(database_url) == []
