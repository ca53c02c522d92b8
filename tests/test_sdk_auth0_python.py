"""Auth0's own Python SDK against a running MyAccount: tokens by password-realm, authorization code + PKCE and
refresh token, verified with PyJWT's `PyJWKClient` from our JWKS."""

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest
from auth0.authentication import GetToken
from auth0.authentication.exceptions import Auth0Error

from myaccount.oauth.pkce import challenge_for
from tests.conftest import LiveServer
from tests.support.flows import new_verifier
from tests.support.tenant import Tenant


def _verify(server: LiveServer, token: str, audience: str | list[str]) -> dict[str, object]:
    jwks = jwt.PyJWKClient(f"{server.url}/.well-known/jwks.json")
    key = jwks.get_signing_key_from_jwt(token)
    claims: dict[str, object] = jwt.decode(
        token, key.key, algorithms=["RS256"], audience=audience, issuer=f"{server.url}/"
    )
    return claims


def test_password_realm_and_refresh(live_server: LiveServer, live_tenant: Tenant) -> None:
    auth = GetToken(
        live_server.domain, live_tenant.web.client_id, client_secret=live_tenant.web_secret, protocol="http"
    )
    me = live_server.core.settings.my_account_audience
    tokens = auth.login(
        username="alice@example.com",
        password=live_tenant.password,
        realm="Username-Password-Authentication",
        audience=me,
        scope="openid profile offline_access read:me:authentication_methods",
    )
    claims = _verify(live_server, tokens["access_token"], me)
    assert claims["sub"] == live_tenant.user.id
    assert "read:me:authentication_methods" in str(claims["scope"]).split()
    id_claims = _verify(live_server, tokens["id_token"], live_tenant.web.client_id)
    assert id_claims["name"] == "Alice"
    refreshed = auth.refresh_token(tokens["refresh_token"])
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    assert _verify(live_server, refreshed["access_token"], me)["sub"] == live_tenant.user.id
    with pytest.raises(Auth0Error) as error:
        auth.refresh_token(tokens["refresh_token"])  # rotated: reuse is refused
    assert error.value.error_code == "invalid_grant"


def test_wrong_password_surfaces_as_auth0_error(live_server: LiveServer, live_tenant: Tenant) -> None:
    auth = GetToken(
        live_server.domain, live_tenant.web.client_id, client_secret=live_tenant.web_secret, protocol="http"
    )
    with pytest.raises(Auth0Error) as error:
        auth.login(username="alice@example.com", password="wrong", realm="Username-Password-Authentication")
    assert error.value.status_code == 403 and error.value.error_code == "invalid_grant"


def test_authorization_code_pkce(live_server: LiveServer, live_tenant: Tenant) -> None:
    verifier = new_verifier()
    with httpx.Client(base_url=live_server.url, follow_redirects=False) as browser:
        start = browser.get(
            "/authorize",
            params={
                "response_type": "code",
                "client_id": live_tenant.spa.client_id,
                "redirect_uri": live_tenant.redirect_uri,
                "scope": "openid email offline_access",
                "state": "s1",
                "code_challenge": challenge_for(verifier),
                "code_challenge_method": "S256",
            },
        )
        login_url = start.headers["location"]
        page = browser.get(login_url)
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match
        done = browser.post(
            login_url,
            data={"csrf_token": match.group(1), "username": "alice@example.com", "password": live_tenant.password},
        )
        if done.headers["location"].startswith("/u/passkey-enroll"):  # decline the passkey offer
            offer = browser.get(done.headers["location"])
            token = re.search(r'name="csrf_token" value="([^"]+)"', offer.text)
            assert token
            done = browser.post(done.headers["location"], data={"csrf_token": token.group(1), "action": "later"})
        query = parse_qs(urlsplit(done.headers["location"]).query)
    assert query["state"] == ["s1"]
    auth = GetToken(live_server.domain, live_tenant.spa.client_id, protocol="http")
    tokens = auth.authorization_code_pkce(verifier, query["code"][0], live_tenant.redirect_uri)
    claims = _verify(live_server, tokens["access_token"], f"{live_server.url}/userinfo")
    assert claims["azp"] == live_tenant.spa.client_id
    assert _verify(live_server, tokens["id_token"], live_tenant.spa.client_id)["email"] == "alice@example.com"
    assert auth.refresh_token(tokens["refresh_token"])["access_token"]


def test_client_credentials(live_server: LiveServer, live_tenant: Tenant) -> None:
    auth = GetToken(
        live_server.domain, live_tenant.m2m.client_id, client_secret=live_tenant.m2m_secret, protocol="http"
    )
    tokens = auth.client_credentials(live_tenant.api)
    assert _verify(live_server, tokens["access_token"], live_tenant.api)["gty"] == "client-credentials"
