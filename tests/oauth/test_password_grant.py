import pytest
from starlette.testclient import TestClient

from myaccount.core import Core
from myaccount.store.audit import AuditStore
from tests.support.tenant import Tenant

REALM = "http://auth0.com/oauth/grant-type/password-realm"


def _login(client: TestClient, tenant: Tenant, password: str, **extra: str) -> object:
    return client.post(
        "/oauth/token",
        data={
            "grant_type": REALM,
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "username": "alice@example.com",
            "password": password,
            "realm": "Username-Password-Authentication",
            "scope": "openid profile",
            **extra,
        },
    )


def test_password_realm_success(client: TestClient, tenant: Tenant, core: Core) -> None:
    response = _login(
        client, tenant, tenant.password, audience=core.settings.my_account_audience, scope="openid read:me:factors"
    )
    assert response.status_code == 200, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["scope"] == "openid read:me:factors"
    with core.db.read() as conn:
        assert {e.type for e in AuditStore(conn).query(user_id=tenant.user.id)} == {"sepft", "s"}


def test_wrong_password_is_403_invalid_grant_and_audited(client: TestClient, tenant: Tenant, core: Core) -> None:
    response = _login(client, tenant, "wrong password")
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert response.json() == {"error": "invalid_grant", "error_description": "Wrong email or password."}  # type: ignore[attr-defined]
    with core.db.read() as conn:
        assert AuditStore(conn).query(type_="fp")[0].user_id == tenant.user.id


def test_unknown_user_same_answer(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "username": "nobody@example.com",
            "password": "whatever",
        },
    )
    assert response.status_code == 403
    assert response.json()["error_description"] == "Wrong email or password."


def test_blocked_user(client: TestClient, tenant: Tenant, core: Core) -> None:
    from myaccount.store.users import UserStore

    with core.db.write() as conn:
        UserStore(conn).update(tenant.user.id, now=core.clock.now(), blocked=True)
    response = _login(client, tenant, tenant.password)
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response.json()["error"] == "unauthorized"  # type: ignore[attr-defined]


def test_unknown_realm(client: TestClient, tenant: Tenant) -> None:
    response = _login(client, tenant, tenant.password, realm="other-db")
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"  # type: ignore[attr-defined]


def test_client_without_grant_type_is_unauthorized(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "client_id": tenant.spa.client_id,
            "username": "alice@example.com",
            "password": tenant.password,
        },
    )
    assert response.status_code == 403 and response.json()["error"] == "unauthorized_client"


@pytest.mark.parametrize("secret", ["wrong-secret-value-xxxxx", ""])
def test_wrong_client_secret(client: TestClient, tenant: Tenant, secret: str) -> None:
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": REALM,
            "client_id": tenant.web.client_id,
            "client_secret": secret,
            "realm": "Username-Password-Authentication",
            "username": "alice@example.com",
            "password": tenant.password,
        },
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_basic_auth_client_and_www_authenticate(client: TestClient, tenant: Tenant) -> None:
    good = client.post(
        "/oauth/token",
        auth=(tenant.web.client_id, tenant.web_secret),
        data={"grant_type": "password", "username": "alice@example.com", "password": tenant.password},
    )
    assert good.status_code == 200
    bad = client.post(
        "/oauth/token",
        auth=(tenant.web.client_id, "nope-nope-nope-nope"),
        data={"grant_type": "password", "username": "alice@example.com", "password": tenant.password},
    )
    assert bad.status_code == 401 and bad.headers["www-authenticate"].startswith("Basic")
