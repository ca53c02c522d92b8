"""Users through `/api/v2/users`: blocking (sign-in and refresh tokens stop working, unblocking restores sign-in),
search, create and update rules."""

from typing import Any

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from myaccount import login
from myaccount.audit import Caller
from myaccount.core import Core
from myaccount.store.schema import login_sessions
from tests.management import Api, grant_management, management_token
from tests.support.flows import csrf_from
from tests.support.tenant import PASSWORD, Tenant

DATABASE = "Username-Password-Authentication"


@pytest.fixture
def api(client: TestClient, tenant: Tenant, core: Core) -> Api:
    grant_management(core, tenant)
    return Api(client, management_token(client, tenant, core))


def _password_login(client: TestClient, tenant: Tenant, core: Core, password: str = PASSWORD) -> Any:
    return client.post(
        "/oauth/token",
        data={
            "grant_type": "http://auth0.com/oauth/grant-type/password-realm",
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "username": "alice@example.com",
            "password": password,
            "realm": DATABASE,
            "audience": core.settings.my_account_audience,
            "scope": "openid offline_access read:me:factors",
        },
    )


def _refresh(client: TestClient, tenant: Tenant, refresh_token: str) -> Any:
    return client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "refresh_token": refresh_token,
        },
    )


def _hosted_login(client: TestClient, tenant: Tenant) -> Any:
    """The login form: a redirect onwards (the callback, or a later step) on success, the form again on failure."""
    start = client.get(
        "/authorize",
        params={
            "response_type": "code",
            "client_id": tenant.spa.client_id,
            "redirect_uri": tenant.redirect_uri,
            "scope": "openid",
            "state": "s",
            "prompt": "login",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
    )
    assert start.status_code in (302, 303), start.text
    location = start.headers["location"]
    page = client.get(location)
    return client.post(
        location, data={"csrf_token": csrf_from(page.text), "username": "alice@example.com", "password": PASSWORD}
    )


def _live_sessions(core: Core, user_id: str) -> int:
    query = select(func.count()).where(login_sessions.c.user_id == user_id, login_sessions.c.revoked_at.is_(None))
    with core.db.read() as conn:
        return int(conn.execute(query).scalar_one())


def test_blocking_stops_sign_in_and_refresh_and_unblocking_restores_sign_in(
    api: Api, client: TestClient, tenant: Tenant, core: Core
) -> None:
    tokens = _password_login(client, tenant, core).json()
    assert "refresh_token" in tokens
    assert _hosted_login(client, tenant).status_code in (302, 303)
    raw, _ = login.create_session(core, tenant.user, amr=("pwd",), caller=Caller(), client_id=tenant.spa.client_id)
    assert login.session_from_cookie(core, raw) is not None

    blocked = api.patch(f"/users/{tenant.user.id}", {"blocked": True})
    assert blocked.status_code == 200 and blocked.json()["blocked"] is True

    refused = _password_login(client, tenant, core)
    assert refused.status_code == 401 and refused.json()["error_description"] == "user is blocked"
    refreshed = _refresh(client, tenant, tokens["refresh_token"])
    assert refreshed.status_code in (400, 401, 403) and refreshed.json()["error"] == "invalid_grant"
    assert _live_sessions(core, tenant.user.id) == 0
    assert login.session_from_cookie(core, raw) is None
    assert _hosted_login(client, tenant).status_code == 400

    assert api.patch(f"/users/{tenant.user.id}", {"blocked": False}).json()["blocked"] is False
    assert _password_login(client, tenant, core).status_code == 200
    assert _hosted_login(client, tenant).status_code in (302, 303)
    assert login.session_from_cookie(core, raw) is None
    # Revoked stays revoked: unblocking does not revive refresh tokens issued before the block.
    assert _refresh(client, tenant, tokens["refresh_token"]).status_code != 200


def test_blocked_at_creation(api: Api, client: TestClient) -> None:
    created = api.post(
        "/users", {"email": "carol@example.com", "password": PASSWORD, "connection": DATABASE, "blocked": True}
    )
    assert created.status_code == 201 and created.json()["blocked"] is True


def test_search_and_paging(api: Api, tenant: Tenant) -> None:
    for name in ("bob", "carol", "dave"):
        created = api.post("/users", {"email": f"{name}@example.com", "password": PASSWORD, "connection": DATABASE})
        assert created.status_code == 201
    everyone = api.get("/users", include_totals="true", per_page="2", page="1").json()
    assert {k: everyone[k] for k in ("start", "limit", "length", "total")} == {
        "start": 2,
        "limit": 2,
        "length": 2,
        "total": 4,
    }
    for q in ('email:"carol@example.com"', "email:carol@example.com", 'email:"CAROL@example.com"'):
        found = api.get("/users", q=q, search_engine="v3").json()
        assert [u["email"] for u in found] == ["carol@example.com"], q
    by_id = api.get("/users", q=f'user_id:"{tenant.user.id}"').json()
    assert [u["user_id"] for u in by_id] == [tenant.user.id]
    assert api.get("/users", q='email:"nobody@example.com"').json() == []
    assert api.get("/users", search_engine="v1").status_code == 400
    projected = api.get(f"/users/{tenant.user.id}", fields="user_id,email").json()
    assert projected == {"user_id": tenant.user.id, "email": "alice@example.com"}
    excluded = api.get(f"/users/{tenant.user.id}", fields="identities", include_fields="false").json()
    assert "identities" not in excluded and "email" in excluded


def test_create_rules(api: Api) -> None:
    base = {"email": "bob@example.com", "password": PASSWORD, "connection": DATABASE}
    missing = api.post("/users", {k: v for k, v in base.items() if k != "connection"})
    assert missing.status_code == 400 and "connection" in missing.json()["message"]
    other = api.post("/users", {**base, "connection": "google-oauth2"})
    assert other.status_code == 400 and other.json()["errorCode"] == "inexistent_connection"
    weak = api.post("/users", {**base, "password": "abc"})
    assert weak.status_code == 400 and weak.json()["message"].startswith("PasswordStrengthError:")
    bad_email = api.post("/users", {**base, "email": "not-an-email"})
    assert bad_email.status_code == 400
    created = api.post("/users", {**base, "user_id": "bob-1", "given_name": "Bob", "app_metadata": {"plan": "free"}})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["user_id"] == "auth0|bob-1" and body["identities"][0]["user_id"] == "bob-1"
    assert body["given_name"] == "Bob" and body["app_metadata"] == {"plan": "free"}
    assert api.post("/users", {**base, "email": "other@example.com", "user_id": "bob-1"}).status_code == 409


def test_update_rules(api: Api, client: TestClient, tenant: Tenant, core: Core) -> None:
    path = f"/users/{tenant.user.id}"
    bob = {"email": "bob@example.com", "password": PASSWORD, "connection": DATABASE}
    assert api.post("/users", bob).status_code == 201
    taken = api.patch(path, {"email": "bob@example.com"})
    assert taken.status_code == 409
    same = api.patch(path, {"password": PASSWORD})
    assert same.status_code == 400 and same.json()["message"].startswith("PasswordHistoryError:")
    changed = api.patch(path, {"password": "a brand new passphrase 77"})
    assert changed.status_code == 200 and changed.json()["last_password_reset"]
    assert _password_login(client, tenant, core).status_code == 403
    assert _password_login(client, tenant, core, "a brand new passphrase 77").status_code == 200

    verified = api.patch(path, {"email": "alice@new.example.com", "email_verified": True}).json()
    assert verified["email"] == "alice@new.example.com" and verified["email_verified"] is True
    assert api.patch(path, {"email": "alice@newer.example.com"}).json()["email_verified"] is False

    api.patch(path, {"user_metadata": {"a": 1, "b": {"c": 2}}})
    merged = api.patch(path, {"user_metadata": {"a": None, "b": {"d": 3}, "e": 4}}).json()
    assert merged["user_metadata"] == {"b": {"d": 3}, "e": 4}
    cleared = api.patch(path, {"name": None, "nickname": "ally", "given_name": "Alice"}).json()
    assert cleared["name"] == "alice@newer.example.com" and cleared["nickname"] == "ally"
    assert api.patch(path, {"phone_verified": True}).json()["errorCode"] == "operation_not_supported"
    assert api.patch(path, {"connection": "github"}).status_code == 400
    assert api.patch("/users/auth0|nobody", {"name": "x"}).status_code == 404


def test_delete(api: Api) -> None:
    created = api.post("/users", {"email": "bob@example.com", "password": PASSWORD, "connection": DATABASE}).json()
    assert api.delete(f"/users/{created['user_id']}").status_code == 204
    assert api.delete(f"/users/{created['user_id']}").status_code == 404
    assert api.get("/users", q="email:bob@example.com").json() == []
