from typing import Any

import jwt
import pytest
from starlette.testclient import TestClient

from myaccount.core import Core
from tests.support.flows import alice_code, authorize_code, login_code, new_verifier
from tests.support.tenant import Tenant
from tests.support.writers import after_another_write


def _exchange(client: TestClient, tenant: Tenant, code: str, verifier: str, **extra: str) -> Any:
    return client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": tenant.spa.client_id,
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": tenant.redirect_uri,
            **extra,
        },
    )


def _refresh(client: TestClient, tenant: Tenant, refresh_token: str) -> Any:
    return client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "client_id": tenant.spa.client_id, "refresh_token": refresh_token},
    )


def test_code_flow_with_pkce_issues_access_id_and_refresh_tokens(
    client: TestClient, tenant: Tenant, core: Core
) -> None:
    verifier = new_verifier()
    code = login_code(
        client,
        client_id=tenant.spa.client_id,
        redirect_uri=tenant.redirect_uri,
        username=tenant.user.email or "",
        password=tenant.password,
        verifier=verifier,
        audience=core.settings.my_account_audience,
        scope="openid profile email offline_access read:me:authentication_methods",
    )
    response = _exchange(client, tenant, code, verifier)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert set(body) >= {"access_token", "id_token", "refresh_token", "expires_in", "scope"}
    assert "read:me:authentication_methods" in body["scope"].split()
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["iss"] == core.settings.issuer
    assert claims["sub"] == tenant.user.id
    assert claims["aud"] == [core.settings.my_account_audience, core.settings.userinfo_url]
    assert claims["azp"] == tenant.spa.client_id
    assert claims["exp"] - claims["iat"] == 600
    assert claims["jti"]
    id_claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert id_claims["aud"] == tenant.spa.client_id
    assert id_claims["email"] == "alice@example.com"
    assert id_claims["nonce"].startswith("n-")


def test_code_is_single_use_and_reuse_revokes_issued_refresh_token(client: TestClient, tenant: Tenant) -> None:
    verifier = new_verifier()
    code = alice_code(client, tenant, verifier)
    first = _exchange(client, tenant, code, verifier)
    assert first.status_code == 200
    again = _exchange(client, tenant, code, verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    refresh = _refresh(client, tenant, first.json()["refresh_token"])
    assert refresh.status_code == 400
    assert refresh.json()["error"] == "invalid_grant"


def test_a_replayed_code_revokes_its_tokens_even_with_a_wrong_verifier(client: TestClient, tenant: Tenant) -> None:
    """RFC 6749 §4.1.2: a code used twice revokes the tokens issued for it. A replay is detected before the other
    checks, so a thief without the PKCE verifier still triggers it."""
    verifier = new_verifier()
    code = alice_code(client, tenant, verifier)
    first = _exchange(client, tenant, code, verifier)
    assert first.status_code == 200
    replay = _exchange(client, tenant, code, new_verifier())
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    refresh = _refresh(client, tenant, first.json()["refresh_token"])
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


def test_wrong_pkce_verifier_is_refused_and_code_stays_usable(client: TestClient, tenant: Tenant) -> None:
    verifier = new_verifier()
    code = alice_code(client, tenant, verifier)
    wrong = _exchange(client, tenant, code, new_verifier())
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    missing = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": tenant.spa.client_id,
            "code": code,
            "redirect_uri": tenant.redirect_uri,
        },
    )
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_grant"
    assert _exchange(client, tenant, code, verifier).status_code == 200


def test_redirect_uri_mismatch_at_token_endpoint(client: TestClient, tenant: Tenant) -> None:
    verifier = new_verifier()
    code = alice_code(client, tenant, verifier)
    response = _exchange(client, tenant, code, verifier, redirect_uri="http://localhost:3000/other")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_expired_code(client: TestClient, tenant: Tenant, core: Core) -> None:
    verifier = new_verifier()
    code = alice_code(client, tenant, verifier)
    core.clock.advance(seconds=121)  # type: ignore[attr-defined]
    response = _exchange(client, tenant, code, verifier)
    assert response.status_code == 400 and response.json()["error_description"] == "Authorization code has expired"


def test_sso_session_answers_second_authorize_without_login(client: TestClient, tenant: Tenant) -> None:
    verifier = new_verifier()
    alice_code(client, tenant, verifier)
    again = authorize_code(
        client,
        client_id=tenant.spa.client_id,
        redirect_uri=tenant.redirect_uri,
        username="",
        password="",
        verifier=verifier,
    )
    assert again["code"]


def test_prompt_none_without_session_is_login_required(client: TestClient, tenant: Tenant) -> None:
    result = authorize_code(
        client,
        client_id=tenant.spa.client_id,
        redirect_uri=tenant.redirect_uri,
        username="",
        password="",
        verifier=new_verifier(),
        extra={"prompt": "none"},
    )
    assert result["error"] == "login_required"
    assert result["state"] == result["sent_state"]


def test_tokens_are_signed_outside_the_write_transaction(
    client: TestClient, tenant: Tenant, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While an exchange makes and signs its tokens, another writer is not held up (on SQLite a write transaction
    holds the database's one write lock); the code is consumed afterwards, once."""
    from myaccount.oauth.issuance import prepare_issue

    verifier = new_verifier()
    code = alice_code(client, tenant, verifier)
    writer_finished_meanwhile: list[bool] = []
    wrapped = after_another_write(core, tenant.user.id, prepare_issue, writer_finished_meanwhile)
    monkeypatch.setattr("myaccount.oauth.grants.authorization_code.prepare_issue", wrapped)
    assert _exchange(client, tenant, code, verifier).status_code == 200
    assert writer_finished_meanwhile == [True]
    assert _exchange(client, tenant, code, verifier).status_code == 400  # consumed by the first exchange
