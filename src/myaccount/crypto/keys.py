"""Signing keys: RSA 2048 for RS256 (Auth0's default), kid = RFC 7638 thumbprint, public part as a JWK."""

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

__all__ = ["KeyMaterial", "generate_rsa", "load_private_pem", "public_jwk", "thumbprint"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 §3: SHA-256 over the required members in lexicographic order, no white space."""
    members = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x")}[jwk["kty"]]
    canonical = json.dumps({k: jwk[k] for k in members}, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())


def public_jwk(key: rsa.RSAPublicKey, *, alg: str = "RS256") -> dict[str, Any]:
    numbers = key.public_numbers()
    jwk: dict[str, Any] = {"kty": "RSA", "n": _int(numbers.n), "e": _int(numbers.e)}
    jwk.update(kid=thumbprint(jwk), alg=alg, use="sig")
    return jwk


@dataclass(frozen=True, slots=True)
class KeyMaterial:
    kid: str
    alg: str
    private_key: rsa.RSAPrivateKey
    public_jwk: dict[str, Any]

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def generate_rsa(bits: int = 2048) -> KeyMaterial:
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    jwk = public_jwk(private.public_key())
    return KeyMaterial(kid=jwk["kid"], alg="RS256", private_key=private, public_jwk=jwk)


def load_private_pem(pem: bytes, *, alg: str) -> KeyMaterial:
    private = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(private, rsa.RSAPrivateKey):
        raise ValueError("only RSA signing keys are supported")
    jwk = public_jwk(private.public_key(), alg=alg)
    return KeyMaterial(kid=jwk["kid"], alg=alg, private_key=private, public_jwk=jwk)
