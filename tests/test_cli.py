import json
from pathlib import Path
from typing import Any

import pytest

from myaccount import demo
from myaccount.cli import main
from myaccount.core import Core
from myaccount.store.clients import ClientStore
from myaccount.store.keys import KeyStore
from myaccount.store.roles import RoleStore
from myaccount.store.users import UserStore
from tests.conftest import TEST_SECRET

API = "https://api.example.test/"


@pytest.fixture(autouse=True)
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> None:
    """The CLI reads its settings from the environment, as it does on a real machine; point it at the test database."""
    for name in ("MYACCOUNT_CONFIG", "MYACCOUNT_REDIS_URL", "MYACCOUNT_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MYACCOUNT_DATABASE_URL", database_url)
    monkeypatch.setenv("MYACCOUNT_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("MYACCOUNT_PUBLIC_URL", "http://testserver")
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_users_create_and_list(capsys: pytest.CaptureFixture[str], core: Core) -> None:
    created = run_json(
        capsys, "users", "create", "--email", "Ann@Example.com", "--password", "pw-ann-123456", "--verified"
    )
    assert created["user_id"].startswith("auth0|")
    assert "password_hash" not in created
    with core.db.read() as conn:
        user = UserStore(conn).get(created["user_id"])
    assert user is not None and user.email == "ann@example.com" and user.email_verified
    assert core.passwords.verify(user.password_hash, "pw-ann-123456")

    code, out, _ = run(capsys, "users", "list")
    assert code == 0
    assert f"{user.id}  ann@example.com  verified" in out
    assert [u["email"] for u in run_json(capsys, "users", "list")] == ["ann@example.com"]


def test_an_admin_error_exits_2_with_the_message_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "users", "create", "--email", "ann@example.com", "--password", "x" * 12)[0] == 0
    code, out, err = run(capsys, "users", "create", "--email", "ann@example.com", "--password", "x" * 12)
    assert (code, out) == (2, "")
    assert err == "myaccount: The user already exists.\n"
    code, _, err = run(capsys, "clients", "create", "--name", "Bad", "--type", "spa", "--callback", "nope")
    assert code == 2 and "'nope' is not an absolute URL" in err


def test_clients_create_prints_the_secret_once(capsys: pytest.CaptureFixture[str], core: Core) -> None:
    code, out, _ = run(
        capsys,
        *("clients", "create", "--name", "Shop", "--type", "regular_web"),
        *("--callback", "https://shop.example/cb", "--grant-type", "authorization_code"),
        *("--grant-type", "client_credentials"),
    )
    assert code == 0
    lines = dict(line.split(maxsplit=1) for line in out.splitlines()[:2])
    with core.db.read() as conn:
        shop = ClientStore(conn).get(lines["client_id"])
    assert shop is not None
    assert shop.grant_types == ["authorization_code", "client_credentials"]
    assert shop.callbacks == ["https://shop.example/cb"]
    assert shop.secret_hash == core.fingerprint(lines["client_secret"], purpose="client-secret")
    listed = run_json(capsys, "clients", "list")
    assert [c["client_id"] for c in listed] == [shop.client_id]
    assert "secret_hash" not in listed[0] and "client_secret" not in listed[0]


def test_spa_client_with_origins_and_cross_origin_authentication(
    capsys: pytest.CaptureFixture[str], core: Core
) -> None:
    created = run_json(
        capsys,
        *("clients", "create", "--name", "Page", "--type", "spa", "--callback", "http://localhost:3000/cb"),
        *("--origin", "http://localhost:3000/", "--cross-origin-authentication"),
    )
    assert created["client_secret"] is None
    with core.db.read() as conn:
        page = ClientStore(conn).get(created["client_id"])
    assert page is not None and page.is_public and page.cross_origin_authentication
    assert page.allowed_origins == page.web_origins == ["http://localhost:3000"]
    assert page.grant_types == ["authorization_code", "refresh_token"]


