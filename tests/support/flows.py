"""Driving the browser flow through the test client: /authorize → login form → callback → /oauth/token."""

import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
from starlette.testclient import TestClient

from myaccount.oauth.pkce import challenge_for
from tests.support.tenant import Tenant

__all__ = ["alice_code", "authorize_code", "csrf_from", "login_code", "new_verifier", "skip_passkey_offer"]


def new_verifier() -> str:
    return secrets.token_urlsafe(48)


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "login page has no CSRF token"
    return match.group(1)


def authorize_code(
    client: TestClient,
    *,
    client_id: str,
    redirect_uri: str,
    username: str,
    password: str,
    verifier: str | None = None,
    scope: str = "openid profile email offline_access",
    audience: str | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run the hosted login and return the callback's query parameters (code, state)."""
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": scope,
        "state": "st-" + secrets.token_hex(4),
        "nonce": "n-" + secrets.token_hex(4),
    }
    if verifier:
        params.update(code_challenge=challenge_for(verifier), code_challenge_method="S256")
    if audience:
        params["audience"] = audience
    params.update(extra or {})
    response = client.get("/authorize", params=params)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    if location.startswith(redirect_uri):
        return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()} | {"sent_state": params["state"]}
    page = client.get(location)
    assert page.status_code == 200, page.text
    posted = client.post(
        location, data={"csrf_token": csrf_from(page.text), "username": username, "password": password}
    )
    posted = skip_passkey_offer(client, posted)
    assert posted.status_code == 302, posted.text
    callback = posted.headers["location"]
    assert callback.startswith(redirect_uri), callback
    query = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    return query | {"sent_state": params["state"], "sent_nonce": params["nonce"]}


def login_code(
    client: TestClient, *, client_id: str, redirect_uri: str, username: str, password: str, verifier: str, **kwargs: Any
) -> str:
    result = authorize_code(
        client,
        client_id=client_id,
        redirect_uri=redirect_uri,
        username=username,
        password=password,
        verifier=verifier,
        **kwargs,
    )
    assert result["state"] == result["sent_state"]
    code: str = result["code"]
    return code


def skip_passkey_offer(client: TestClient, response: httpx.Response, *, action: str = "later") -> httpx.Response:
    """After a password sign-in the hosted login offers a passkey; decline it to reach the application."""
    location = response.headers.get("location", "")
    if response.status_code in (302, 303) and location.startswith("/u/passkey-enroll"):
        page = client.get(location)
        assert page.status_code == 200, page.text
        return client.post(location, data={"csrf_token": csrf_from(page.text), "action": action})
    return response


def alice_code(client: TestClient, tenant: Tenant, verifier: str, **kwargs: Any) -> str:
    """An authorization code for the tenant's user (alice) and its SPA, through the login form, with PKCE."""
    return login_code(
        client,
        client_id=tenant.spa.client_id,
        redirect_uri=tenant.redirect_uri,
        username="alice@example.com",
        password=tenant.password,
        verifier=verifier,
        **kwargs,
    )
