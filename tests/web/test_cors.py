from starlette.testclient import TestClient

from tests.support.tenant import Tenant

ORIGIN = "http://localhost:3000"


def test_preflight_allowed_origin(client: TestClient, tenant: Tenant) -> None:
    response = client.options(
        "/oauth/token",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "Authorization" in response.headers["access-control-allow-headers"]


def test_preflight_unlisted_origin_refused(client: TestClient, tenant: Tenant) -> None:
    response = client.options(
        "/me/v1/authentication-methods",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers


def test_actual_request_exposes_headers(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/.well-known/jwks.json", headers={"Origin": ORIGIN})
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "Location" in response.headers["access-control-expose-headers"]
    unlisted = client.post("/oauth/token", headers={"Origin": "https://evil.example"}, data={"grant_type": "x"})
    assert "access-control-allow-origin" not in unlisted.headers


def test_cross_origin_password_login_needs_the_switch(client: TestClient, tenant: Tenant) -> None:
    from myaccount import admin

    core = client.app.state.core  # type: ignore[attr-defined]
    admin.update_client(core, tenant.web.client_id, {"allowed_origins": [ORIGIN]})
    data = {
        "grant_type": "password",
        "client_id": tenant.web.client_id,
        "client_secret": tenant.web_secret,
        "username": "alice@example.com",
        "password": tenant.password,
    }
    refused = client.post("/oauth/token", headers={"Origin": ORIGIN}, data=data)
    assert refused.status_code == 400, refused.text
    admin.update_client(core, tenant.web.client_id, {"cross_origin_authentication": True})
    allowed = client.post("/oauth/token", headers={"Origin": ORIGIN}, data=data)
    assert allowed.status_code == 200, allowed.text
