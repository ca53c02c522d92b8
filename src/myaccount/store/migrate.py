"""Schema migrations with Alembic, run programmatically (`myaccount migrate`, and at every start)."""

from pathlib import Path

from alembic import command
from alembic.config import Config

from myaccount.store.db import Database

__all__ = ["alembic_config", "upgrade"]

_HERE = Path(__file__).parent


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    config = alembic_config(db.url)
    with db.engine.connect() as conn:
        if db.is_sqlite:
            conn = conn.execution_options(myaccount_write=True)
        with conn.begin():
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
