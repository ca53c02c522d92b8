"""The Token Vault: the federated-connection token exchange (RFC 8693 shaped) and its errors, the upstream refusing
or missing a refresh, concurrent refreshes, auth0-python's `access_token_for_connection`, and key rotation."""

import base64
import dataclasses
import threading
from collections.abc import Callable
from typing import Any

import pytest
from auth0.authentication import GetToken
from sqlalchemy import select

from myaccount import admin, connections
from myaccount.clock import FrozenClock
from myaccount.connected_accounts import RefreshRefused, reseal, vault_token
from myaccount.core import Core
from myaccount.crypto.sealing import Sealer
from myaccount.settings import Settings
from myaccount.store.connected import ConnectedAccountStore, ConnectionRecord, ConnectionStore
from myaccount.store.grants import GrantStore
from myaccount.store.schema import refresh_tokens
from tests.conftest import TEST_SECRET, LiveServer
from tests.connected import (
    APP_REDIRECT,
    CONNECTION,
    GRANT_TYPE,
    REFRESH_TOKEN_TYPE,
    REQUESTED_TOKEN_TYPE,
    UPSTREAM_API,
    App,
    Browser,
    UpstreamTenant,
    pkce_pair,
)
from tests.support.live import free_port


def _connect(app: App, browser: Browser, token: str) -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    with app.api(token) as api:
        started = api.post(
            "/connected-accounts/connect",
            json={
                "connection": CONNECTION,
                "redirect_uri": APP_REDIRECT,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        ).json()
        finished = browser.connect(started["connect_uri"], started["connect_params"]["ticket"])
        done = api.post(
            "/connected-accounts/complete",
            json={
                "auth_session": started["auth_session"],
                "connect_code": finished.query["connect_code"],
                "redirect_uri": APP_REDIRECT,
                "code_verifier": verifier,
            },
        )
    assert done.status_code == 201, done.text
    account: dict[str, Any] = done.json()
    return account


@pytest.fixture
def connected(our_app: App, browser: Browser, connection: ConnectionRecord) -> dict[str, Any]:
    """The user's tokens at our server (`access_token`, `refresh_token`), with an account connected."""
    tokens = our_app.tokens()
    _connect(our_app, browser, tokens["access_token"])
    return tokens


def _upstream_refreshes(upstream: UpstreamTenant) -> int:
    with upstream.core.db.read() as conn:
        rows = conn.execute(select(refresh_tokens).where(refresh_tokens.c.user_id == upstream.user.id))
        return sum(1 for r in rows if r.rotated_at is not None)


def test_errors_before_any_account_is_connected(
    live_server: LiveServer, our_app: App, connection: ConnectionRecord
) -> None:
    tokens = our_app.tokens()
    not_connected = our_app.exchange(tokens["refresh_token"])
    assert not_connected.status_code == 400
    assert not_connected.json() == {
        "error": "invalid_grant",
        "error_description": f"The user has not connected an account with {CONNECTION}.",
    }
    unknown = our_app.exchange(tokens["refresh_token"], connection="nope")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("overrides", "status", "error"),
    [
        ({"subject_token": "not-a-token"}, 400, "invalid_grant"),
        (
            {"subject_token_type": "urn:ietf:params:oauth:token-type:access_token", "subject_token": "a.b.c"},
            400,
            "invalid_grant",
        ),
        ({"subject_token_type": "urn:ietf:params:oauth:token-type:id_token"}, 400, "invalid_request"),
        ({"requested_token_type": "urn:ietf:params:oauth:token-type:access_token"}, 400, "invalid_request"),
        ({"connection": ""}, 400, "invalid_request"),
        ({"subject_token": ""}, 400, "invalid_request"),
        ({"client_secret": "wrong-secret-wrong-secret"}, 401, "invalid_client"),
        ({"login_hint": "somebody-else"}, 400, "invalid_grant"),
    ],
)
def test_exchange_errors(
    connected: dict[str, Any], our_app: App, overrides: dict[str, str], status: int, error: str
) -> None:
    params = {"subject_token": connected["refresh_token"]} | overrides
    response = our_app.exchange(**params)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error


