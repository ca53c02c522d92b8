"""Push notifications: the protocol the server and the device (`myaccount authenticator`) share.

Enrollment carries a single-use ticket in an `otpauth://push/…` URI, as Guardian's QR codes do. The device
makes a P-256 key, posts its public half as a JWK (RFC 7517, RFC 7518 §6.2) with the ticket to
`{base_url}/push/v1/enroll`, and from then on uses that key twice over:

- every request carries `Authorization: Device <jwt>`: an ES256 JWT (RFC 7515, RFC 7519) whose header `kid` is
  the key's RFC 7638 thumbprint and whose claims are `iat`, `exp` (at most 60 s later), `jti` (single use),
  `htm` and `htu` (method and URL of the request), the shape of a DPoP proof (RFC 9449 §4.2);
- every answer to a push challenge is signed: ES256 (RFC 7518 §3.4, raw R‖S, base64url without padding) over
  the ASCII bytes of `answer_signing_input(challenge_id, approve)`, i.e.
  `myaccount-push-answer.v1:<challenge id>:approve` or `…:reject`. The prefix keeps these signatures apart from
  JWS signing inputs (which start with a base64url header), so one can never stand in for the other.

Nothing here touches HTTP or storage: the server side is `myaccount.push`, the device side
`myaccount.authenticator`.
"""

import base64
import re
import secrets
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import jwt
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from myaccount.crypto.keys import thumbprint
from myaccount.methods.base import Challenge

__all__ = [
    "CLOCK_LEEWAY",
    "DEVICE_JWT_MAX_LIFETIME",
    "DEVICE_JWT_TYPE",
    "TICKET_PURPOSE",
    "DeviceProof",
    "EnrollmentUri",
    "Fingerprint",
    "InvalidKey",
    "InvalidProof",
    "answer_signing_input",
    "begin",
    "check_device_jwt",
    "device_jwt",
    "device_key",
    "load_public_jwk",
    "parse_uri",
    "proof_kid",
    "public_jwk",
    "sign_answer",
    "thumbprint",
    "ticket_key",
    "verify_answer",
]

TICKET_PURPOSE = "push-ticket"
DEVICE_JWT_TYPE = "push-device+jwt"  # explicit typing (RFC 8725 §3.11): no other JWT passes for a device proof
DEVICE_JWT_MAX_LIFETIME = 60
CLOCK_LEEWAY = 5  # seconds of clock skew tolerated between device and server
_ANSWER_PREFIX = "myaccount-push-answer.v1"
_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
_B64URL_32 = re.compile(r"[A-Za-z0-9_-]{43}")
_B64URL_64 = re.compile(r"[A-Za-z0-9_-]{86}")
_JTI = re.compile(r"[\x21-\x7e]{1,64}")


class InvalidKey(ValueError):
    """A device public key we cannot accept; the message says why."""


class InvalidProof(ValueError):
    """A device JWT that does not authenticate the request; the message says why."""


# Enrollment URI


def begin(*, issuer: str, account_label: str, base_url: str, ticket: str) -> Challenge:
    label = quote(f"{issuer}:{account_label}", safe="")
    query = urlencode({"enrollment_tx_id": ticket, "base_url": base_url, "issuer": issuer}, quote_via=quote)
    return Challenge(public={"barcode_uri": f"otpauth://push/{label}?{query}"}, state={})


class Fingerprint(Protocol):
    def __call__(self, value: str, *, purpose: str) -> str: ...


def ticket_key(ticket: str, fingerprint: Fingerprint) -> str:
    """The `credential_id` of a push method waiting for its device: the ticket's keyed hash, namespaced.

    `credential_id` is unique and indexed, so the enrollment endpoint finds the method without a JSON query;
    the prefix keeps these values apart from WebAuthn credential ids (base64url, no colon). Only the hash is
    stored, so a database reader cannot enroll a device.
    """
    return f"push-ticket:{fingerprint(ticket, purpose=TICKET_PURPOSE)}"


def device_key(jkt: str) -> str:
    """The `credential_id` of an enrolled push method: its device key's RFC 7638 thumbprint, namespaced."""
    return f"push-device:{jkt}"


@dataclass(frozen=True, slots=True)
class EnrollmentUri:
    issuer: str
    account: str
    ticket: str
    base_url: str


def parse_uri(uri: str) -> EnrollmentUri:
    """The inverse of `begin`: what a device reads from the QR code. ValueError names what is wrong."""
    parts = urlsplit(uri.strip())
    if parts.scheme.lower() != "otpauth" or parts.netloc.lower() != "push":
        raise ValueError("not a push enrollment URI: it must start with otpauth://push/")
    try:
        query = parse_qs(parts.query, strict_parsing=True, errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError("the URI's query string is malformed") from exc
    values = {name: found[0] for name, found in query.items() if len(found) == 1}
    ticket = values.get("enrollment_tx_id", "")
    base_url = values.get("base_url", "").rstrip("/")
    if not ticket:
        raise ValueError("the URI has no enrollment_tx_id")
    target = urlsplit(base_url)
    if target.scheme not in ("http", "https") or not target.netloc or target.query or target.fragment:
        raise ValueError("the URI's base_url must be an http(s) URL such as https://id.example.com")
    label = unquote(parts.path.lstrip("/"))
    prefix, sep, account = label.partition(":")
    issuer = values.get("issuer") or (prefix if sep else "")
    return EnrollmentUri(issuer=issuer, account=account if sep else label, ticket=ticket, base_url=base_url)


# Keys


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """RFC 7518 §6.2.1: a P-256 public key; `x` and `y` are 32-byte big-endian integers, base64url."""
    numbers = key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big")),
    }


