"""Migration 0005 matches the schema, and the list's query reads the index in order (no sort per request)."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from myaccount.core import Core
from myaccount.store.db import normalize_url
from myaccount.store.methods import _LISTING, listing_rows
from myaccount.store.schema import authentication_methods, metadata


def test_migration_matches_the_methods_table(database_url: str, core: Core) -> None:
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.connect() as conn:
            indexes = {i["name"]: i["column_names"] for i in inspect(conn).get_indexes("authentication_methods")}
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert indexes["ix_authentication_methods_user_listing"] == ["user_id", "created_at", "id"]
    assert "ix_authentication_methods_user_id" not in indexes
    assert [d for d in diffs if authentication_methods.name in repr(d)] == []


def test_listing_reads_the_index_without_sorting(core: Core) -> None:
    if not core.db.is_sqlite:
        pytest.skip("SQLite's query plan; PostgreSQL's planner chooses by table statistics")
    with core.db.raw_read() as raw:
        assert listing_rows(raw, "auth0|nobody") == []
        sql = _LISTING._plan(raw.dialect).sql
        plan = " ".join(str(row[-1]) for row in raw.dbapi.execute("EXPLAIN QUERY PLAN " + sql, ("x",)))
    assert "ix_authentication_methods_user_listing" in plan and "TEMP B-TREE" not in plan