def test_apis_grants_and_roles(capsys: pytest.CaptureFixture[str], core: Core) -> None:
    api = run_json(
        capsys,
        *("apis", "create", "--identifier", API, "--name", "Things", "--scope", "read:things"),
        *("--scope", "write:things", "--user-policy", "require_client_grant", "--rbac"),
    )
    assert api["enforce_policies"] is True
    client = run_json(capsys, "clients", "create", "--name", "Worker", "--type", "non_interactive")
    grant = run_json(
        capsys, "grants", "create", "--client-id", client["client_id"], "--audience", API, "--scope", "read:things"
    )
    user = run_json(capsys, "users", "create", "--email", "eve@example.com", "--password", "pw-eve-123456")
    role = run_json(
        capsys, "roles", "create", "--name", "writer", "--permission", f"{API}:write:things", "--description", "Writes"
    )
    assert role["permissions"] == [{"resource_server_identifier": API, "permission_name": "write:things"}]
    code, out, _ = run(capsys, "roles", "assign", "--user-id", user["user_id"], "--role-id", role["id"])
    assert code == 0, out
    with core.db.read() as conn:
        store = ClientStore(conn)
        stored_api = store.resource_server(API)
        assert stored_api is not None and stored_api.policy("user") == "require_client_grant"
        stored_grant = store.grant(client["client_id"], API, "client")
        assert stored_grant is not None and stored_grant.id == grant["id"] and stored_grant.scope == ["read:things"]
        assert UserStore(conn).permissions(user["user_id"], API) == {"write:things"}
        assert RoleStore(conn).by_name("writer") is not None
    assert [g["id"] for g in run_json(capsys, "grants", "list", "--client-id", client["client_id"])] == [grant["id"]]
    assert API in {a["identifier"] for a in run_json(capsys, "apis", "list")}

    code, _, err = run(
        capsys, "grants", "create", "--client-id", client["client_id"], "--audience", API, "--scope", "x:y"
    )
    assert code == 2 and "scopes not defined by" in err
    code, _, err = run(capsys, "roles", "create", "--name", "bad", "--permission", "https://elsewhere/:read")
    assert code == 2 and "known API identifier" in err
    code, _, err = run(capsys, "roles", "assign", "--user-id", user["user_id"], "--role-id", "rol_missing")
    assert code == 2 and "No role with id rol_missing" in err


def test_keys_rotate_and_revoke(capsys: pytest.CaptureFixture[str], core: Core) -> None:
    before = {k["state"]: k["kid"] for k in run_json(capsys, "keys", "list")}
    assert set(before) == {"current", "next"}
    code, out, _ = run(capsys, "keys", "rotate")
    assert code == 0 and before["next"] in out
    after = {k["kid"]: k["state"] for k in run_json(capsys, "keys", "list")}
    assert after[before["next"]] == "current" and after[before["current"]] == "previous"

    code, _, err = run(capsys, "keys", "revoke", "--", before["next"])
    assert code == 2 and "rotate before revoking" in err
    code, _, err = run(capsys, "keys", "revoke", "--", "-no-such-kid")  # base64url kids may start with '-'
    assert code == 2 and "no signing key -no-such-kid" in err
    assert run(capsys, "keys", "revoke", "--", before["current"])[0] == 0
    with core.db.read() as conn:
        states = {r.kid: r.state for r in KeyStore(conn).all()}
    assert states[before["current"]] == "revoked"


def test_tenant_apply_twice(capsys: pytest.CaptureFixture[str], tmp_path: Path, core: Core) -> None:
    path = tmp_path / "tenant.toml"
    path.write_text(
        "[[resource_servers]]\n"
        f'identifier = "{API}"\n'
        'scopes = ["read:things"]\n'
        "[[clients]]\n"
        'client_id = "toml-m2m-client"\n'
        'name = "From TOML"\n'
        'app_type = "non_interactive"\n'
        "[[client_grants]]\n"
        'client_id = "toml-m2m-client"\n'
        f'audience = "{API}"\n'
        'scope = ["read:things"]\n'
    )
    dry = run_json(capsys, "tenant", "apply", str(path), "--dry-run")
    assert dry["dry_run"] and dry["counts"]["clients"]["created"] == 1
    with core.db.read() as conn:
        assert ClientStore(conn).get("toml-m2m-client") is None
    code, out, _ = run(capsys, "tenant", "apply", str(path))
    assert code == 0
    assert "clients: 1 created, 0 updated, 0 unchanged" in out
    assert "client toml-m2m-client: generated secret" in out
    again = run_json(capsys, "tenant", "apply", str(path))
    assert again["counts"]["clients"] == {"created": 0, "updated": 0, "unchanged": 1}
    assert again["client_secrets"] == {}

    path.write_text('[[clients]]\nclient_id = "toml-m2m-client"\nnmae = "typo"\n')
    code, out, err = run(capsys, "tenant", "apply", str(path))
    assert (code, out) == (2, "")
    assert "clients[0].nmae: unknown field (did you mean name?)" in err


def test_migrate_demo_and_config_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "migrate")
    assert code == 0 and "is migrated and ready" in out
    config = tmp_path / "myaccount.toml"
    config.write_text('public_url = "http://id.example.test:9000"\n')
    # The environment outranks the file, so lift the fixture's public URL for this one.
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MYACCOUNT_PUBLIC_URL")
        code, out, _ = run(capsys, "--config", str(config), "demo")
        assert code == 0
        assert "http://id.example.test:9000/account/callback" in out
        assert demo.EMAIL in out and demo.PASSWORD in out
        code, again, _ = run(capsys, "demo", "--config", str(config))
        assert code == 0 and again == out


def test_demo_is_refused_in_production(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYACCOUNT_ENVIRONMENT", "production")
    code, _, err = run(capsys, "demo")
    assert code == 2 and "public credentials" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["clients", "create", "--name", "X", "--type", "m2m"])
    assert caught.value.code == 2
    assert "invalid choice: 'm2m'" in capsys.readouterr().err
