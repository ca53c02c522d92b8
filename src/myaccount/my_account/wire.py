"""Authentication methods as the My Account API shows them (contracts/auth0-wire-notes.md §3.1).

Every item has `id`, `type`, `created_at` (milliseconds, Swift needs them) and `usage`; MFA types add
`confirmed`; passkeys always carry `aaguid` and `relying_party_id` (Swift and Android decode them as required).
"""

import base64
from datetime import datetime
from typing import Any

from myaccount.methods.base import MethodType
from myaccount.store.methods import MethodRecord
from myaccount.store.users import User
from myaccount.timefmt import iso_ms

__all__ = ["PRIMARY", "password_method", "password_method_id", "password_record", "to_wire"]

PRIMARY = frozenset({MethodType.PASSKEY.value, MethodType.PASSWORD.value})
_PASSKEY_FIELDS = (
    "credential_backed_up",
    "credential_device_type",
    "key_id",
    "public_key",
    "user_handle",
    "transports",
    "user_agent",
    "aaguid",
    "relying_party_id",
)


def password_method_id(user: User) -> str:
    return _password_id(user.identity_id)


def _password_id(identity_id: str) -> str:
    return "password|" + base64.urlsafe_b64encode(identity_id.encode()).rstrip(b"=").decode()


def password_method(user: User) -> MethodRecord | None:
    if user.password_hash is None:
        return None
    return password_record(user.id, password_changed_at=user.password_changed_at, created_at=user.created_at)


def password_record(user_id: str, *, password_changed_at: datetime | None, created_at: datetime) -> MethodRecord:
    """The password as a method: the user's password, shown among the methods (Auth0 does the same)."""
    return MethodRecord(
        id=_password_id(user_id.split("|", 1)[1] if "|" in user_id else user_id),
        user_id=user_id,
        type=MethodType.PASSWORD.value,
        name=None,
        confirmed=True,
        created_at=password_changed_at or created_at,
        data={"last_password_reset": iso_ms(password_changed_at) if password_changed_at else None},
    )


def to_wire(record: MethodRecord, *, origin: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": record.id,
        "type": record.type,
        "created_at": iso_ms(record.created_at),
        "usage": ["primary"] if record.type in PRIMARY else ["secondary"],
    }
    data = record.data
    if record.type == MethodType.PASSWORD:
        body["identity_user_id"] = record.user_id
        if data.get("last_password_reset"):
            body["last_password_reset"] = data["last_password_reset"]
        return body
    if record.type == MethodType.PASSKEY:
        body["identity_user_id"] = record.user_id
        for field in _PASSKEY_FIELDS:
            if data.get(field) is not None:
                body[field] = data[field]
        body.setdefault("transports", [])
        if record.name:
            body["name"] = record.name
        aaguid = data.get("aaguid")
        if aaguid and data.get("has_icon"):
            body["icon_url"] = f"{origin}/authenticators/{aaguid}/icon.svg"
    else:
        body["confirmed"] = record.confirmed
        if record.name:
            body["name"] = record.name
        if record.type == MethodType.EMAIL:
            body["email"] = data.get("email", "")
        elif record.type == MethodType.PHONE:
            body["phone_number"] = data.get("phone_number", "")
            body["preferred_authentication_method"] = data.get("preferred_authentication_method", "sms")
        elif record.type in (MethodType.WEBAUTHN_PLATFORM, MethodType.WEBAUTHN_ROAMING):
            for field in ("key_id", "public_key"):
                if data.get(field):
                    body[field] = data[field]
    if record.last_auth_at is not None:
        body["last_auth_at"] = iso_ms(record.last_auth_at)
    return body
