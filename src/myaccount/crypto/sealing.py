"""Secrets at rest: AES-256-GCM with keys derived from the configured secret, and key rotation.

A sealed value is `v1.<key id>.<base64url(nonce ‖ ciphertext)>`. The first configured key seals; every configured
key opens, so an old key can be kept while values are re-sealed under a new one.
"""

import base64
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["SealError", "Sealer", "load_or_create_secret"]


class SealError(Exception):
    """A sealed value could not be opened: unknown key, tampered or truncated."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sealer:
    def __init__(self, secrets_: list[bytes]) -> None:
        if not secrets_:
            raise ValueError("at least one secret key is needed")
        self._keys: dict[str, AESGCM] = {}
        self._order: list[str] = []
        for raw in secrets_:
            if len(raw) < 32:
                raise ValueError("secret keys must have at least 32 bytes")
            key_id = hashlib.sha256(b"myaccount key id" + raw).hexdigest()[:8]
            derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"myaccount seal v1").derive(raw)
            self._keys[key_id] = AESGCM(derived)
            self._order.append(key_id)
        self._hmac_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"myaccount hmac v1").derive(
            secrets_[0]
        )

    @classmethod
    def from_config(cls, value: str) -> "Sealer":
        return cls([_unb64(part.strip()) for part in value.split(",") if part.strip()])

    def seal(self, plaintext: bytes, *, purpose: str) -> str:
        key_id = self._order[0]
        nonce = os.urandom(12)
        body = self._keys[key_id].encrypt(nonce, plaintext, purpose.encode())
        return f"v1.{key_id}.{_b64(nonce + body)}"

    def open(self, sealed: str, *, purpose: str) -> bytes:
        try:
            version, key_id, body = sealed.split(".", 2)
            aead = self._keys[key_id]
            raw = _unb64(body)
            if version != "v1" or len(raw) < 28:
                raise SealError("malformed sealed value")
            return aead.decrypt(raw[:12], raw[12:], purpose.encode())
        except (ValueError, KeyError, InvalidTag) as exc:
            raise SealError("sealed value cannot be opened") from exc

    def needs_reseal(self, sealed: str) -> bool:
        return not sealed.startswith(f"v1.{self._order[0]}.")

    def fingerprint(self, value: str, *, purpose: str) -> str:
        """A keyed hash for looking up high-entropy secrets (client secrets, refresh tokens) without storing them."""
        import hmac

        return hmac.new(self._hmac_key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


def load_or_create_secret(path: Path) -> str:
    """The development default: a random key in a 0600 file beside the database, made on first start."""
    if path.exists():
        return path.read_text().strip()
    value = _b64(secrets.token_bytes(32))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value
