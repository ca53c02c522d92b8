"""Every way the connect flow can go wrong, against the real upstream: bad, reused and expired tickets, a state
mismatch, a callback in another browser, the provider's own errors, a reused connect_code, a wrong or missing
code_verifier, a redirect_uri mismatch, an expired or foreign auth_session, and invalid requests. Each answers
its documented status and body, and leaves nothing half-written: no connected account appears.
"""

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from sqlalchemy import func, select

from myaccount import admin, connections
from myaccount.clock import FrozenClock
from myaccount.store.connected import ConnectionRecord, connected_accounts
from tests.conftest import LiveServer
from tests.connected import (
    APP_REDIRECT,
    CONNECTION,
    PASSWORD,
    App,
    Browser,
    UpstreamTenant,
    check,
    check_error,
    pkce_pair,
)

CONNECT = "/connected-accounts/connect"
COMPLETE = "/connected-accounts/complete"
ACCOUNTS = "/connected-accounts/accounts"


def _accounts(server: LiveServer) -> int:
    with server.core.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(connected_accounts)).scalar_one())


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _with(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = _query(url) | changes
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


class Flow:
    """One app session: its My Account token, and the connect requests it makes."""

    def __init__(self, app: App, browser: Browser) -> None:
        self.app = app
        self.browser = browser
        self.token = app.tokens()["access_token"]
        self.verifier, self.challenge = pkce_pair()

    def post(self, path: str, body: Any, **headers: str) -> httpx.Response:
        with self.app.api(self.token) as api:
            return api.post(path, json=body, headers=headers)

    def start(self, **extra: Any) -> dict[str, Any]:
        body = {
            "connection": CONNECTION,
            "redirect_uri": APP_REDIRECT,
            "state": "app-state",
            "code_challenge": self.challenge,
            "code_challenge_method": "S256",
        } | extra
        response = self.post(CONNECT, body)
        assert response.status_code == 201, response.text
        started: dict[str, Any] = response.json()
        return started

    def returned(self, started: dict[str, Any]) -> str:
        """Run the browser leg; the connect_code the app receives."""
        finished = self.browser.connect(started["connect_uri"], started["connect_params"]["ticket"])
        assert finished.query["state"] == "app-state", finished.query
        return finished.query["connect_code"]

    def complete(self, started: dict[str, Any], code: str, **overrides: Any) -> httpx.Response:
        body = {
            "auth_session": started["auth_session"],
            "connect_code": code,
            "redirect_uri": APP_REDIRECT,
            "code_verifier": self.verifier,
        } | overrides
        return self.post(COMPLETE, {k: v for k, v in body.items() if v is not None})


@pytest.fixture
def flow(our_app: App, browser: Browser, connection: ConnectionRecord) -> Flow:
    return Flow(our_app, browser)


# the connect_uri page and the callback
def test_bad_missing_and_reused_tickets(live_server: LiveServer, flow: Flow, browser: Browser) -> None:
    for params in ({"ticket": "not-a-ticket"}, {}):
        page = browser.get(f"{live_server.url}/connect", **params)
        assert page.status_code == 400 and "text/html" in page.headers["content-type"]
        assert "invalid_request" in page.text
    started = flow.start()
    assert browser.to_upstream(started["connect_uri"], started["connect_params"]["ticket"]).status_code == 302
    reused = browser.to_upstream(started["connect_uri"], started["connect_params"]["ticket"])
    assert reused.status_code == 400 and "already been used" in reused.text


def test_expired_ticket(flow: Flow, browser: Browser, clock: FrozenClock) -> None:
    started = flow.start()
    clock.advance(seconds=301)
    page = browser.to_upstream(started["connect_uri"], started["connect_params"]["ticket"])
    assert page.status_code == 400 and "expired" in page.text


def test_state_mismatch_redirects_the_error_and_ends_the_request(
    live_server: LiveServer, flow: Flow, browser: Browser
) -> None:
    started = flow.start()
    hop = browser.to_upstream(started["connect_uri"], started["connect_params"]["ticket"])
    callback = browser.sign_in(hop.headers["location"])
    assert _query(callback)["state"]
    answered = browser.back(_with(callback, state="forged-state"))
    assert answered.status_code == 302
    location = answered.headers["location"]
    assert location.startswith(APP_REDIRECT + "?")
    assert _query(location) == {
        "error": "invalid_request",
        "error_description": "The state returned by the identity provider does not match.",
        "state": "app-state",
    }
    assert "myaccount_connect_" in answered.headers["set-cookie"] and "Max-Age=0" in answered.headers["set-cookie"]
    # The real callback can no longer be used: the request failed, its cookie is gone.
    late = browser.back(callback)
    assert late.status_code == 400
    check_error(flow.complete(started, "x" * 43), 400, COMPLETE, "post", pointer="/auth_session")
    assert _accounts(live_server) == 0


def test_callback_in_another_browser(live_server: LiveServer, flow: Flow, browser: Browser) -> None:
    started = flow.start()
    hop = browser.to_upstream(started["connect_uri"], started["connect_params"]["ticket"])
    callback = browser.sign_in(hop.headers["location"])
    other = Browser()
    try:
        answered = other.back(callback)  # no binding cookie: an injected or stolen authorization response
    finally:
        other.close()
    assert answered.status_code == 400 and "No account connection is in progress" in answered.text
    assert browser.back(callback).status_code == 302  # the right browser still finishes


def test_the_providers_error_reaches_the_app(live_server: LiveServer, flow: Flow, browser: Browser) -> None:
    """prompt=none without a session at the upstream: it answers login_required, which we pass on."""
    started = flow.start(authorization_params={"prompt": "none"})
    hop = browser.to_upstream(started["connect_uri"], started["connect_params"]["ticket"])
    back = browser.http.get(hop.headers["location"])
    assert back.status_code == 302 and back.headers["location"].startswith(f"{live_server.url}/connect/callback")
    answered = browser.back(back.headers["location"])
    query = _query(answered.headers["location"])
    assert query["error"] == "login_required" and query["state"] == "app-state" and query["error_description"]
    assert _accounts(live_server) == 0


def test_the_provider_refusing_the_code(
    live_server: LiveServer, flow: Flow, browser: Browser, connection: ConnectionRecord, upstream: UpstreamTenant
) -> None:
    started = flow.start()
    hop = browser.to_upstream(started["connect_uri"], started["connect_params"]["ticket"])
    callback = browser.sign_in(hop.headers["location"])
    # Our registration at the provider is now wrong: the code exchange fails with invalid_client.
    wrong = upstream.connection_body(client_secret="not-the-secret-at-all")["options"]
    connections.update_connection(live_server.core, connection.id, {"options": wrong})
    answered = browser.back(callback)
    query = _query(answered.headers["location"])
    assert query["error"] == "access_denied" and "invalid_client" in query["error_description"]
    assert _accounts(live_server) == 0


# complete
def test_reused_connect_code_is_a_conflict(live_server: LiveServer, flow: Flow) -> None:
    started = flow.start()
    code = flow.returned(started)
    assert flow.complete(started, code).status_code == 201
    check_error(flow.complete(started, code), 409, COMPLETE, "post")
    assert _accounts(live_server) == 1


def test_wrong_code_verifier(live_server: LiveServer, flow: Flow) -> None:
    started = flow.start()
    code = flow.returned(started)
    wrong, _ = pkce_pair()
    check_error(flow.complete(started, code, code_verifier=wrong), 400, COMPLETE, "post", pointer="/code_verifier")
    # A failed redemption spends the request, as a failed authorization code exchange spends the code.
    check_error(flow.complete(started, code), 400, COMPLETE, "post", pointer="/auth_session")
    assert _accounts(live_server) == 0


def test_missing_code_verifier(live_server: LiveServer, flow: Flow) -> None:
    started = flow.start()
    code = flow.returned(started)
    check_error(flow.complete(started, code, code_verifier=None), 400, COMPLETE, "post", pointer="/code_verifier")
    assert _accounts(live_server) == 0


def test_code_verifier_without_a_challenge(live_server: LiveServer, flow: Flow) -> None:
    started = flow.start(code_challenge=None, code_challenge_method=None)
    code = flow.returned(started)
    check_error(flow.complete(started, code), 400, COMPLETE, "post", pointer="/code_verifier")


def test_redirect_uri_mismatch(live_server: LiveServer, flow: Flow) -> None:
    started = flow.start()
    code = flow.returned(started)
    mismatch = flow.complete(started, code, redirect_uri=f"{APP_REDIRECT}/other")
    check_error(mismatch, 400, COMPLETE, "post", pointer="/redirect_uri")
    assert _accounts(live_server) == 0


def test_wrong_connect_code(live_server: LiveServer, flow: Flow) -> None:
    started = flow.start()
    flow.returned(started)
    check_error(flow.complete(started, "A" * 43), 400, COMPLETE, "post", pointer="/connect_code")
    assert _accounts(live_server) == 0


def test_expired_auth_session(live_server: LiveServer, flow: Flow, clock: FrozenClock) -> None:
    started = flow.start()
    code = flow.returned(started)
    clock.advance(seconds=301)
    body = check_error(flow.complete(started, code), 400, COMPLETE, "post", pointer="/auth_session")
    assert "expired" in body["detail"]
    assert _accounts(live_server) == 0


def test_complete_before_the_browser_returns(flow: Flow) -> None:
    started = flow.start()
    check_error(flow.complete(started, "A" * 43), 400, COMPLETE, "post", pointer="/connect_code")


def test_unknown_and_foreign_auth_sessions(live_server: LiveServer, flow: Flow, our_app: App) -> None:
    started = flow.start()
    code = flow.returned(started)
    check_error(flow.complete(started, code, auth_session="x" * 43), 400, COMPLETE, "post", pointer="/auth_session")
    admin.create_user(live_server.core, email="mallory@example.com", password=PASSWORD, email_verified=True)
    mallory = Flow(our_app, flow.browser)
    mallory.token = our_app.tokens(username="mallory@example.com")["access_token"]
    check_error(mallory.complete(started, code), 400, COMPLETE, "post", pointer="/auth_session")
    assert flow.complete(started, code).status_code == 201  # the owner still can: probing spent nothing


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"auth_session": "a", "connect_code": "b"}, "/redirect_uri"),
        ({"auth_session": "a" * 65, "connect_code": "b", "redirect_uri": APP_REDIRECT}, "/auth_session"),
        ({"auth_session": "a", "connect_code": "b" * 47, "redirect_uri": APP_REDIRECT}, "/connect_code"),
        (
            {"auth_session": "a", "connect_code": "b", "redirect_uri": APP_REDIRECT, "code_verifier": "short"},
            "/code_verifier",
        ),
        ({"auth_session": "a", "connect_code": "b", "redirect_uri": APP_REDIRECT, "extra": 1}, "/extra"),
    ],
)
def test_invalid_complete_requests(flow: Flow, body: dict[str, Any], pointer: str) -> None:
    check_error(flow.post(COMPLETE, body), 400, COMPLETE, "post", pointer=pointer)


