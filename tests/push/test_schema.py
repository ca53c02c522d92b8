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


def test_deleting_a_method_finds_its_push_challenges_by_index(database_url: str) -> None:
    """The ON DELETE SET NULL on push_challenges.method_id runs on every method deletion: it must not scan."""
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.connect() as conn:
            indexed = [i["column_names"] for i in inspect(conn).get_indexes(push_challenges.name)]
            plan = ""
            if conn.dialect.name == "sqlite":
                rows = conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN SELECT 1 FROM push_challenges WHERE method_id = 'passkey|dev_x'"
                )
                plan = " ".join(str(row[-1]) for row in rows)
    finally:
        engine.dispose()
    assert ["method_id"] in indexed
    if plan:
        assert "USING INDEX ix_push_challenges_method_id" in plan or "USING COVERING INDEX" in plan
