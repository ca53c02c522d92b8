"""The whole life of a connected account against a real upstream (a second MyAccount): list the connections,
connect, complete, list the account, exchange for the upstream's access token, refresh it when it expires,
disconnect (and see the upstream revoke the grant). Every My Account response is checked against the contract.
"""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from myaccount import connections
from myaccount.clock import FrozenClock
from myaccount.store.connected import ConnectedAccountStore, ConnectionRecord
from myaccount.store.schema import audit_events, refresh_tokens
from tests.conftest import LiveServer
from tests.connected import (
    APP_REDIRECT,
    CONNECTION,
    REQUESTED_TOKEN_TYPE,
    UPSTREAM_API,
    App,
    Browser,
    UpstreamTenant,
    check,
    pkce_pair,
)
from tests.support.contract import check_request


def _connected(our_app: App, browser: Browser, token: str, **extra: object) -> dict[str, Any]:
    verifier, challenge = pkce_pair()
    body = {
        "connection": CONNECTION,
        "redirect_uri": APP_REDIRECT,
        "state": "app-state-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    } | extra
    check_request(body, "/connected-accounts/connect", "post")
    with our_app.api(token) as api:
        started = check(api.post("/connected-accounts/connect", json=body), "/connected-accounts/connect", "post")
        finished = browser.connect(started["connect_uri"], started["connect_params"]["ticket"])
        assert finished.location.startswith(APP_REDIRECT + "?")
        assert finished.query["state"] == "app-state-1"
        completion = {
            "auth_session": started["auth_session"],
            "connect_code": finished.query["connect_code"],
            "redirect_uri": APP_REDIRECT,
            "code_verifier": verifier,
        }
        check_request(completion, "/connected-accounts/complete", "post")
        response = api.post("/connected-accounts/complete", json=completion)
    assert response.status_code == 201, response.text
    account: dict[str, Any] = check(response, "/connected-accounts/complete", "post")
    return account


def test_connect_complete_list_exchange_refresh_disconnect(
    live_server: LiveServer,
    our_app: App,
    upstream: UpstreamTenant,
    connection: ConnectionRecord,
    browser: Browser,
    clock: FrozenClock,
) -> None:
    tokens = our_app.tokens()
    with our_app.api(tokens["access_token"]) as api:
        listed = check(api.get("/connected-accounts/connections"), "/connected-accounts/connections", "get")
        assert listed == {
            "connections": [
                {
                    "name": CONNECTION,
                    "strategy": "oidc",
                    "scopes": ["openid", "profile", "email", "offline_access", "read:calendar"],
                }
            ]
        }
        assert check(api.get("/connected-accounts/accounts"), "/connected-accounts/accounts", "get") == {"accounts": []}

    account = _connected(our_app, browser, tokens["access_token"])
    assert str(account["id"]).startswith("cac_")
    assert account["connection"] == CONNECTION and account["access_type"] == "offline"
    assert set(account["scopes"]) == {"openid", "profile", "email", "offline_access", "read:calendar"}

    with our_app.api(tokens["access_token"]) as api:
        accounts = check(api.get("/connected-accounts/accounts"), "/connected-accounts/accounts", "get")
        assert accounts == {"accounts": [account]}
        only = api.get("/connected-accounts/accounts", params={"connection": CONNECTION})
        assert check(only, "/connected-accounts/accounts", "get") == {"accounts": [account]}
        other = api.get("/connected-accounts/accounts", params={"connection": "google-oauth2"})
        assert check(other, "/connected-accounts/accounts", "get") == {"accounts": []}

    # The upstream's tokens are in the vault, sealed: nothing readable in the row.
    with live_server.core.db.read() as conn:
        stored = ConnectedAccountStore(conn).get(our_app.user.id, str(account["id"]))
    assert stored is not None and stored.upstream_user_id == upstream.user.id
    assert stored.access_token and stored.access_token.startswith("v1.")
    assert stored.refresh_token and stored.refresh_token.startswith("v1.")

    # Token Vault: the app exchanges the user's refresh token for the upstream's access token.
    exchanged = our_app.exchange(tokens["refresh_token"])
    assert exchanged.status_code == 200, exchanged.text
    first = exchanged.json()
    assert first["issued_token_type"] == REQUESTED_TOKEN_TYPE and first["token_type"] == "Bearer"
    assert 0 < first["expires_in"] <= 600
    assert "read:calendar" in first["scope"].split()
    claims = upstream.core.tokens.verify_access_token(first["access_token"], audience=UPSTREAM_API)
    assert claims.subject == upstream.user.id and "read:calendar" in claims.scopes
    userinfo = httpx.get(f"{upstream.url}/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"})
    assert userinfo.status_code == 200 and userinfo.json()["sub"] == upstream.user.id

    # Still fresh: the same token again, and nothing asked of the upstream.
    again = our_app.exchange(tokens["refresh_token"]).json()
    assert again["access_token"] == first["access_token"]
    with upstream.core.db.read() as conn:
        rows = list(conn.execute(select(refresh_tokens).where(refresh_tokens.c.user_id == upstream.user.id)))
    assert len(rows) == 1 and rows[0].rotated_at is None

    # The access token may also be the subject (the app's own token for the user).
    by_access = our_app.exchange(
        tokens["access_token"], subject_token_type="urn:ietf:params:oauth:token-type:access_token"
    )
    assert by_access.status_code == 200 and by_access.json()["access_token"] == first["access_token"]

    # Past the upstream token's expiry: the vault refreshes it upstream (a refresh_token grant there, rotating).
    clock.advance(seconds=601)
    refreshed = our_app.exchange(tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["access_token"] != first["access_token"]
    assert upstream.core.tokens.verify_access_token(second["access_token"], audience=UPSTREAM_API).subject == (
        upstream.user.id
    )
    with upstream.core.db.read() as conn:
        rows = list(conn.execute(select(refresh_tokens).where(refresh_tokens.c.user_id == upstream.user.id)))
        refreshed_events = list(
            conn.execute(select(audit_events).where(audit_events.c.description == "Tokens issued (refresh_token)"))
        )
    assert len(rows) == 2 and sum(1 for r in rows if r.rotated_at is not None) == 1
    assert len(refreshed_events) == 1

    # Disconnect: 204, the account is gone, the upstream revoked the grant (RFC 7009), and the vault says so.
    tokens = our_app.tokens()  # the first My Account token expired with the clock
    with our_app.api(tokens["access_token"]) as api:
        deleted = api.delete(f"/connected-accounts/accounts/{account['id']}")
        assert deleted.status_code == 204
        check(deleted, "/connected-accounts/accounts/{id}", "delete")
        assert check(api.get("/connected-accounts/accounts"), "/connected-accounts/accounts", "get") == {"accounts": []}
    with upstream.core.db.read() as conn:
        current = [r for r in conn.execute(select(refresh_tokens)) if r.rotated_at is None]
        assert len(current) == 1 and current[0].revoked_at is not None
    gone = our_app.exchange(tokens["refresh_token"])
    assert gone.status_code == 400 and gone.json()["error"] == "invalid_grant"


def test_connect_without_pkce_or_state(
    live_server: LiveServer, our_app: App, connection: ConnectionRecord, browser: Browser
) -> None:
    """PKCE and state are optional for the app (the contract's request schema); the redirect then has no state."""
    tokens = our_app.tokens()
    with our_app.api(tokens["access_token"]) as api:
        body = {"connection": CONNECTION, "redirect_uri": APP_REDIRECT, "scopes": ["openid", "read:calendar"]}
        started = check(api.post("/connected-accounts/connect", json=body), "/connected-accounts/connect", "post")
        assert len(started["auth_session"]) <= 64 and started["expires_in"] == 300
        assert started["connect_uri"] == f"{live_server.url}/connect"
        finished = browser.connect(started["connect_uri"], started["connect_params"]["ticket"])
        assert set(finished.query) == {"connect_code"} and len(finished.query["connect_code"]) <= 46
        completed = api.post(
            "/connected-accounts/complete",
            json={
                "auth_session": started["auth_session"],
                "connect_code": finished.query["connect_code"],
                "redirect_uri": APP_REDIRECT,
            },
        )
        account = check(completed, "/connected-accounts/complete", "post")
    assert completed.status_code == 201
    # Requested scopes replace the connection's, but offline_access is kept (no refresh token otherwise).
    assert set(account["scopes"]) == {"openid", "read:calendar", "offline_access"}


def test_the_upstream_sees_pkce_and_our_state(
    live_server: LiveServer, our_app: App, connection: ConnectionRecord, browser: Browser
) -> None:
    tokens = our_app.tokens()
    with our_app.api(tokens["access_token"]) as api:
        body = {
            "connection": CONNECTION,
            "redirect_uri": APP_REDIRECT,
            "state": "s",
            "authorization_params": {"login_hint": "bob@upstream.test", "max_age": 0},
        }
        started = api.post("/connected-accounts/connect", json=body).json()
    hop = browser.to_upstream(started["connect_uri"], started["connect_params"]["ticket"])
    assert hop.status_code == 302
    sent = {k: v[0] for k, v in parse_qs(urlsplit(hop.headers["location"]).query).items()}
    assert sent["response_type"] == "code" and sent["code_challenge_method"] == "S256"
    assert len(sent["code_challenge"]) == 43 and sent["state"] != "s"
    assert sent["redirect_uri"] == f"{live_server.url}/connect/callback"
    assert sent["audience"] == UPSTREAM_API and sent["login_hint"] == "bob@upstream.test" and sent["max_age"] == "0"
    assert sent["scope"] == "openid profile email offline_access read:calendar"
    cookie = hop.headers["set-cookie"]
    assert cookie.startswith("myaccount_connect_") and "HttpOnly" in cookie and "Path=/connect/callback" in cookie


def test_paging_filters_and_reconnecting(
    live_server: LiveServer,
    our_app: App,
    upstream: UpstreamTenant,
    connection: ConnectionRecord,
    browser: Browser,
) -> None:
    connections.create_connection(live_server.core, upstream.connection_body() | {"name": "upstream-two"})
    tokens = our_app.tokens()
    first = _connected(our_app, browser, tokens["access_token"])
    second = _connected(our_app, browser, tokens["access_token"], connection="upstream-two")
    ids = sorted([first["id"], second["id"]])
    with our_app.api(tokens["access_token"]) as api:
        page = check(api.get("/connected-accounts/accounts", params={"take": 1}), "/connected-accounts/accounts", "get")
        assert [a["id"] for a in page["accounts"]] == ids[:1] and page["next"]
        rest = api.get("/connected-accounts/accounts", params={"take": 1, "from": page["next"]})
        assert [a["id"] for a in check(rest, "/connected-accounts/accounts", "get")["accounts"]] == ids[1:]
        both = api.get(
            "/connected-accounts/accounts", params=[("connection", CONNECTION), ("connection", "upstream-two")]
        )
        assert len(check(both, "/connected-accounts/accounts", "get")["accounts"]) == 2
        names = api.get("/connected-accounts/connections", params={"take": 1})
        listed = check(names, "/connected-accounts/connections", "get")
        assert len(listed["connections"]) == 1 and listed["next"]
        after = api.get("/connected-accounts/connections", params={"take": 1, "from": listed["next"]}).json()
        assert {listed["connections"][0]["name"], after["connections"][0]["name"]} == {CONNECTION, "upstream-two"}
        assert "next" not in after

    # Connecting the same connection again keeps the account (same id and creation time), replaces its tokens,
    # and revokes the grant they replace at the provider.
    with upstream.core.db.read() as conn:
        before = {r.id for r in conn.execute(select(refresh_tokens)) if r.revoked_at is None}
    again = _connected(our_app, browser, tokens["access_token"])
    assert again["id"] == first["id"] and again["created_at"] == first["created_at"]
    with upstream.core.db.read() as conn:
        revoked = {r.id for r in conn.execute(select(refresh_tokens)) if r.revoked_at is not None}
    assert len(before & revoked) == 1
    with our_app.api(tokens["access_token"]) as api:
        assert len(api.get("/connected-accounts/accounts").json()["accounts"]) == 2
