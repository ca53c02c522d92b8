"""RFC 9449 DPoP at the token endpoint and at our APIs (/me/v1, /userinfo)."""

from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import jwt
import pytest
from starlette.testclient import TestClient

from myaccount import admin
from myaccount.app import create_app
from myaccount.clock import FrozenClock
from myaccount.core import Core
from myaccount.settings import Settings
from tests.support.dpop import DpopKey
from tests.support.flows import alice_code, new_verifier
from tests.support.me import ALL_SCOPES
from tests.support.tenant import Tenant, make_tenant

TOKEN_URL = "http://localhost/oauth/token"
METHODS_URL = "http://localhost/me/v1/authentication-methods"
REALM = "http://auth0.com/oauth/grant-type/password-realm"


def _password_token(
    client: TestClient,
    tenant: Tenant,
    core: Core,
    key: DpopKey | None,
    *,
    nonce: str | None = None,
    proof: str | None = None,
    offline: bool = False,
) -> httpx.Response:
    headers = {}
    if key is not None:
        headers["DPoP"] = proof or key.proof("POST", TOKEN_URL, nonce=nonce, iat=core.clock.now().timestamp())
    return client.post(
        "/oauth/token",
        headers=headers,
        data={
            "grant_type": REALM,
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "username": "alice@example.com",
            "password": tenant.password,
            "realm": "Username-Password-Authentication",
            "audience": core.settings.my_account_audience,
            "scope": f"openid {'offline_access ' if offline else ''}{ALL_SCOPES}",
        },
    )


def _call(client: TestClient, token: str, key: DpopKey, core: Core, **proof_kwargs: Any) -> httpx.Response:
    proof_kwargs.setdefault("iat", core.clock.now().timestamp())
    proof = key.proof(
        proof_kwargs.pop("htm", "GET"),
        proof_kwargs.pop("htu", METHODS_URL),
        access_token=proof_kwargs.pop("ath_token", token),
        **proof_kwargs,
    )
    return client.get("/me/v1/authentication-methods", headers={"Authorization": f"DPoP {token}", "DPoP": proof})


def test_password_realm_with_proof_gives_bound_token(client: TestClient, tenant: Tenant, core: Core) -> None:
    key = DpopKey()
    response = _password_token(client, tenant, core, key)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "DPoP"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["cnf"] == {"jkt": key.jkt}
    ok = _call(client, body["access_token"], key, core)
    assert ok.status_code == 200, ok.text
    # The same token as Bearer is refused.
    bearer = client.get("/me/v1/authentication-methods", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert bearer.status_code == 401 and bearer.headers["www-authenticate"].startswith("DPoP")


def test_resource_side_refusals(client: TestClient, tenant: Tenant, core: Core) -> None:
    key = DpopKey()
    token = _password_token(client, tenant, core, key).json()["access_token"]
    now = core.clock.now().timestamp()
    cases = {
        "wrong htm": _call(client, token, key, core, htm="POST"),
        "wrong htu": _call(client, token, key, core, htu="http://localhost/me/v1/factors"),
        "stale iat": _call(client, token, key, core, iat=now - 600),
        "wrong ath": _call(client, token, key, core, ath_token="another-token"),
        "other key": _call(client, token, DpopKey(), core),
    }
    for name, response in cases.items():
        assert response.status_code == 401, name
        assert 'error="invalid_dpop_proof"' in response.headers["www-authenticate"], name
    # A query string does not change htu.
    proof = key.proof("GET", METHODS_URL, access_token=token, iat=now)
    with_query = client.get(
        "/me/v1/authentication-methods?type=passkey", headers={"Authorization": f"DPoP {token}", "DPoP": proof}
    )
    assert with_query.status_code == 200
    # Replaying that exact proof is refused.
    replay = client.get("/me/v1/authentication-methods", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert replay.status_code == 401 and "replayed" in replay.json()["detail"]


def test_symmetric_alg_and_private_key_are_refused(client: TestClient, tenant: Tenant, core: Core) -> None:
    key = DpopKey()
    hs = _password_token(client, tenant, core, key, proof=DpopKey.hs256_proof("POST", TOKEN_URL))
    assert hs.status_code == 400 and hs.json()["error"] == "invalid_dpop_proof"
    private = _password_token(client, tenant, core, key, proof=key.private_jwk_proof("POST", TOKEN_URL))
    assert private.status_code == 400 and "public key" in private.json()["error_description"]
    wrong_typ = _password_token(client, tenant, core, key, proof=key.proof("POST", TOKEN_URL, typ="JWT"))
    assert wrong_typ.status_code == 400


def test_refresh_token_of_public_client_is_bound(client: TestClient, tenant: Tenant, core: Core) -> None:
    key = DpopKey()
    verifier = new_verifier()
    code = alice_code(
        client,
        tenant,
        verifier,
        audience=core.settings.my_account_audience,
        scope=f"openid offline_access {ALL_SCOPES}",
    )
    now = core.clock.now().timestamp()
    tokens = client.post(
        "/oauth/token",
        headers={"DPoP": key.proof("POST", TOKEN_URL, iat=now)},
        data={
            "grant_type": "authorization_code",
            "client_id": tenant.spa.client_id,
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": tenant.redirect_uri,
        },
    ).json()
    assert tokens["token_type"] == "DPoP"
    refresh = tokens["refresh_token"]
    unbound = client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "client_id": tenant.spa.client_id, "refresh_token": refresh},
    )
    assert unbound.status_code == 400 and unbound.json()["error"] == "invalid_dpop_proof"
    other = client.post(
        "/oauth/token",
        headers={"DPoP": DpopKey().proof("POST", TOKEN_URL, iat=now)},
        data={"grant_type": "refresh_token", "client_id": tenant.spa.client_id, "refresh_token": refresh},
    )
    assert other.status_code == 400
    same = client.post(
        "/oauth/token",
        headers={"DPoP": key.proof("POST", TOKEN_URL, iat=now)},
        data={"grant_type": "refresh_token", "client_id": tenant.spa.client_id, "refresh_token": refresh},
    )
    assert same.status_code == 200, same.text
    assert jwt.decode(same.json()["access_token"], options={"verify_signature": False})["cnf"]["jkt"] == key.jkt