# connect
@pytest.mark.parametrize(
    ("changes", "pointer"),
    [
        ({"connection": "no-such-connection"}, "/connection"),
        ({"connection": ""}, "/connection"),
        ({"redirect_uri": "https://evil.example/steal"}, "/redirect_uri"),
        ({"redirect_uri": "not a uri"}, "/redirect_uri"),
        ({"code_challenge_method": None}, "/code_challenge_method"),
        ({"code_challenge_method": "plain"}, "/code_challenge_method"),
        ({"code_challenge": "too-short"}, "/code_challenge"),
        ({"state": ""}, "/state"),
        ({"scopes": []}, "/scopes"),
        ({"scopes": ["openid", "openid"]}, "/scopes"),
        ({"scopes": ["bad scope"]}, "/scopes"),
        ({"authorization_params": {"prompt": "always"}}, "/authorization_params/prompt"),
        ({"authorization_params": {"max_age": -1}}, "/authorization_params/max_age"),
        ({"authorization_params": {"redirect_uri": "https://evil.example/"}}, "/authorization_params/redirect_uri"),
        ({"unexpected": True}, "/unexpected"),
    ],
)
def test_invalid_connect_requests(flow: Flow, changes: dict[str, Any], pointer: str) -> None:
    body = {
        "connection": CONNECTION,
        "redirect_uri": APP_REDIRECT,
        "state": "s",
        "code_challenge": flow.challenge,
        "code_challenge_method": "S256",
    } | changes
    body = {k: v for k, v in body.items() if v is not None}
    check_error(flow.post(CONNECT, body), 400, CONNECT, "post", pointer=pointer)


