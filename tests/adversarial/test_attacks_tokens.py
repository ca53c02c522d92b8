"""Attack catalogue: forged and misused access tokens, presented at `/me/v1` over HTTP.

Each test first shows the legitimate request succeeding, then the attack refused with the answer named in
docs/SECURITY.md, so removing the defence turns the test red.
"""

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from starlette.testclient import TestClient

from myaccount import admin
from myaccount.clock import FrozenClock
from myaccount.core import Core
from myaccount.tenant import MY_ACCOUNT_SCOPES
from tests.support.me import Me, me_token
from tests.support.tenant import Tenant

METHODS = "/me/v1/authentication-methods"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _get(client: TestClient, token: str) -> Any:
    return client.get(METHODS, headers={"Authorization": f"Bearer {token}"})


def _refused(response: Any, reason: str | None = None) -> None:
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    if reason is not None:
        assert reason in response.json()["detail"], response.json()


def _resign(core: Core, claims: dict[str, Any], **headers: Any) -> str:
    key = core.keyring.signing_key
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid, **headers})


def test_alg_none_token_is_refused(client: TestClient, tenant: Tenant, core: Core) -> None:
    token = me_token(client, tenant, core)
    assert _get(client, token).status_code == 200
    header = {"alg": "none", "typ": "at+jwt", "kid": core.keyring.signing_key.kid}
    forged = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(token)).encode())}."
    _refused(_get(client, forged))
    # The same claims, unsigned, with an empty signature or none at all.
    _refused(_get(client, forged + "AAAA"))


def test_hs256_signed_with_our_rsa_public_key_is_refused(client: TestClient, tenant: Tenant, core: Core) -> None:
    token = me_token(client, tenant, core)
    public_pem = core.keyring.signing_key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = {"alg": "HS256", "typ": "at+jwt", "kid": core.keyring.signing_key.kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(token)).encode())}"
    for secret in (public_pem, public_pem.strip()):
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        _refused(_get(client, f"{signing_input}.{_b64(signature)}"))


def test_token_for_another_audience_is_refused(client: TestClient, tenant: Tenant, core: Core) -> None:
    other = core.tokens.access_token(
        subject=tenant.user.id,
        audience=tenant.api,
        client_id=tenant.web.client_id,
        scope=" ".join(MY_ACCOUNT_SCOPES),
        ttl=timedelta(minutes=5),
        extra={"auth_time": int(core.clock.now().timestamp())},
    ).token
    _refused(_get(client, other), "not issued for this API")
    # Our signature, our issuer, every scope: only the audience differs.
    claims = _claims(me_token(client, tenant, core))
    _refused(_get(client, _resign(core, {**claims, "aud": "https://api.example.test/"})), "not issued for this API")


def test_token_with_wrong_issuer_is_refused(client: TestClient, tenant: Tenant, core: Core) -> None:
    claims = _claims(me_token(client, tenant, core))
    assert _get(client, _resign(core, claims)).status_code == 200  # re-signing alone changes nothing
    _refused(_get(client, _resign(core, {**claims, "iss": "https://evil.example/"})), "wrong issuer")
    _refused(_get(client, _resign(core, {k: v for k, v in claims.items() if k != "iss"})))


def test_expired_token_is_refused(client: TestClient, tenant: Tenant, core: Core, clock: FrozenClock) -> None:
    token = me_token(client, tenant, core)
    assert _get(client, token).status_code == 200  # now cached as verified
    clock.advance(seconds=core.settings.access_token_ttl.total_seconds() + 1)
    _refused(_get(client, token), "expired")
    claims = _claims(me_token(client, tenant, core))
    _refused(_get(client, _resign(core, {**claims, "exp": int(clock.now().timestamp()) - 1})), "expired")


def test_not_yet_valid_token_is_refused(client: TestClient, tenant: Tenant, core: Core, clock: FrozenClock) -> None:
    claims = _claims(me_token(client, tenant, core))
    later = int(clock.now().timestamp()) + 3600
    _refused(_get(client, _resign(core, {**claims, "nbf": later, "exp": later + 600})), "not valid yet")
    _refused(_get(client, _resign(core, {**claims, "iat": later, "exp": later + 600})), "not valid yet")