def test_api_requiring_dpop(client: TestClient, tenant: Tenant, core: Core) -> None:
    admin.update_resource_server(
        core, core.settings.my_account_audience, {"proof_of_possession": {"mechanism": "dpop", "required": True}}
    )
    refused = _password_token(client, tenant, core, None)
    assert refused.status_code == 400 and "DPoP" in refused.json()["error_description"]
    key = DpopKey()
    token = _password_token(client, tenant, core, key).json()["access_token"]
    assert _call(client, token, key, core).status_code == 200


@pytest.fixture
def nonce_app(
    make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core]
) -> tuple[TestClient, Core, Tenant]:
    settings = make_settings(dpop_require_nonce=True)
    core = make_core(settings)
    return TestClient(create_app(settings, core=core), base_url="http://localhost"), core, make_tenant(core)


def test_nonce_round_trip(nonce_app: tuple[TestClient, Core, Tenant], clock: FrozenClock) -> None:
    client, core, tenant = nonce_app
    key = DpopKey()
    first = _password_token(client, tenant, core, key)
    assert first.status_code == 400 and first.json()["error"] == "use_dpop_nonce"
    nonce = first.headers["dpop-nonce"]
    second = _password_token(client, tenant, core, key, nonce=nonce)
    assert second.status_code == 200, second.text
    token = second.json()["access_token"]
    # At the API: no nonce → 401 use_dpop_nonce with a fresh nonce; retry with it succeeds (the SPA SDK's dance).
    missing = _call(client, token, key, core)
    assert missing.status_code == 401 and 'error="use_dpop_nonce"' in missing.headers["www-authenticate"]
    retried = _call(client, token, key, core, nonce=missing.headers["dpop-nonce"])
    assert retried.status_code == 200 and retried.headers["dpop-nonce"]
    clock.advance(minutes=10)
    stale = _password_token(client, tenant, core, key, nonce=nonce)
    assert stale.status_code == 400 and stale.json()["error"] == "use_dpop_nonce"


def test_userinfo_with_dpop(client: TestClient, tenant: Tenant, core: Core) -> None:
    key = DpopKey()
    token = _password_token(client, tenant, core, key).json()["access_token"]
    proof = key.proof("GET", "http://localhost/userinfo", access_token=token, iat=core.clock.now().timestamp())
    response = client.get("/userinfo", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert response.status_code == 200 and response.json()["sub"] == tenant.user.id


def test_client_credentials_with_proof(client: TestClient, tenant: Tenant, core: Core) -> None:
    key = DpopKey()
    response = client.post(
        "/oauth/token",
        headers={"DPoP": key.proof("POST", TOKEN_URL, iat=core.clock.now().timestamp())},
        data={
            "grant_type": "client_credentials",
            "client_id": tenant.m2m.client_id,
            "client_secret": tenant.m2m_secret,
            "audience": tenant.api,
        },
    )
    assert response.status_code == 200 and response.json()["token_type"] == "DPoP"
    assert jwt.decode(response.json()["access_token"], options={"verify_signature": False})["cnf"]["jkt"] == key.jkt


def test_authorization_code_bound_with_dpop_jkt(client: TestClient, tenant: Tenant, core: Core) -> None:
    key = DpopKey()
    verifier = new_verifier()
    code = alice_code(client, tenant, verifier, extra={"dpop_jkt": key.jkt})
    body = {
        "grant_type": "authorization_code",
        "client_id": tenant.spa.client_id,
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": tenant.redirect_uri,
    }
    now = core.clock.now().timestamp()
    other = client.post("/oauth/token", data=body, headers={"DPoP": DpopKey().proof("POST", TOKEN_URL, iat=now)})
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"
    none = client.post("/oauth/token", data=body)
    assert none.status_code == 400
    same = client.post("/oauth/token", data=body, headers={"DPoP": key.proof("POST", TOKEN_URL, iat=now)})
    assert same.status_code == 200 and same.json()["token_type"] == "DPoP"