def test_login_hint_is_the_providers_user_id(connected: dict[str, Any], our_app: App, upstream: UpstreamTenant) -> None:
    response = our_app.exchange(connected["refresh_token"], login_hint=upstream.user.id)
    assert response.status_code == 200, response.text


def test_only_authenticated_clients_holding_the_subject_token(
    live_server: LiveServer, connected: dict[str, Any], our_app: App
) -> None:
    spa, _ = admin.create_client(live_server.core, name="Public", app_type="spa", grant_types=[GRANT_TYPE])
    public = our_app.exchange(connected["refresh_token"], client_id=spa.client_id, client_secret="")
    assert public.status_code == 403 and public.json()["error"] == "unauthorized_client"
    other, secret = admin.create_client(
        live_server.core, name="Other", app_type="regular_web", grant_types=[GRANT_TYPE]
    )
    assert secret is not None
    foreign = our_app.exchange(connected["refresh_token"], client_id=other.client_id, client_secret=secret)
    assert foreign.status_code == 400 and foreign.json()["error"] == "invalid_grant"
    foreign_access = our_app.exchange(
        connected["access_token"],
        client_id=other.client_id,
        client_secret=secret,
        subject_token_type="urn:ietf:params:oauth:token-type:access_token",
    )
    assert foreign_access.status_code == 400 and foreign_access.json()["error"] == "invalid_grant"
    plain, plain_secret = admin.create_client(live_server.core, name="No vault", app_type="regular_web")
    assert plain_secret is not None
    refused = our_app.exchange(connected["refresh_token"], client_id=plain.client_id, client_secret=plain_secret)
    assert refused.status_code == 403 and refused.json()["error"] == "unauthorized_client"


def test_the_upstream_refusing_the_refresh(
    connected: dict[str, Any], our_app: App, upstream: UpstreamTenant, clock: FrozenClock
) -> None:
    with upstream.core.db.write() as conn:  # the user revoked our access at the provider
        for row in conn.execute(select(refresh_tokens)):
            GrantStore(conn).revoke_family(row.family_id, now=clock.now())
    clock.advance(seconds=601)
    refused = our_app.exchange(connected["refresh_token"])
    assert refused.status_code == 400
    body = refused.json()
    assert body["error"] == "invalid_grant" and f"{CONNECTION} refused to refresh" in body["error_description"]
    with our_app.api(our_app.tokens()["access_token"]) as api:
        assert len(api.get("/connected-accounts/accounts").json()["accounts"]) == 1  # kept: reconnecting fixes it


def test_the_upstream_unreachable(
    live_server: LiveServer, connected: dict[str, Any], our_app: App, upstream: UpstreamTenant, clock: FrozenClock
) -> None:
    with live_server.core.db.write() as conn:
        store = ConnectionStore(conn)
        record = store.by_name(CONNECTION)
        assert record is not None
        dead = f"http://127.0.0.1:{free_port()}/oauth/token"
        store.update(record.id, options=record.options | {"token_endpoint": dead})
    clock.advance(seconds=601)
    for _ in range(2):  # the refresh lease is released on failure: the second try is not left waiting
        unavailable = our_app.exchange(connected["refresh_token"])
        assert unavailable.status_code == 503
        assert unavailable.json()["error"] == "temporarily_unavailable"


def test_concurrent_exchanges_refresh_once(
    connected: dict[str, Any], our_app: App, upstream: UpstreamTenant, clock: FrozenClock
) -> None:
    clock.advance(seconds=601)
    results: list[Any] = []

    def exchange() -> None:
        response = our_app.exchange(connected["refresh_token"])
        results.append((response.status_code, response.json().get("access_token")))

    threads = [threading.Thread(target=exchange) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in results] == [200] * 8, results
    assert len({access for _, access in results}) == 1
    assert _upstream_refreshes(upstream) == 1  # rotated once: the old refresh token was never used twice