def test_connect_needs_json_a_token_and_the_scope(flow: Flow, our_app: App) -> None:
    body = {"connection": CONNECTION, "redirect_uri": APP_REDIRECT}
    with our_app.api(flow.token) as api:
        as_form = api.post(CONNECT, data=body)
    check_error(as_form, 415, CONNECT, "post")
    anonymous = httpx.post(f"{our_app.url}/me/v1{CONNECT}", json=body)
    check_error(anonymous, 401, CONNECT, "post")
    read_only = our_app.tokens(scope="openid read:me:connected_accounts")["access_token"]
    with our_app.api(read_only) as api:
        check_error(api.post(CONNECT, json=body), 403, CONNECT, "post")
        check_error(
            api.post(COMPLETE, json={"auth_session": "a", "connect_code": "b", "redirect_uri": APP_REDIRECT}),
            403,
            COMPLETE,
            "post",
        )
        check_error(api.delete(f"{ACCOUNTS}/cac_abc"), 403, f"{ACCOUNTS}/{{id}}", "delete")


def test_connection_disabled_or_not_enabled_for_the_app(
    live_server: LiveServer, flow: Flow, connection: ConnectionRecord, our_app: App
) -> None:
    other, _ = admin.create_client(live_server.core, name="Other app", app_type="spa")
    connections.update_connection(live_server.core, connection.id, {"enabled_clients": [other.client_id]})
    body = {"connection": CONNECTION, "redirect_uri": APP_REDIRECT}
    check_error(flow.post(CONNECT, body), 400, CONNECT, "post", pointer="/connection")
    with our_app.api(flow.token) as api:
        assert check(api.get("/connected-accounts/connections"), "/connected-accounts/connections", "get") == {
            "connections": []
        }
    connections.update_connection(
        live_server.core,
        connection.id,
        {"enabled_clients": [our_app.client_id], "connected_accounts": {"active": False}},
    )
    check_error(flow.post(CONNECT, body), 400, CONNECT, "post", pointer="/connection")


