"""A DPoP client key for tests: makes RFC 9449 proofs, and wrong ones on request."""

import base64
import json
import secrets
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from myaccount.crypto.keys import thumbprint
from myaccount.oauth.dpop import access_token_hash

__all__ = ["DpopKey"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class DpopKey:
    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        numbers = self.private.public_key().public_numbers()
        self.jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64(numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.y.to_bytes(32, "big")),
        }
        self.jkt = thumbprint(self.jwk)

    def proof(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        iat: float | None = None,
        jti: str | None = None,
        typ: str = "dpop+jwt",
        extra_header: dict[str, Any] | None = None,
        claims: dict[str, Any] | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "jti": jti or secrets.token_urlsafe(16),
            "htm": method,
            "htu": url,
            "iat": int(iat if iat is not None else time.time()),
        }
        if access_token is not None:
            body["ath"] = access_token_hash(access_token)
        if nonce is not None:
            body["nonce"] = nonce
        body.update(claims or {})
        header: dict[str, Any] = {"typ": typ, "jwk": self.jwk, **(extra_header or {})}
        return jwt.encode(body, self.private, algorithm="ES256", headers=header)

    def private_jwk_proof(self, method: str, url: str) -> str:
        d = _b64(self.private.private_numbers().private_value.to_bytes(32, "big"))
        return self.proof(method, url, extra_header={"jwk": {**self.jwk, "d": d}})

    @staticmethod
    def hs256_proof(method: str, url: str) -> str:
        header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": {"kty": "oct", "k": _b64(b"k" * 32)}}
        body = {"jti": secrets.token_urlsafe(16), "htm": method, "htu": url, "iat": int(time.time())}
        signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(body).encode())}"
        import hashlib
        import hmac

        return f"{signing}.{_b64(hmac.new(b'k' * 32, signing.encode(), hashlib.sha256).digest())}"
