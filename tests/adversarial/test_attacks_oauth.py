"""Attack catalogue: the authorization code flow and refresh tokens (RFC 6749, RFC 7636, RFC 9700)."""

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from myaccount import admin
from myaccount.core import Core
from myaccount.oauth.pkce import challenge_for
from myaccount.store.audit import AuditStore
from tests.support.flows import alice_code, new_verifier
from tests.support.me import ALL_SCOPES
from tests.support.tenant import Tenant


def _code(client: TestClient, tenant: Tenant, core: Core, verifier: str) -> str:
    return alice_code(
        client,
        tenant,
        verifier,
        audience=core.settings.my_account_audience,
        scope=f"openid offline_access {ALL_SCOPES}",
    )


def _exchange(client: TestClient, tenant: Tenant, code: str, verifier: str | None, **extra: str) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "client_id": tenant.spa.client_id,
        "code": code,
        "redirect_uri": tenant.redirect_uri,
        **extra,
    }
    if verifier is not None:
        data["code_verifier"] = verifier
    return client.post("/oauth/token", data=data)


def _refresh(client: TestClient, tenant: Tenant, token: str) -> httpx.Response:
    return client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "client_id": tenant.spa.client_id, "refresh_token": token},
    )


def _authorize(client: TestClient, tenant: Tenant, **overrides: str) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": tenant.spa.client_id,
        "redirect_uri": tenant.redirect_uri,
        "scope": "openid",
        "state": "st",
        "code_challenge": challenge_for(new_verifier()),
        "code_challenge_method": "S256",
        **overrides,
    }
    return client.get("/authorize", params={k: v for k, v in params.items() if v != ""})


def test_reused_authorization_code_is_refused_and_its_tokens_revoked(
    client: TestClient, tenant: Tenant, core: Core
) -> None:
    verifier = new_verifier()
    code = _code(client, tenant, core, verifier)
    first = _exchange(client, tenant, code, verifier)
    assert first.status_code == 200, first.text
    tokens: dict[str, Any] = first.json()
    me = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/me/v1/factors", headers=me).status_code == 200

    again = _exchange(client, tenant, code, verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    # RFC 6749 §4.1.2: the tokens the code produced are revoked, the access token at once.
    assert client.get("/me/v1/factors", headers=me).status_code == 401
    assert _refresh(client, tenant, tokens["refresh_token"]).json()["error"] == "invalid_grant"
    with core.db.read() as conn:
        assert [e.type for e in AuditStore(conn).query(type_="feacft")] == ["feacft"]


def test_pkce_downgrade_to_plain_is_refused(client: TestClient, tenant: Tenant) -> None:
    verifier = new_verifier()
    plain = _authorize(client, tenant, code_challenge=verifier, code_challenge_method="plain")
    assert plain.status_code == 302
    query = parse_qs(urlsplit(plain.headers["location"]).query)
    assert query["error"] == ["invalid_request"] and "code" not in query
    assert plain.headers["location"].startswith(tenant.redirect_uri)


def test_pkce_missing_challenge_or_verifier_is_refused(client: TestClient, tenant: Tenant, core: Core) -> None:
    missing = _authorize(client, tenant, code_challenge="", code_challenge_method="")
    assert parse_qs(urlsplit(missing.headers["location"]).query)["error"] == ["invalid_request"]
    verifier = new_verifier()
    code = _code(client, tenant, core, verifier)
    no_verifier = _exchange(client, tenant, code, None)
    assert no_verifier.status_code == 400 and no_verifier.json()["error"] == "invalid_grant"
    wrong = _exchange(client, tenant, code, new_verifier())
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    # The challenge itself as verifier (what a plain downgrade would accept) fails too.
    as_plain = _exchange(client, tenant, code, challenge_for(verifier))
    assert as_plain.status_code == 400
    assert _exchange(client, tenant, code, verifier).status_code == 200


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://localhost:3000/callback.evil.example",
        "http://localhost:3000/callbackx",
        "http://localhost:3000/callback/../../evil",
        "http://localhost:3000/callback/%2e%2e/evil",
        "http://localhost:3000/callback?next=https://evil.example",
        "http://localhost:3000/callback#@evil.example",
        "http://localhost:3000.evil.example/callback",
        "http://localhost:3000@evil.example/callback",
        "http://evil.example/http://localhost:3000/callback",
        "//evil.example/callback",
        "https://localhost:3000/callback",
        "HTTP://LOCALHOST:3000/callback",
        "http://localhost:3000/Callback",
        "http://localhost:3000/callback ",
        "http://localhost:3000/callback\r\nLocation: https://evil.example",
        "javascript:alert(1)//http://localhost:3000/callback",
    ],
)
def test_redirect_uri_prefix_and_open_redirect_tricks_are_refused(
    client: TestClient, tenant: Tenant, redirect_uri: str
) -> None:
    response = _authorize(client, tenant, redirect_uri=redirect_uri)
    # Not redirected anywhere: the error is shown, since the application cannot be told safely.
    assert response.status_code == 400, response.headers.get("location")
    assert "location" not in response.headers
    # Errors of a later stage are not redirected to the unregistered URI either.
    bad = _authorize(client, tenant, redirect_uri=redirect_uri, response_type="token")
    assert bad.status_code == 400 and "location" not in bad.headers


def test_logout_return_to_is_not_an_open_redirect(client: TestClient, tenant: Tenant) -> None:
    for target in ("https://evil.example/", "http://localhost:3000/.evil.example", "//evil.example"):
        response = client.get("/v2/logout", params={"client_id": tenant.spa.client_id, "returnTo": target})
        assert response.status_code == 200 and "location" not in response.headers, target
        oidc = client.get("/oidc/logout", params={"post_logout_redirect_uri": target})
        assert oidc.status_code == 200 and "location" not in oidc.headers, target
    ok = client.get("/v2/logout", params={"client_id": tenant.spa.client_id, "returnTo": "http://localhost:3000/"})
    assert ok.headers["location"] == "http://localhost:3000/"


def test_refresh_token_reuse_after_rotation_revokes_the_family(client: TestClient, tenant: Tenant, core: Core) -> None:
    verifier = new_verifier()
    tokens = _exchange(client, tenant, _code(client, tenant, core, verifier), verifier).json()
    rotated = _refresh(client, tenant, tokens["refresh_token"])
    assert rotated.status_code == 200, rotated.text
    newer = rotated.json()["refresh_token"]
    # The attacker replays the stolen, already rotated token.
    replay = _refresh(client, tenant, tokens["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # The whole family is dead, the legitimate newest token included.
    assert _refresh(client, tenant, newer).json()["error"] == "invalid_grant"
    with core.db.read() as conn:
        assert len(AuditStore(conn).query(type_="ferrt")) == 1


def test_refresh_token_of_another_client_is_refused(client: TestClient, tenant: Tenant, core: Core) -> None:
    verifier = new_verifier()
    tokens = _exchange(client, tenant, _code(client, tenant, core, verifier), verifier).json()
    other = client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "refresh_token": tokens["refresh_token"],
        },
    )
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"
    assert _refresh(client, tenant, tokens["refresh_token"]).status_code == 200


def test_code_bound_to_its_client(client: TestClient, tenant: Tenant, core: Core) -> None:
    verifier = new_verifier()
    code = _code(client, tenant, core, verifier)
    admin.update_client(core, tenant.web.client_id, {"callbacks": [tenant.redirect_uri]})
    stolen = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": tenant.redirect_uri,
        },
    )
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    assert _exchange(client, tenant, code, verifier).status_code == 200
