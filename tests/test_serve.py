"""`myaccount serve` for real: a subprocess running granian, and the demo tenant it prints."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest

from myaccount import demo
from myaccount.audit import Caller
from myaccount.core import Core
from myaccount.oauth.grants.password import DATABASE_CONNECTION, PASSWORD_REALM
from myaccount.oauth.token_endpoint import token_request
from myaccount.serve import STOP_TIMEOUT, serving_settings, worker_environment
from myaccount.settings import Settings
from myaccount.store.clients import ClientStore
from tests.conftest import TEST_SECRET
from tests.support.live import free_port

CLI = [sys.executable, "-c", "import sys; from myaccount.cli import main; sys.exit(main())"]
STARTUP_SECONDS = 30  # bounded, with room for a loaded CI machine running tests in parallel


@dataclass
class Server:
    process: "subprocess.Popen[bytes]"
    url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text()


def clean_environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MYACCOUNT_")}
    return env | extra


@contextmanager
def running(args: list[str], *, cwd: Path, env: dict[str, str], port: int) -> Iterator[Server]:
    """Start `myaccount serve`, wait until discovery answers (bounded), and always stop it again."""
    log = cwd / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*CLI, "serve", "--port", str(port), *args], cwd=cwd, env=env, stdout=out, stderr=out
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, f"serve exited with {process.returncode}:\n{server.output()}"
            assert time.monotonic() < deadline, f"serve did not answer within {STARTUP_SECONDS} s:\n{server.output()}"
            try:
                if httpx.get(f"{server.url}/.well-known/openid-configuration", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def stop(server: Server) -> int:
    server.process.send_signal(signal.SIGTERM)
    return server.process.wait(timeout=20)


def test_serve_demo_on_a_fresh_directory(tmp_path: Path) -> None:
    """The README's promise: nothing configured, SQLite in the working directory, the demo printed and working."""
    port = free_port()
    with running(["--demo"], cwd=tmp_path, env=clean_environment(), port=port) as server:
        discovery = httpx.get(f"{server.url}/.well-known/openid-configuration").json()
        assert discovery["issuer"] == f"http://localhost:{port}/"  # the public origin follows --port
        output = server.output()
        assert demo.EMAIL in output and demo.PASSWORD in output and demo.WEB_CLIENT_SECRET in output
        if shutil.which("curl"):
            # The printed commands are meant to be pasted: run the token one as printed.
            start = output.index("TOKEN=$(")
            command = output[start : output.index("\n", output.index("python3 -c", start))]
            result = subprocess.run(
                ["bash", "-c", command + '\necho "$TOKEN"'], capture_output=True, text=True, timeout=20, check=True
            )
            claims = jwt.decode(result.stdout.strip(), options={"verify_signature": False})
            assert claims["aud"][0] == f"http://localhost:{port}/me/"
            assert "read:me:authentication_methods" in claims["scope"].split()
        assert stop(server) == 0
    assert (tmp_path / "myaccount.db").exists() and (tmp_path / "myaccount.secret").exists()
    assert "Granian shutdown completed" in server.output()


def test_serve_applies_a_tenant_file_with_two_workers(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    api = "https://api.example.test/"
    tenant = {
        "resource_servers": [{"identifier": api, "scopes": ["read:things"]}],
        "clients": [
            {
                "client_id": "served-m2m-client",
                "client_secret": "served-m2m-secret-0123456789",
                "name": "Backend",
                "app_type": "non_interactive",
            }
        ],
        "client_grants": [{"client_id": "served-m2m-client", "audience": api, "scope": ["read:things"]}],
    }
    (tmp_path / "tenant.json").write_text(json.dumps(tenant))
    env = clean_environment(MYACCOUNT_DATABASE_URL=database_url, MYACCOUNT_SECRET_KEY=TEST_SECRET)
    args = ["--tenant", "tenant.json", "--workers", "2"]
    with running(args, cwd=tmp_path, env=env, port=port) as server:
        assert "clients: 1 created" in server.output()
        for _ in range(4):  # spread over both workers
            response = httpx.post(
                f"{server.url}/oauth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "served-m2m-client",
                    "client_secret": "served-m2m-secret-0123456789",
                    "audience": api,
                },
            )
            assert response.status_code == 200, response.text
            assert jwt.decode(response.json()["access_token"], options={"verify_signature": False})["aud"] == api
        assert stop(server) == 0
    with running(args, cwd=tmp_path, env=env, port=port) as server:
        assert "clients: 0 created, 0 updated, 1 unchanged" in server.output()  # idempotent across restarts
        assert stop(server) == 0


