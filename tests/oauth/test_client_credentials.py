import jwt
from starlette.testclient import TestClient

from myaccount.core import Core
from tests.support.tenant import Tenant


def _cc(client: TestClient, tenant: Tenant, **extra: str) -> object:
    return client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": tenant.m2m.client_id,
            "client_secret": tenant.m2m_secret,
            **extra,
        },
    )


def test_token_for_custom_api_with_granted_scopes(client: TestClient, tenant: Tenant, core: Core) -> None:
    response = _cc(client, tenant, audience=tenant.api)
    assert response.status_code == 200  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["scope"] == "read:things" and "refresh_token" not in body and "id_token" not in body
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == f"{tenant.m2m.client_id}@clients" and claims["gty"] == "client-credentials"


def test_scope_beyond_client_grant_is_dropped(client: TestClient, tenant: Tenant) -> None:
    body = _cc(client, tenant, audience=tenant.api, scope="read:things admin:things").json()  # type: ignore[attr-defined]
    assert body["scope"] == "read:things"


def test_my_account_api_refuses_client_credentials(client: TestClient, tenant: Tenant, core: Core) -> None:
    response = _cc(client, tenant, audience=core.settings.my_account_audience)
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert response.json()["error"] == "access_denied"  # type: ignore[attr-defined]


def test_api_without_client_grant_is_denied(client: TestClient, tenant: Tenant, core: Core) -> None:
    response = _cc(client, tenant, audience=core.settings.management_audience)
    assert response.status_code == 403  # type: ignore[attr-defined]


def test_unknown_audience(client: TestClient, tenant: Tenant) -> None:
    response = _cc(client, tenant, audience="https://nope.example/")
    assert response.status_code == 403 and "Service not found" in response.json()["error_description"]  # type: ignore[attr-defined]


def test_public_client_cannot(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": tenant.spa.client_id, "audience": tenant.api},
    )
    assert response.status_code == 403
