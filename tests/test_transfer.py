"""Export a tenant and import it into another database (SQLite → PostgreSQL or the reverse, as the run has)."""

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from myaccount.app import create_app
from myaccount.cli import main
from myaccount.core import Core
from myaccount.settings import Settings
from myaccount.transfer import TransferError, export_tenant, import_tenant
from tests.conftest import TEST_SECRET
from tests.support.factors import enroll_recovery_code
from tests.support.me import Me, me_token
from tests.support.tenant import Tenant, make_tenant


def _other_database(tmp_path: Path) -> str:
    """The other backend than this run's: SQLite when the run is on PostgreSQL, else a fresh PostgreSQL one."""
    if os.environ.get("MYACCOUNT_TEST_DATABASE_URL"):
        return f"sqlite:///{tmp_path / 'moved.db'}"
    from sqlalchemy import create_engine, text

    server = os.environ.get("MYACCOUNT_TEST_PG_SERVER", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"myaccount_transfer_{os.getpid()}"
    admin = create_engine(server.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.rsplit("/", 1)[0] + f"/{name}"


def test_export_then_import_into_the_other_backend(
    client: TestClient,
    tenant: Tenant,
    core: Core,
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    make_core: Callable[[Settings], Core],
) -> None:
    me = Me(client, me_token(client, tenant, core))
    enroll_recovery_code(me)
    document = json.loads(json.dumps(export_tenant(core)))  # through JSON, as the CLI writes it
    target_settings = make_settings(database_url=_other_database(tmp_path))
    target = make_core(target_settings)
    counts = import_tenant(target, document)
    assert counts["users"] == 1 and counts["authentication_methods"] == 1 and counts["clients"] >= 4
    moved = TestClient(create_app(target_settings, core=target), base_url="http://localhost")
    # The same user signs in with the same password and sees the same methods, sealed secrets included.
    moved_me = Me(moved, me_token(moved, tenant, target))
    assert {m["type"] for m in moved_me.methods()} == {"password", "recovery-code"}
    # Tokens signed before the move still verify: the signing keys moved too.
    assert moved.get("/me/v1/factors", headers=me.headers).status_code == 200


def test_import_refuses_a_store_with_users_and_a_wrong_key(
    core: Core,
    tenant: Tenant,
    make_settings: Callable[..., Settings],
    make_core: Callable[[Settings], Core],
    tmp_path: Path,
) -> None:
    document = export_tenant(core)
    with pytest.raises(TransferError, match="already has users"):
        import_tenant(core, document)
    other_key = make_settings(
        database_url=f"sqlite:///{tmp_path / 'x.db'}", secret_key="b3RoZXItc2VjcmV0LWtleS1mb3ItdGhlLWltcG9ydC10ZXN0LTMy"
    )
    with pytest.raises(TransferError, match="another secret key"):
        import_tenant(make_core(other_key), document)


def test_cli_export_and_import(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, core: Core) -> None:
    make_tenant(core)
    monkeypatch.setenv("MYACCOUNT_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("MYACCOUNT_DATABASE_URL", database_url)
    out = tmp_path / "tenant.json"
    assert main(["export", str(out)]) == 0
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    monkeypatch.setenv("MYACCOUNT_DATABASE_URL", f"sqlite:///{tmp_path / 'new.db'}")
    assert main(["import", str(out)]) == 0
    assert main(["import", str(out)]) == 2  # the second time the store has users