def test_sigterm_while_workers_start_still_stops_cleanly(tmp_path: Path) -> None:
    """Workers are forked with the main process's signal handler; a stop during their start must not be lost."""
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*CLI, "serve", "--port", str(free_port()), "--workers", "2"],
            cwd=tmp_path,
            env=clean_environment(),
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while "Spawning worker-2" not in log.read_text():  # granian's own handlers are in place from here on
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.01)
        process.send_signal(signal.SIGTERM)
        # A lost signal hangs forever; a slow (loaded) machine may need the whole worker kill timeout.
        assert process.wait(timeout=STOP_TIMEOUT + 30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_serve_refuses_a_broken_tenant_file_before_starting(tmp_path: Path) -> None:
    (tmp_path / "tenant.json").write_text('{"clients": [{"client_id": 7}]}')
    result = subprocess.run(
        [*CLI, "serve", "--port", str(free_port()), "--tenant", "tenant.json"],
        cwd=tmp_path,
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "clients[0].client_id: expected a string" in result.stderr
    assert "clients[0].name: required" in result.stderr


def test_public_url_defaults_to_the_port_unless_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MYACCOUNT_PUBLIC_URL", raising=False)
    monkeypatch.delenv("MYACCOUNT_CONFIG", raising=False)
    assert serving_settings(None, port=9123).public_url == "http://localhost:9123"
    config = tmp_path / "settings.toml"
    config.write_text('public_url = "https://id.example.com"\ndatabase_url = "sqlite:///from-file.db"\n')
    from_file = serving_settings(config, port=9123)
    assert from_file.public_url == "https://id.example.com"
    assert worker_environment(from_file, config) == {
        "MYACCOUNT_PUBLIC_URL": "https://id.example.com",
        "MYACCOUNT_DATABASE_URL": "sqlite:///from-file.db",
        "MYACCOUNT_CONFIG": str(config.resolve()),
    }
    monkeypatch.setenv("MYACCOUNT_PUBLIC_URL", "https://env.example.com")
    assert serving_settings(config, port=9123).public_url == "https://env.example.com"


def test_demo_is_idempotent_and_its_credentials_work(core: Core) -> None:
    first = demo.ensure(core)
    assert first.counts["users"].created == 1 and first.counts["clients"].created == 2
    second = demo.ensure(core)
    assert not second.changed
    text = demo.describe(core)
    assert f"{core.settings.origin}/account/callback" in text
    with core.db.read() as conn:
        spa = ClientStore(conn).get(demo.SPA_CLIENT_ID)
        grant = ClientStore(conn).grant(demo.SPA_CLIENT_ID, core.settings.my_account_audience, "user")
    assert spa is not None and spa.is_public and spa.allowed_origins == [core.settings.origin]
    assert grant is not None and "create:me:authentication_methods" in grant.scope
    body = token_request(
        core,
        {
            "grant_type": PASSWORD_REALM,
            "realm": DATABASE_CONNECTION,
            "client_id": demo.WEB_CLIENT_ID,
            "client_secret": demo.WEB_CLIENT_SECRET,
            "username": demo.EMAIL,
            "password": demo.PASSWORD,
            "audience": core.settings.my_account_audience,
            "scope": "openid read:me:authentication_methods",
        },
        basic=None,
        caller=Caller(),
    )
    assert isinstance(body["access_token"], str)
    claims = core.tokens.verify_access_token(body["access_token"], audience=core.settings.my_account_audience)
    assert "read:me:authentication_methods" in claims.scopes


def test_demo_follows_the_origin(make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core]) -> None:
    demo.ensure(make_core(make_settings(public_url="http://localhost:8000")))
    moved = make_core(make_settings(public_url="http://localhost:9000"))
    report = demo.ensure(moved)
    assert report.counts["clients"].updated == 2  # callbacks and origins move with the port
    with moved.db.read() as conn:
        spa = ClientStore(conn).get(demo.SPA_CLIENT_ID)
    assert spa is not None and spa.callbacks == ["http://localhost:9000/account/callback"]


def test_serve_with_tls(tmp_path: Path) -> None:
    from tests.support.tls import make_certificates

    certs = make_certificates(tmp_path / "tls")
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*CLI, "serve", "--port", str(port), "--tls-cert", str(certs.cert_file), "--tls-key", str(certs.key_file)],
            cwd=tmp_path,
            env=clean_environment(),
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                response = httpx.get(
                    f"https://localhost:{port}/.well-known/openid-configuration", verify=certs.ssl_context(), timeout=2
                )
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert response.json()["issuer"] == f"https://localhost:{port}/"
        with pytest.raises(httpx.TransportError):  # plain HTTP is not served on that port
            httpx.get(f"http://localhost:{port}/healthz", timeout=2).raise_for_status()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
