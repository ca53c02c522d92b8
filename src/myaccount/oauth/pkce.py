"""PKCE, RFC 7636. Only S256 is accepted: `plain` offers nothing against a leaked authorization request."""

import base64
import hashlib
import hmac
import re

__all__ = ["S256", "challenge_for", "valid_challenge", "verify"]

S256 = "S256"
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")  # RFC 7636 §4.1
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-_]{43}$")  # base64url of a SHA-256 digest, no padding


def challenge_for(verifier: str) -> str:
    """RFC 7636 §4.2: BASE64URL(SHA256(ASCII(code_verifier)))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def valid_challenge(challenge: str) -> bool:
    return bool(_CHALLENGE.match(challenge))


def verify(verifier: str, challenge: str) -> bool:
    """RFC 7636 §4.6, compared in constant time."""
    if not _VERIFIER.match(verifier):
        return False
    return hmac.compare_digest(challenge_for(verifier), challenge)