def test_auth0_python_access_token_for_connection(
    live_server: LiveServer, connected: dict[str, Any], our_app: App, upstream: UpstreamTenant
) -> None:
    auth = GetToken(live_server.domain, our_app.client_id, client_secret=our_app.client_secret, protocol="http")
    result = auth.access_token_for_connection(
        subject_token_type=REFRESH_TOKEN_TYPE,
        subject_token=connected["refresh_token"],
        requested_token_type=REQUESTED_TOKEN_TYPE,
        connection=CONNECTION,
    )
    assert result["issued_token_type"] == REQUESTED_TOKEN_TYPE and result["token_type"] == "Bearer"
    assert upstream.core.tokens.verify_access_token(result["access_token"], audience=UPSTREAM_API).subject == (
        upstream.user.id
    )


def _key(seed: bytes) -> str:
    return base64.urlsafe_b64encode(seed * 32).rstrip(b"=").decode()


def test_key_rotation_reseals_the_vault(
    live_server: LiveServer,
    connected: dict[str, Any],
    our_app: App,
    upstream: UpstreamTenant,
    make_settings: Callable[..., Settings],
    make_core: Callable[[Settings], Core],
    clock: FrozenClock,
) -> None:
    database = live_server.core.settings.database_url
    new = _key(b"n")
    # A process holding only the new key (the signing keys have their own rotation, so borrow a core): nothing of
    # the vault opens yet, and reseal leaves those values as they are, and says so.
    alone = dataclasses.replace(live_server.core, sealer=Sealer.from_config(new))
    report = reseal(alone)
    assert report.resealed == 0 and report.unreadable >= 3
    # New key first, old key kept: every value is re-sealed under the new one.
    both = make_core(
        make_settings(public_url=live_server.url, database_url=database, secret_key=f"{new},{TEST_SECRET}")
    )
    report = reseal(both)
    assert report.unreadable == 0 and report.resealed >= 3  # access token, refresh token, client secret, …
    assert reseal(both).resealed == 0  # idempotent
    with both.db.read() as conn:
        (account,) = ConnectedAccountStore(conn).find(our_app.user.id)
        record = ConnectionStore(conn).by_name(CONNECTION)
    assert record is not None and record.client_secret is not None
    for sealed in (account.access_token, account.refresh_token, record.client_secret):
        assert sealed is not None and not both.sealer.needs_reseal(sealed)
    # The old key can go: the vault still opens the tokens, and refreshes upstream with the re-sealed secret.
    clock.advance(seconds=601)
    vaulted = vault_token(alone, user_id=our_app.user.id, connection=CONNECTION)
    assert upstream.core.tokens.verify_access_token(vaulted.access_token, audience=UPSTREAM_API)
    assert _upstream_refreshes(upstream) == 1
    with pytest.raises(RefreshRefused):
        _expire_and_break(alone, our_app, clock)


def _expire_and_break(core: Core, app: App, clock: FrozenClock) -> None:
    """With the stored refresh token unreadable (sealed under a key nobody has), the vault asks to reconnect."""
    with core.db.write() as conn:
        (account,) = ConnectedAccountStore(conn).find(app.user.id)
        ConnectedAccountStore(conn).update(account.id, refresh_token="v1.deadbeef.AAAA")
    clock.advance(seconds=601)
    vault_token(core, user_id=app.user.id, connection=CONNECTION)


def test_deleting_the_connection_revokes_and_removes_accounts(
    live_server: LiveServer,
    connected: dict[str, Any],
    our_app: App,
    upstream: UpstreamTenant,
    connection: ConnectionRecord,
) -> None:
    connections.delete_connection(live_server.core, connection.id)
    with live_server.core.db.read() as conn:
        assert ConnectedAccountStore(conn).find(our_app.user.id) == []
    with upstream.core.db.read() as conn:
        assert all(row.revoked_at is not None for row in conn.execute(select(refresh_tokens)))
