"""The push protocol without a server: enrollment URIs, device keys (RFC 7518 §6.2), device JWTs, answer signatures."""

import base64
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from myaccount.methods import push

NOW = 1_800_000_000
URL = "https://id.example.com/push/v1/challenges"


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _jkt(key: ec.EllipticCurvePrivateKey) -> str:
    return push.thumbprint(push.public_jwk(key.public_key()))


def test_uri_round_trip() -> None:
    started = push.begin(
        issuer="My Tenant", account_label="alice@example.com", base_url="https://id.example.com", ticket="t-1_x"
    )
    uri = started.public["barcode_uri"]
    assert uri.startswith("otpauth://push/My%20Tenant%3Aalice%40example.com?")
    assert push.parse_uri(uri) == push.EnrollmentUri(
        issuer="My Tenant", account="alice@example.com", ticket="t-1_x", base_url="https://id.example.com"
    )


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("otpauth://totp/x:y?secret=ABC", "otpauth://push/"),
        ("otpauth://push/x:y?base_url=https%3A%2F%2Fid.example.com", "enrollment_tx_id"),
        ("otpauth://push/x:y?enrollment_tx_id=t", "base_url"),
        ("otpauth://push/x:y?enrollment_tx_id=t&base_url=ftp%3A%2F%2Fh", "base_url"),
        ("otpauth://push/x:y?enrollment_tx_id=t&enrollment_tx_id=u&base_url=https%3A%2F%2Fh", "enrollment_tx_id"),
    ],
)
def test_uri_errors_say_what_is_wrong(uri: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        push.parse_uri(uri)


def test_public_jwk_round_trip(key: ec.EllipticCurvePrivateKey) -> None:
    jwk = push.public_jwk(key.public_key())
    assert set(jwk) == {"kty", "crv", "x", "y"} and len(jwk["x"]) == len(jwk["y"]) == 43
    loaded, canonical = push.load_public_jwk({**jwk, "alg": "ES256", "use": "sig", "kid": "anything"})
    assert canonical == jwk
    assert loaded.public_numbers() == key.public_key().public_numbers()


def test_thumbprint_covers_only_the_required_members(key: ec.EllipticCurvePrivateKey) -> None:
    """RFC 7638 §3.2: for EC keys, crv, kty, x and y; optional members do not change it."""
    jwk = push.public_jwk(key.public_key())
    assert push.thumbprint(jwk) == push.thumbprint({**jwk, "alg": "ES256", "kid": "x"})
    assert len(push.thumbprint(jwk)) == 43


def _private_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    d = key.private_numbers().private_value.to_bytes(32, "big")
    return {**push.public_jwk(key.public_key()), "d": base64.urlsafe_b64encode(d).rstrip(b"=").decode()}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"crv": "P-384"}, "P-256"),
        ({"kty": "RSA"}, "P-256"),
        ({"alg": "ES384"}, "ES256"),
        ({"use": "enc"}, "ES256"),
        ({"x": "AAAA"}, "32-byte"),
        ({"y": None}, "32-byte"),
        ({"x": "A" * 43, "y": "A" * 43}, "curve"),
    ],
)
def test_unusable_keys_are_refused(key: ec.EllipticCurvePrivateKey, change: dict[str, Any], message: str) -> None:
    with pytest.raises(push.InvalidKey, match=message):
        push.load_public_jwk({**push.public_jwk(key.public_key()), **change})


def test_a_private_jwk_is_refused(key: ec.EllipticCurvePrivateKey) -> None:
    with pytest.raises(push.InvalidKey, match="private member.*d"):
        push.load_public_jwk(_private_jwk(key))
    with pytest.raises(push.InvalidKey, match="JWK object"):
        push.load_public_jwk("not a jwk")