def test_token_signed_with_a_retired_key_is_refused(
    client: TestClient, tenant: Tenant, core: Core, clock: FrozenClock
) -> None:
    retired = core.keyring.signing_key
    claims = _claims(me_token(client, tenant, core))
    core.keyring.rotate()
    clock.advance(hours=26)  # past the overlap: the old key is no longer published nor accepted
    core.keyring.load()
    assert retired.kid not in {k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]}
    now = int(clock.now().timestamp())
    fresh = {**claims, "iat": now, "exp": now + 300}
    assert _get(client, _resign(core, fresh)).status_code == 200  # the current key still works
    forged = jwt.encode(fresh, retired.private_key, algorithm="RS256", headers={"kid": retired.kid})
    _refused(_get(client, forged), "unknown or retired key")


def test_revoked_key_is_refused_at_once(client: TestClient, tenant: Tenant, core: Core) -> None:
    token = me_token(client, tenant, core)
    assert _get(client, token).status_code == 200
    old = core.keyring.signing_key.kid
    core.keyring.rotate()
    core.keyring.revoke(old)
    _refused(_get(client, token))


def test_client_credentials_cannot_reach_my_account(client: TestClient, tenant: Tenant, core: Core) -> None:
    audience = core.settings.my_account_audience
    asked = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": tenant.m2m.client_id,
            "client_secret": tenant.m2m_secret,
            "audience": audience,
        },
    )
    assert asked.status_code == 403 and asked.json()["error"] == "access_denied", asked.text
    # Even with a client grant for /me/, the API's client policy is deny_all and cannot be changed.
    try:
        admin.create_client_grant(
            core, client_id=tenant.m2m.client_id, audience=audience, scope=list(MY_ACCOUNT_SCOPES)
        )
    except admin.AdminError:
        pass
    again = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": tenant.m2m.client_id,
            "client_secret": tenant.m2m_secret,
            "audience": audience,
        },
    )
    assert again.status_code == 403 and again.json()["error"] == "access_denied", again.text
    # A client-credentials token minted with our key for /me/ (what a bug elsewhere could produce) is refused.
    minted = core.tokens.access_token(
        subject=f"{tenant.m2m.client_id}@clients",
        audience=audience,
        client_id=tenant.m2m.client_id,
        scope=" ".join(MY_ACCOUNT_SCOPES),
        ttl=timedelta(minutes=5),
        extra={"gty": "client-credentials", "auth_time": int(time.time())},
    ).token
    response = Me(client, minted).get("/authentication-methods")
    assert response.status_code == 403 and "user tokens only" in response.json()["detail"], response.text


def test_scope_escalation_beyond_the_client_grant(client: TestClient, tenant: Tenant) -> None:
    # The m2m client's grant on the API is read:things only.
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": tenant.m2m.client_id,
            "client_secret": tenant.m2m_secret,
            "audience": tenant.api,
            "scope": "read:things write:things admin:things",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "read:things"
    assert _claims(response.json()["access_token"])["scope"] == "read:things"


def test_scope_escalation_beyond_rbac_permissions(client: TestClient, tenant: Tenant, core: Core) -> None:
    admin.update_resource_server(
        core,
        tenant.api,
        {"enforce_policies": True, "subject_type_authorization": {"user": {"policy": "require_client_grant"}}},
    )
    admin.create_client_grant(
        core,
        client_id=tenant.web.client_id,
        audience=tenant.api,
        scope=["read:things", "write:things", "admin:things"],
        subject_type="user",
    )
    role = admin.create_role(core, name="reader", permissions=[(tenant.api, "read:things")])
    admin.assign_roles(core, tenant.user.id, [role.id])

    def ask(scope: str) -> dict[str, Any]:
        response = client.post(
            "/oauth/token",
            data={
                "grant_type": "password",
                "client_id": tenant.web.client_id,
                "client_secret": tenant.web_secret,
                "username": "alice@example.com",
                "password": tenant.password,
                "audience": tenant.api,
                "scope": scope,
            },
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    granted = ask("openid read:things write:things admin:things")
    assert set(_claims(granted["access_token"])["scope"].split()) == {"openid", "read:things"}
    # The client grant would allow admin:things; the user's permissions do not.
    assert "admin:things" not in granted["scope"].split()
