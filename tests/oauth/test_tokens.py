"""Token verification: what the guard refuses, and key rotation."""

import base64
import json
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from starlette.testclient import TestClient

from myaccount.clock import FrozenClock
from myaccount.core import Core
from myaccount.crypto.keys import generate_rsa
from myaccount.oauth.errors import InvalidToken
from tests.support.tenant import Tenant

AUD = "https://api.example.test/"


def _token(core: Core, **extra: object) -> str:
    return core.tokens.access_token(
        subject="auth0|abc",
        audience=AUD,
        client_id="c1",
        scope="read:things",
        ttl=timedelta(minutes=5),
        extra=extra or None,
    ).token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict[str, object], claims: dict[str, object], signature: bytes = b"") -> str:
    return ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(signature)])


def test_valid_token_verifies_and_is_cached(core: Core) -> None:
    token = _token(core)
    claims = core.tokens.verify_access_token(token, audience=AUD)
    assert claims.subject == "auth0|abc" and claims.scopes == {"read:things"}
    assert core.tokens.verify_access_token(token, audience=AUD) is claims  # served from the cache


def test_alg_none_is_refused(core: Core) -> None:
    claims = jwt.decode(_token(core), options={"verify_signature": False})
    forged = _forge({"alg": "none", "typ": "JWT", "kid": core.keyring.signing_key.kid}, claims)
    with pytest.raises(InvalidToken):
        core.tokens.verify_access_token(forged, audience=AUD)


def test_hs256_signed_with_our_public_key_is_refused(core: Core) -> None:
    claims = jwt.decode(_token(core), options={"verify_signature": False})
    public_pem = core.keyring.signing_key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import hashlib
    import hmac

    header = {"alg": "HS256", "typ": "JWT", "kid": core.keyring.signing_key.kid}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidToken):
        core.tokens.verify_access_token(f"{signing_input}.{_b64(signature)}", audience=AUD)


def test_wrong_audience_wrong_issuer_foreign_key(core: Core) -> None:
    with pytest.raises(InvalidToken, match="not issued for this API"):
        core.tokens.verify_access_token(_token(core), audience="https://other.example/")
    key = core.keyring.signing_key
    claims = jwt.decode(_token(core), options={"verify_signature": False})
    wrong_iss = jwt.encode(
        {**claims, "iss": "https://evil.example/"}, key.private_key, "RS256", headers={"kid": key.kid}
    )
    with pytest.raises(InvalidToken, match="issuer"):
        core.tokens.verify_access_token(wrong_iss, audience=AUD)
    foreign = generate_rsa()
    forged = jwt.encode(claims, foreign.private_key, "RS256", headers={"kid": key.kid})
    with pytest.raises(InvalidToken):
        core.tokens.verify_access_token(forged, audience=AUD)


def test_expired_and_not_yet_valid(core: Core, clock: FrozenClock) -> None:
    token = _token(core)
    core.tokens.verify_access_token(token, audience=AUD)
    clock.advance(minutes=6)
    with pytest.raises(InvalidToken, match="expired"):
        core.tokens.verify_access_token(token, audience=AUD)
    future = _token(core, nbf=int(clock.now().timestamp()) + 3600)
    with pytest.raises(InvalidToken, match="not valid yet"):
        core.tokens.verify_access_token(future, audience=AUD)


def test_rotation_publishes_next_before_use_and_keeps_previous(core: Core, clock: FrozenClock) -> None:
    jwks = core.keyring.jwks()["keys"]
    assert len(jwks) == 2  # current + next, published before use
    old_token = _token(core)
    old_kid = core.keyring.signing_key.kid
    next_kid = next(k["kid"] for k in jwks if k["kid"] != old_kid)
    new_kid = core.keyring.rotate()
    assert new_kid == next_kid == core.keyring.signing_key.kid
    assert jwt.get_unverified_header(_token(core))["kid"] == new_kid
    assert core.tokens.verify_access_token(old_token, audience=AUD).kid == old_kid
    assert {k["kid"] for k in core.keyring.jwks()["keys"]} >= {old_kid, new_kid}
    # After the overlap the retired key is no longer published nor accepted.
    clock.advance(hours=26)
    core.keyring.load()
    assert old_kid not in {k["kid"] for k in core.keyring.jwks()["keys"]}
    with pytest.raises(InvalidToken):
        core.tokens.verify_access_token(old_token, audience=AUD)


def test_revoked_key_stops_cached_tokens_at_once(core: Core) -> None:
    token = _token(core)
    old_kid = core.keyring.signing_key.kid
    core.tokens.verify_access_token(token, audience=AUD)
    core.keyring.rotate()
    core.keyring.revoke(old_kid)
    with pytest.raises(InvalidToken):
        core.tokens.verify_access_token(token, audience=AUD)
    with pytest.raises(ValueError):
        core.keyring.revoke(core.keyring.signing_key.kid)


def test_jwks_and_discovery_endpoints(client: TestClient, core: Core) -> None:
    jwks = client.get("/.well-known/jwks.json").json()
    assert all(k["kty"] == "RSA" and k["alg"] == "RS256" and k["use"] == "sig" and "d" not in k for k in jwks["keys"])
    config = client.get("/.well-known/openid-configuration").json()
    assert config["issuer"] == "http://localhost/"
    assert config["jwks_uri"] == "http://localhost/.well-known/jwks.json"
    assert config["code_challenge_methods_supported"] == ["S256"]


def test_userinfo(client: TestClient, tenant: Tenant, core: Core) -> None:
    token = client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "username": "alice@example.com",
            "password": tenant.password,
            "scope": "openid email",
        },
    ).json()["access_token"]
    info = client.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert info.status_code == 200
    assert info.json() == {"sub": tenant.user.id, "email": "alice@example.com", "email_verified": True}
    assert client.get("/userinfo").status_code == 401
    bad = client.get("/userinfo", headers={"Authorization": "Bearer x.y.z"})
    assert bad.status_code == 401 and "invalid_token" in bad.headers["www-authenticate"]
