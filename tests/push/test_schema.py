"""Migration 0002 matches `store/push.py`: Alembic's autogenerate finds nothing to add for the push tables."""

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from myaccount.store.db import normalize_url
from myaccount.store.push import push_challenges, push_device_jtis
from myaccount.store.schema import metadata

PUSH_TABLES = {push_challenges.name, push_device_jtis.name}


def _tables_of(diff: Any) -> set[str]:
    """Table names an autogenerate diff entry touches (entries are tuples, or lists of tuples for columns)."""
    names: set[str] = set()
    for entry in diff if isinstance(diff, list) else [diff]:
        for item in entry:
            name = getattr(item, "name", None)
            table = getattr(item, "table", None)
            if isinstance(item, str) and item in PUSH_TABLES:
                names.add(item)
            elif table is not None:
                names.add(table.name)
            elif name in PUSH_TABLES:
                names.add(str(name))
    return names


def test_migration_matches_the_tables(database_url: str) -> None:
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.connect() as conn:
            assert PUSH_TABLES <= set(inspect(conn).get_table_names())
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert [d for d in diffs if _tables_of(d) & PUSH_TABLES] == []
    assert PUSH_TABLES <= set(metadata.tables)
