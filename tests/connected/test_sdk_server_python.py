"""auth0-server-python's `MyAccountClient` (1.0.0b20) drives every connected-accounts operation against us: the
connections list, connect, complete, the accounts list and delete, plus its error type on a reused code.

The SDK speaks only `https://{domain}`, so our server runs on `https://localhost:PORT` with a certificate from a
throwaway CA (`tests/support/tls.py`) that the SDK (its `ssl_context`) and the browser trust. The upstream stays on
plain HTTP: only our server has to satisfy the SDK.
"""

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from auth0_server_python.auth_server.my_account_client import MyAccountClient
from auth0_server_python.auth_types import CompleteConnectAccountRequest, ConnectAccountRequest
from auth0_server_python.error import MyAccountApiError

from myaccount import connections
from myaccount.app import create_app
from myaccount.core import Core
from myaccount.settings import Settings
from tests.connected import (
    APP_REDIRECT,
    CONNECTION,
    REQUESTED_TOKEN_TYPE,
    App,
    Browser,
    UpstreamTenant,
    make_app,
    pkce_pair,
    running_upstream,
)
from tests.support.live import free_port, serve
from tests.support.tls import TestCertificates, make_certificates

T = TypeVar("T")


@dataclass
class Setup:
    app: App
    upstream: UpstreamTenant
    tls: TestCertificates

    @property
    def domain(self) -> str:
        return self.app.url.split("://", 1)[1]


@pytest.fixture(autouse=True)
def _no_ambient_trust(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


@pytest.fixture
def setup(
    tmp_path: Path,
    make_settings: Callable[..., Settings],
    make_core: Callable[[Settings], Core],
    migrated_upstream: Path,
) -> Iterator[Setup]:
    tls = make_certificates(tmp_path / "tls")
    port = free_port()
    url = f"https://localhost:{port}"
    settings = make_settings(public_url=url)
    core = make_core(settings)
    with serve(create_app(settings, core=core), port, **tls.server_options):
        callback = f"{url}/connect/callback"
        with running_upstream(
            make_settings, make_core, tmp_path, callback=callback, template=migrated_upstream
        ) as upstream:
            connections.create_connection(core, upstream.connection_body())
            yield Setup(make_app(core, url), upstream, tls)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def _tokens(setup: Setup) -> dict[str, Any]:
    with httpx.Client(verify=setup.tls.ssl_context()) as http:
        response = http.post(
            f"{setup.app.url}/oauth/token",
            data={
                "grant_type": "http://auth0.com/oauth/grant-type/password-realm",
                "client_id": setup.app.client_id,
                "client_secret": setup.app.client_secret,
                "username": "alice@example.com",
                "password": "correct horse battery staple 9",
                "realm": "Username-Password-Authentication",
                "audience": f"{setup.app.url}/me/",
                "scope": "openid offline_access create:me:connected_accounts read:me:connected_accounts "
                "delete:me:connected_accounts",
            },
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_every_connected_accounts_call_through_the_sdk(setup: Setup) -> None:
    sdk = MyAccountClient(setup.domain, ssl_context=setup.tls.ssl_context())
    tokens = _tokens(setup)
    token = tokens["access_token"]

    available = _run(sdk.list_connected_account_connections(token))
    assert [(c.name, c.strategy) for c in available.connections] == [(CONNECTION, "oidc")] and available.next is None

    verifier, challenge = pkce_pair()
    started = _run(
        sdk.connect_account(
            token,
            ConnectAccountRequest(
                connection=CONNECTION, redirect_uri=APP_REDIRECT, state="sdk-state", code_challenge=challenge
            ),
        )
    )
    assert started.connect_uri == f"{setup.app.url}/connect" and started.expires_in == 300
    browser = Browser(verify=setup.tls.ssl_context())
    try:
        finished = browser.connect(started.connect_uri, started.connect_params.ticket)
    finally:
        browser.close()
    assert finished.query["state"] == "sdk-state"
    completion = CompleteConnectAccountRequest(
        auth_session=started.auth_session,
        connect_code=finished.query["connect_code"],
        redirect_uri=APP_REDIRECT,
        code_verifier=verifier,
    )
    account = _run(sdk.complete_connect_account(token, completion))
    assert account.connection == CONNECTION and account.access_type == "offline" and account.id.startswith("cac_")

    with pytest.raises(MyAccountApiError) as reused:
        _run(sdk.complete_connect_account(token, completion))
    assert reused.value.status == 409

    listed = _run(sdk.list_connected_accounts(token, connection=CONNECTION, take=5))
    assert [a.id for a in listed.accounts] == [account.id] and listed.next is None

    with httpx.Client(verify=setup.tls.ssl_context()) as http:
        exchanged = http.post(
            f"{setup.app.url}/oauth/token",
            data={
                "grant_type": "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token",
                "client_id": setup.app.client_id,
                "client_secret": setup.app.client_secret,
                "subject_token": tokens["refresh_token"],
                "subject_token_type": "urn:ietf:params:oauth:token-type:refresh_token",
                "requested_token_type": REQUESTED_TOKEN_TYPE,
                "connection": CONNECTION,
            },
        )
    assert exchanged.status_code == 200, exchanged.text

    _run(sdk.delete_connected_account(token, account.id))
    assert _run(sdk.list_connected_accounts(token)).accounts == []
    with pytest.raises(MyAccountApiError) as missing:
        _run(sdk.delete_connected_account(token, account.id))
    assert missing.value.status == 404
