"""A My Account API client for tests: a user's token with every `*:me:*` scope, and request helpers."""

from typing import Any

import httpx2 as httpx
from starlette.testclient import TestClient

from myaccount.core import Core
from myaccount.tenant import MY_ACCOUNT_SCOPES
from tests.support.tenant import Tenant

__all__ = ["Me", "me_token"]

ALL_SCOPES = " ".join(MY_ACCOUNT_SCOPES)


def me_token(
    client: TestClient,
    tenant: Tenant,
    core: Core,
    *,
    username: str = "alice@example.com",
    password: str | None = None,
    scope: str = ALL_SCOPES,
) -> str:
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "http://auth0.com/oauth/grant-type/password-realm",
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "username": username,
            "password": password or tenant.password,
            "realm": "Username-Password-Authentication",
            "audience": core.settings.my_account_audience,
            "scope": f"openid {scope}",
        },
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


class Me:
    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(f"/me/v1{path}", headers=self.headers, **kwargs)

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.client.post(f"/me/v1{path}", headers=self.headers, json=body)

    def patch(self, path: str, body: Any) -> httpx.Response:
        return self.client.patch(f"/me/v1{path}", headers=self.headers, json=body)

    def delete(self, path: str) -> httpx.Response:
        return self.client.delete(f"/me/v1{path}", headers=self.headers)

    def enroll(self, body: dict[str, Any]) -> httpx.Response:
        return self.post("/authentication-methods", body)

    def verify(self, location: str, body: dict[str, Any]) -> httpx.Response:
        path = location.split("/me/v1", 1)[1]
        return self.post(f"{path}/verify", body)

    def methods(self) -> list[dict[str, Any]]:
        response = self.get("/authentication-methods")
        assert response.status_code == 200, response.text
        methods: list[dict[str, Any]] = response.json()["authentication_methods"]
        return methods
