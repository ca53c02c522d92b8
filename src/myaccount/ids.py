"""Identifiers in the shapes Auth0 uses (`auth0|<24 hex>`, `totp|dev_<16 alnum>`, 32-character client ids)."""

import secrets
import string

__all__ = ["alnum", "new_client_id", "new_user_id", "token"]

_ALNUM = string.ascii_letters + string.digits
# A random byte below 248 (= 4 x 62) picks one of the 62 characters without bias; bytes 248-255 are dropped.
_PICK = (_ALNUM * 4 + "\0" * 8).encode()
_DROP = bytes(range(248, 256))


def alnum(length: int) -> str:
    picked = b""
    while len(picked) < length:
        picked += secrets.token_bytes(length + 8).translate(_PICK, _DROP)
    return picked[:length].decode()


def new_user_id(connection_prefix: str = "auth0") -> str:
    return f"{connection_prefix}|{secrets.token_hex(12)}"


def new_client_id() -> str:
    return alnum(32)


def token(nbytes: int = 32) -> str:
    """An opaque, URL-safe secret with `nbytes` of entropy."""
    return secrets.token_urlsafe(nbytes)