def load_public_jwk(jwk: object) -> tuple[ec.EllipticCurvePublicKey, dict[str, str]]:
    """The key and its canonical public JWK `{kty, crv, x, y}`; InvalidKey says what is wrong."""
    if not isinstance(jwk, dict):
        raise InvalidKey("public_key must be a JWK object.")
    private = sorted(_PRIVATE_MEMBERS & set(jwk))
    if private:
        # The private key never leaves the device; one that arrives here is compromised, so refuse it loudly.
        raise InvalidKey(
            f"public_key must hold only the public key; remove the private member(s): {', '.join(private)}."
        )
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise InvalidKey('public_key must be an EC P-256 key ("kty": "EC", "crv": "P-256").')
    if jwk.get("alg", "ES256") != "ES256" or jwk.get("use", "sig") != "sig":
        raise InvalidKey('public_key may only be used for ES256 signatures ("alg": "ES256", "use": "sig").')
    x, y = jwk.get("x"), jwk.get("y")
    if not isinstance(x, str) or not isinstance(y, str) or not _B64URL_32.fullmatch(x) or not _B64URL_32.fullmatch(y):
        raise InvalidKey("public_key x and y must be 32-byte values, base64url without padding.")
    try:
        key = ec.EllipticCurvePublicNumbers(
            int.from_bytes(_unb64(x), "big"), int.from_bytes(_unb64(y), "big"), ec.SECP256R1()
        ).public_key()
    except ValueError as exc:
        raise InvalidKey("public_key is not a point on the P-256 curve.") from exc
    return key, public_jwk(key)


# Device JWT


@dataclass(frozen=True, slots=True)
class DeviceProof:
    jti: str
    exp: int


def device_jwt(private_key: ec.EllipticCurvePrivateKey, *, jkt: str, method: str, url: str, now: int) -> str:
    """The device's proof for one request (see the module docstring)."""
    claims = {"iat": now, "exp": now + 30, "jti": secrets.token_urlsafe(16), "htm": method.upper(), "htu": url}
    return jwt.encode(claims, private_key, algorithm="ES256", headers={"typ": DEVICE_JWT_TYPE, "kid": jkt})


def proof_kid(token: str) -> str:
    """The unverified `kid` of a device JWT, to find the key that must have signed it."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidProof("The device token is not a well-formed JWT.") from exc
    kid = header.get("kid")
    if not isinstance(kid, str) or not _B64URL_32.fullmatch(kid):
        raise InvalidProof("The device token has no kid (the device key's RFC 7638 thumbprint).")
    return kid


def check_device_jwt(token: str, key: ec.EllipticCurvePublicKey, *, method: str, url: str, now: int) -> DeviceProof:
    """Signature, type, time window and request binding of a device JWT. Replay (`jti`) is the caller's check."""
    try:
        # Only ES256 with the stored key: the `alg` in the header chooses nothing (RFC 8725 §3.1).
        decoded = jwt.decode_complete(
            token,
            key,
            algorithms=["ES256"],
            # Time is checked below against our clock, not the system's; the rest of PyJWT's checks stay on.
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False},
        )
    except jwt.PyJWTError as exc:
        raise InvalidProof("The device token's signature does not verify with the enrolled device key.") from exc
    header: dict[str, Any] = decoded["header"]
    claims: dict[str, Any] = decoded["payload"]
    if header.get("typ") != DEVICE_JWT_TYPE:
        raise InvalidProof(f'The device token must have "typ": "{DEVICE_JWT_TYPE}".')
    iat, exp, jti = claims.get("iat"), claims.get("exp"), claims.get("jti")
    if type(iat) is not int or type(exp) is not int or not 0 < exp - iat <= DEVICE_JWT_MAX_LIFETIME:
        raise InvalidProof(f"The device token needs integer iat and exp at most {DEVICE_JWT_MAX_LIFETIME} s apart.")
    if not iat - CLOCK_LEEWAY <= now < exp + CLOCK_LEEWAY:
        raise InvalidProof("The device token is expired or not yet valid; check the device's clock.")
    if not isinstance(jti, str) or not _JTI.fullmatch(jti):
        raise InvalidProof("The device token needs a jti of 1 to 64 printable characters.")
    if claims.get("htm") != method.upper() or claims.get("htu") != url:
        raise InvalidProof(f"The device token was made for another request (expected htm {method}, htu {url}).")
    return DeviceProof(jti=jti, exp=exp)


# Answers


def answer_signing_input(challenge_id: str, approve: bool) -> bytes:
    return f"{_ANSWER_PREFIX}:{challenge_id}:{'approve' if approve else 'reject'}".encode()


def sign_answer(private_key: ec.EllipticCurvePrivateKey, challenge_id: str, approve: bool) -> str:
    """RFC 7518 §3.4: ES256 over the answer, as the fixed-size R‖S (32 + 32 bytes), base64url."""
    der = private_key.sign(answer_signing_input(challenge_id, approve), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return _b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


def verify_answer(key: ec.EllipticCurvePublicKey, challenge_id: str, approve: bool, signature: object) -> bool:
    if not isinstance(signature, str) or not _B64URL_64.fullmatch(signature):
        return False
    raw = _unb64(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        key.verify(der, answer_signing_input(challenge_id, approve), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True