# list and delete
@pytest.mark.parametrize(
    ("params", "pointer"),
    [({"take": "0"}, "/take"), ({"take": "21"}, "/take"), ({"take": "ten"}, "/take"), ({"from": "nope"}, "/from")],
)
def test_invalid_list_queries(flow: Flow, our_app: App, params: dict[str, str], pointer: str) -> None:
    with our_app.api(flow.token) as api:
        check_error(api.get(ACCOUNTS, params=params), 400, ACCOUNTS, "get", pointer=pointer)
        if pointer == "/take":
            connections_path = "/connected-accounts/connections"
            check_error(api.get(connections_path, params=params), 400, connections_path, "get", pointer=pointer)


def test_delete_errors(live_server: LiveServer, flow: Flow, our_app: App) -> None:
    started = flow.start()
    account = flow.complete(started, flow.returned(started)).json()
    with our_app.api(flow.token) as api:
        check_error(api.delete(f"{ACCOUNTS}/not-an-id"), 400, f"{ACCOUNTS}/{{id}}", "delete", pointer="/id")
        missing = api.delete(f"{ACCOUNTS}/cac_doesNotExist")
    # 404 is not among the statuses the contract lists for this operation (nor for deleting an authentication
    # method, where this server answers 404 too); the body is still the contract's error shape.
    assert missing.status_code == 404
    from tests.support.contract import load_contract

    load_contract().validate(missing.json(), "/components/schemas/ErrorResponse", what="404 body")
    admin.create_user(live_server.core, email="mallory@example.com", password=PASSWORD, email_verified=True)
    mallory = our_app.tokens(username="mallory@example.com")["access_token"]
    with our_app.api(mallory) as api:
        assert api.delete(f"{ACCOUNTS}/{account['id']}").status_code == 404  # not hers: not found
    assert _accounts(live_server) == 1