def test_device_jwt_checks(key: ec.EllipticCurvePrivateKey) -> None:
    jkt = _jkt(key)
    token = push.device_jwt(key, jkt=jkt, method="get", url=URL, now=NOW)
    assert push.proof_kid(token) == jkt
    proof = push.check_device_jwt(token, key.public_key(), method="GET", url=URL, now=NOW + 1)
    assert proof.exp == NOW + 30 and proof.jti
    with pytest.raises(push.InvalidProof, match="another request"):
        push.check_device_jwt(token, key.public_key(), method="POST", url=URL, now=NOW)
    with pytest.raises(push.InvalidProof, match="another request"):
        push.check_device_jwt(token, key.public_key(), method="GET", url=URL + "/x", now=NOW)
    with pytest.raises(push.InvalidProof, match="expired"):
        push.check_device_jwt(token, key.public_key(), method="GET", url=URL, now=NOW + 30 + push.CLOCK_LEEWAY)
    with pytest.raises(push.InvalidProof, match="not yet valid"):
        push.check_device_jwt(token, key.public_key(), method="GET", url=URL, now=NOW - push.CLOCK_LEEWAY - 1)
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(push.InvalidProof, match="signature"):
        push.check_device_jwt(token, other.public_key(), method="GET", url=URL, now=NOW)


def _signed(key: ec.EllipticCurvePrivateKey, claims: dict[str, Any], **header: Any) -> str:
    return jwt.encode(claims, key, algorithm="ES256", headers={"typ": push.DEVICE_JWT_TYPE, **header})


@pytest.mark.parametrize(
    ("claims", "header", "message"),
    [
        ({"iat": NOW, "exp": NOW + 61}, {}, "at most 60 s"),
        ({"iat": NOW, "exp": NOW}, {}, "at most 60 s"),
        ({"iat": float(NOW), "exp": NOW + 30}, {}, "integer"),
        ({"iat": NOW, "exp": NOW + 30, "jti": ""}, {}, "jti"),
        ({"iat": NOW, "exp": NOW + 30}, {"typ": "JWT"}, "typ"),
    ],
)
def test_device_jwt_claims_are_strict(
    key: ec.EllipticCurvePrivateKey, claims: dict[str, Any], header: dict[str, Any], message: str
) -> None:
    token = _signed(key, {"jti": "j1", "htm": "GET", "htu": URL, **claims}, **header)
    with pytest.raises(push.InvalidProof, match=message):
        push.check_device_jwt(token, key.public_key(), method="GET", url=URL, now=NOW + 1)


def test_only_es256_is_accepted(key: ec.EllipticCurvePrivateKey) -> None:
    """RFC 8725 §2.1: the header's alg chooses nothing; unsigned and HMAC tokens fail the signature check."""
    claims = {"iat": NOW, "exp": NOW + 30, "jti": "j", "htm": "GET", "htu": URL}
    unsigned = jwt.encode(claims, "", algorithm="none", headers={"typ": push.DEVICE_JWT_TYPE, "kid": _jkt(key)})
    hmac = jwt.encode(claims, "s" * 32, algorithm="HS256", headers={"typ": push.DEVICE_JWT_TYPE, "kid": _jkt(key)})
    for token in (unsigned, hmac):
        with pytest.raises(push.InvalidProof):
            push.check_device_jwt(token, key.public_key(), method="GET", url=URL, now=NOW)
    with pytest.raises(push.InvalidProof, match="well-formed"):
        push.proof_kid("not.a.jwt")
    with pytest.raises(push.InvalidProof, match="kid"):
        push.proof_kid(_signed(key, claims))


def test_answer_signature_binds_challenge_and_decision(key: ec.EllipticCurvePrivateKey) -> None:
    assert push.answer_signing_input("pch_1", True) == b"myaccount-push-answer.v1:pch_1:approve"
    signature = push.sign_answer(key, "pch_1", True)
    assert len(signature) == 86  # R‖S, 64 bytes (RFC 7518 §3.4), base64url
    public = key.public_key()
    assert push.verify_answer(public, "pch_1", True, signature)
    assert not push.verify_answer(public, "pch_1", False, signature)
    assert not push.verify_answer(public, "pch_2", True, signature)
    assert not push.verify_answer(ec.generate_private_key(ec.SECP256R1()).public_key(), "pch_1", True, signature)
    for junk in (None, "", "A" * 86, signature + "A", 42):
        assert not push.verify_answer(public, "pch_1", True, junk)


def test_device_jwt_uses_the_callers_time(key: ec.EllipticCurvePrivateKey) -> None:
    now = int(time.time())
    token = push.device_jwt(key, jkt=_jkt(key), method="POST", url=URL, now=now)
    claims = jwt.decode(token, key.public_key(), algorithms=["ES256"])
    assert claims["iat"] == now and claims["exp"] - claims["iat"] <= push.DEVICE_JWT_MAX_LIFETIME
    assert claims["htm"] == "POST" and claims["htu"] == URL
