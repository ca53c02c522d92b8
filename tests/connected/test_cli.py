"""`myaccount connections create|list|delete|reseal` (`myaccount.connections_cli`), run as `cli.main` runs its
commands: settings from the environment, `admin.AdminError` printed on stderr with exit status 2."""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from myaccount.admin import AdminError
from myaccount.connections_cli import add_parser
from myaccount.core import Core
from myaccount.store.connected import ConnectionStore
from tests.conftest import TEST_SECRET


@pytest.fixture(autouse=True)
def cli_env(monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: Path) -> None:
    for name in ("MYACCOUNT_CONFIG", "MYACCOUNT_REDIS_URL", "MYACCOUNT_ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MYACCOUNT_DATABASE_URL", database_url)
    monkeypatch.setenv("MYACCOUNT_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("MYACCOUNT_PUBLIC_URL", "http://testserver")
    monkeypatch.setenv("UPSTREAM_SECRET", "from-the-environment")
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    parser = argparse.ArgumentParser(prog="myaccount")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    try:
        code: int = args.handler(args)
    except AdminError as exc:
        print(f"myaccount: {exc}", file=sys.stderr)
        code = 2
    out, err = capsys.readouterr()
    return code, out, err


def _create(capsys: pytest.CaptureFixture[str], *extra: str) -> Any:
    code, out, err = run(
        capsys,
        "connections",
        "create",
        "--name",
        "github",
        "--strategy",
        "oauth2",
        "--authorization-url",
        "https://github.example/login/oauth/authorize",
        "--token-url",
        "https://github.example/login/oauth/access_token",
        "--client-id",
        "gh-client",
        "--client-secret-env",
        "UPSTREAM_SECRET",
        "--scope",
        "repo",
        "--scope",
        "read:user",
        "--auth-param",
        "allow_signup=false",
        *extra,
        "--json",
    )
    assert code == 0, err
    return json.loads(out)


def test_create_list_delete(capsys: pytest.CaptureFixture[str], core: Core) -> None:
    created = _create(capsys)
    assert created["name"] == "github" and created["strategy"] == "oauth2"
    assert created["options"]["scope"] == ["repo", "read:user"]
    assert created["options"]["authParams"] == {"allow_signup": "false"}
    with core.db.read() as conn:
        stored = ConnectionStore(conn).by_name("github")
    assert stored is not None and stored.client_secret is not None
    assert core.sealer.open(stored.client_secret, purpose="connection-secret") == b"from-the-environment"

    code, out, _ = run(capsys, "connections", "list")
    assert code == 0 and "github" in out and "oauth2" in out and "repo read:user" in out
    code, out, _ = run(capsys, "connections", "list", "--json")
    assert [c["id"] for c in json.loads(out)] == [created["id"]]

    code, _, err = run(capsys, "connections", "delete", "github")  # by name
    assert code == 0
    code, _, err = run(capsys, "connections", "delete", created["id"])
    assert code == 2 and "does not exist" in err


def test_errors_exit_2(capsys: pytest.CaptureFixture[str], core: Core) -> None:
    _create(capsys)
    code, _, err = run(
        capsys,
        "connections",
        "create",
        "--name",
        "github",
        "--strategy",
        "oauth2",
        "--authorization-url",
        "https://a.example/",
        "--token-url",
        "https://t.example/",
        "--client-id",
        "c",
        "--client-secret",
        "s",
    )
    assert code == 2 and "already exists" in err
    code, _, err = run(
        capsys,
        "connections",
        "create",
        "--name",
        "x",
        "--strategy",
        "oauth2",
        "--client-id",
        "c",
        "--client-secret-env",
        "NOT_SET",
    )
    assert code == 2 and "NOT_SET" in err


def test_reseal(capsys: pytest.CaptureFixture[str], core: Core) -> None:
    _create(capsys)
    code, out, _ = run(capsys, "connections", "reseal")
    assert code == 0 and "Re-sealed 0 values" in out
