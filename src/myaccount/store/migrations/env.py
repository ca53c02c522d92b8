"""Alembic environment: runs on the connection `myaccount.store.migrate` hands it (or one from the URL)."""

from alembic import context
from sqlalchemy import create_engine, text

from myaccount.store.schema import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _migrate(conn)


def _migrate(connection: object) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)  # type: ignore[arg-type]
    if connection.dialect.name == "postgresql":  # type: ignore[attr-defined]
        # Several nodes may start at once; one migrates, the others wait and then find nothing to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(7420013)"))  # type: ignore[attr-defined]
    with context.begin_transaction():
        context.run_migrations()


run()
