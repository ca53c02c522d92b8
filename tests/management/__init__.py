"""Management API tests. Helpers shared by the modules: a Management token for the test tenant's m2m client."""

import base64
import secrets
from typing import Any

import httpx2 as httpx
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.testclient import TestClient

from myaccount import admin
from myaccount.core import Core
from myaccount.tenant import MANAGEMENT_SCOPES
from tests.support.soft_authenticator import b64url, cose_es256
from tests.support.tenant import Tenant

__all__ = ["ALL_SCOPES", "Api", "credential", "grant_management", "management_token"]

ALL_SCOPES = sorted(MANAGEMENT_SCOPES)


def grant_management(core: Core, tenant: Tenant, scopes: list[str] | None = None) -> None:
    """A client grant for the tenant's m2m client to the Management API (every scope unless told)."""
    admin.create_client_grant(
        core,
        client_id=tenant.m2m.client_id,
        audience=core.settings.management_audience,
        scope=scopes if scopes is not None else ALL_SCOPES,
        subject_type="client",
    )


def management_token(client: TestClient, tenant: Tenant, core: Core, scopes: list[str] | None = None) -> str:
    """Client credentials for the Management audience; `scopes` narrows what the grant allows."""
    params = {
        "grant_type": "client_credentials",
        "client_id": tenant.m2m.client_id,
        "client_secret": tenant.m2m_secret,
        "audience": core.settings.management_audience,
    }
    if scopes is not None:
        params["scope"] = " ".join(scopes)
    response = client.post("/oauth/token", data=params)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


class Api:
    """`/api/v2` requests with one bearer token."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.client.get(f"/api/v2{path}", headers=self.headers, params=params)

    def post(self, path: str, body: Any = None) -> httpx.Response:
        return self.client.post(f"/api/v2{path}", headers=self.headers, json=body)

    def put(self, path: str, body: Any) -> httpx.Response:
        return self.client.put(f"/api/v2{path}", headers=self.headers, json=body)

    def patch(self, path: str, body: Any) -> httpx.Response:
        return self.client.patch(f"/api/v2{path}", headers=self.headers, json=body)

    def delete(self, path: str, body: Any = None) -> httpx.Response:
        if body is None:
            return self.client.delete(f"/api/v2{path}", headers=self.headers)
        return self.client.request("DELETE", f"/api/v2{path}", headers=self.headers, json=body)


def credential() -> dict[str, str]:
    """A fresh ES256 credential's public half, as a passkey created elsewhere would be imported."""
    key = ec.generate_private_key(ec.SECP256R1())
    return {
        "key_id": b64url(secrets.token_bytes(16)),
        "public_key": base64.b64encode(cose_es256(key.public_key())).decode(),
    }
