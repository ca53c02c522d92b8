"""Management API authentication methods (contracts/auth0-wire-notes.md §9.1–9.2): list, get, create (confirmed
at once), replace, rename, delete, for any user.

The records are the ones My Account enrolls (`store/methods.py`); secrets are sealed the same way (purpose
"method-secret"). The Management names differ from My Account's in two places: `relying_party_identifier`
(My Account: `relying_party_id`) and the type `push` (My Account: `push-notification`).

What the two bulk deletes remove (Auth0 describes both as removing MFA enrollments):
- `DELETE /users/{id}/authenticators`: the Guardian enrollments: totp, phone, email, push, recovery code.
- `DELETE /users/{id}/authentication-methods`: those and WebAuthn security keys (webauthn-roaming/-platform).
Neither removes the password or passkeys, the user's ways to sign in, so neither can lock a user out.
"""

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection
from webauthn.helpers import decode_credential_public_key

from myaccount.core import Core
from myaccount.ids import alnum
from myaccount.management import fields
from myaccount.management.errors import Exists, Invalid, Missing, Unsupported
from myaccount.methods import authenticators
from myaccount.methods.base import MethodError, MethodType
from myaccount.methods.otp import normalize_email, normalize_phone
from myaccount.my_account.wire import password_method
from myaccount.store.methods import MethodRecord, MethodStore
from myaccount.store.users import User, UserStore
from myaccount.timefmt import iso_ms

__all__ = [
    "create_method",
    "delete_authenticators",
    "delete_method",
    "delete_methods",
    "get_method",
    "list_methods",
    "replace_methods",
    "to_wire",
    "update_method",
]

_SECRET_PURPOSE = "method-secret"
_WIRE_TYPES = {MethodType.PUSH.value: "push"}
GUARDIAN_TYPES = frozenset({"totp", "phone", "email", "push-notification", "recovery-code"})
MFA_TYPES = GUARDIAN_TYPES | {"webauthn-roaming", "webauthn-platform"}
_NAMEABLE = frozenset(
    {"passkey", "totp", "phone", "email", "push-notification", "webauthn-roaming", "webauthn-platform"}
)
_PASSKEY_FIELDS = (
    "key_id",
    "public_key",
    "user_handle",
    "transports",
    "user_agent",
    "aaguid",
    "credential_device_type",
    "credential_backed_up",
)
_WEBAUTHN_FIELDS = {"key_id", "public_key", "relying_party_identifier"}
_FIELDS_BY_TYPE: dict[str, set[str]] = {
    "phone": {"phone_number", "preferred_authentication_method"},
    "email": {"email"},
    "totp": {"totp_secret"},
    "webauthn-roaming": _WEBAUTHN_FIELDS,
    "passkey": {*_WEBAUTHN_FIELDS, *_PASSKEY_FIELDS, "identity_user_id"},
}
_SETTABLE = ("phone", "email", "totp")
_ZERO_AAGUID = "00000000-0000-0000-0000-000000000000"


def to_wire(record: MethodRecord) -> dict[str, Any]:
    """Auth0's `UserAuthenticationMethod`: `id`, `type`, `created_at` always; the rest per type."""
    body: dict[str, Any] = {
        "id": record.id,
        "type": _WIRE_TYPES.get(record.type, record.type),
        "created_at": iso_ms(record.created_at),
    }
    data = record.data
    if record.type == MethodType.PASSWORD:
        body["identity_user_id"] = record.user_id
        return body
    body["confirmed"] = record.confirmed
    if record.name:
        body["name"] = record.name
    if record.type == MethodType.PASSKEY:
        body["identity_user_id"] = record.user_id
        body.update({k: data[k] for k in _PASSKEY_FIELDS if data.get(k) is not None})
        body.setdefault("transports", [])
    if record.type in (MethodType.PASSKEY, MethodType.WEBAUTHN_ROAMING, MethodType.WEBAUTHN_PLATFORM):
        body.update({k: data[k] for k in ("key_id", "public_key") if data.get(k)})
        if data.get("relying_party_id"):
            body["relying_party_identifier"] = data["relying_party_id"]
    elif record.type == MethodType.EMAIL:
        body["email"] = data.get("email", "")
    elif record.type == MethodType.PHONE:
        preferred = data.get("preferred_authentication_method", "sms")
        body["phone_number"] = data.get("phone_number", "")
        body["preferred_authentication_method"] = preferred
        body["authentication_methods"] = [{"id": f"{preferred}|{record.id.partition('|')[2]}", "type": preferred}]
    if record.last_auth_at is not None:
        body["last_auth_at"] = iso_ms(record.last_auth_at)
    return body


def _user(conn: Connection, user_id: str) -> User:
    user = UserStore(conn).get(user_id)
    if user is None:
        raise Missing("The user does not exist.", code="inexistent_user")
    return user


def _not_found() -> Missing:
    return Missing("The authentication method does not exist.", code="inexistent_authentication_method")


def _records(conn: Connection, user: User) -> list[MethodRecord]:
    records = MethodStore(conn).list(user.id)
    password = password_method(user)
    passkeys = [r for r in records if r.type == MethodType.PASSKEY]
    return passkeys + ([password] if password else []) + [r for r in records if r.type != MethodType.PASSKEY]


def list_methods(core: Core, user_id: str, *, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
    with core.db.read() as conn:
        records = _records(conn, _user(conn, user_id))
    return [to_wire(r) for r in records[page * per_page : (page + 1) * per_page]], len(records)


def _find(conn: Connection, user: User, method_id: str) -> MethodRecord:
    if method_id.startswith("password|"):
        password = password_method(user)
        if password is not None and password.id == method_id:
            return password
        raise _not_found()
    found = MethodStore(conn).get(user.id, method_id)
    if found is None:
        raise _not_found()
    return found


def get_method(core: Core, user_id: str, method_id: str) -> dict[str, Any]:
    with core.db.read() as conn:
        return to_wire(_find(conn, _user(conn, user_id), method_id))


def _name(body: Mapping[str, Any]) -> str | None:
    name = fields.text(body, "name", max_length=200)
    if name is not None:
        if not name.strip() or any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in name):
            raise Invalid("name must be 1 to 200 characters without control characters.")
        name = name.strip()
    return name


def _preferred(body: Mapping[str, Any]) -> str | None:
    preferred = fields.text(body, "preferred_authentication_method", max_length=10)
    if preferred is not None and preferred not in ("sms", "voice"):
        raise Invalid("preferred_authentication_method must be sms or voice.")
    return preferred


def _b64(value: str, name: str, *, urlsafe: bool) -> bytes:
    text = value.strip()
    try:
        if urlsafe:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        else:
            text = text.replace("-", "+").replace("_", "/")  # accept either alphabet
            raw = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Invalid(f"{name} is not valid base64.") from exc
    if not raw:
        raise Invalid(f"{name} must not be empty.")
    return raw


def _credential(body: Mapping[str, Any], *, rp_id: str) -> dict[str, Any]:
    """The public part of a WebAuthn credential made elsewhere; the key must parse, or sign-in could never work."""
    key_id = fields.text(body, "key_id", required=True, max_length=1400)
    public_key = fields.text(body, "public_key", required=True, max_length=4096)
    assert key_id is not None and public_key is not None
    raw_id = _b64(key_id, "key_id", urlsafe=True)
    cose = _b64(public_key, "public_key", urlsafe=False)
    try:
        decode_credential_public_key(cose)
    except Exception as exc:  # CBOR and key parsing raise a variety of builtin errors; any means "not a key"
        raise Invalid("public_key is not a COSE public key.") from exc
    return {
        "key_id": base64.urlsafe_b64encode(raw_id).rstrip(b"=").decode("ascii"),
        # Standard base64 with padding, as My Account stores and shows it.
        "public_key": base64.b64encode(cose).decode("ascii"),
        "relying_party_id": fields.text(body, "relying_party_identifier", max_length=253) or rp_id,
    }


def _passkey(body: Mapping[str, Any], user: User, rp_id: str) -> dict[str, Any]:
    data = _credential(body, rp_id=rp_id)
    identity = fields.text(body, "identity_user_id", max_length=255)
    if identity is not None and identity not in (user.id, user.identity_id):
        raise Invalid("identity_user_id does not name this user's identity.")
    aaguid = fields.text(body, "aaguid", max_length=64) or _ZERO_AAGUID
    try:
        aaguid = str(uuid.UUID(aaguid))
    except ValueError as exc:
        raise Invalid("aaguid must be a UUID.") from exc
    device_type = fields.text(body, "credential_device_type", max_length=20) or "single_device"
    if device_type not in ("single_device", "multi_device"):
        raise Invalid("credential_device_type must be single_device or multi_device.")
    handle = fields.text(body, "user_handle", max_length=200) or user.webauthn_user_handle or ""
    _b64(handle, "user_handle", urlsafe=True)
    transports = fields.texts(body, "transports", max_items=10) or []
    info = authenticators.describe(aaguid)
    data["provider"] = info.name if info else None
    data.update(
        {
            "aaguid": aaguid,
            "credential_device_type": device_type,
            "credential_backed_up": bool(fields.flag(body, "credential_backed_up")),
            "user_handle": handle,
            "transports": transports,
            "user_agent": fields.text(body, "user_agent", max_length=500),
            "sign_count": 0,
            "has_icon": bool(info and (info.icon_light or info.icon_dark)),
        }
    )
    return {k: v for k, v in data.items() if v is not None}


def _totp_secret(body: Mapping[str, Any]) -> str:
    raw = fields.text(body, "totp_secret", required=True, max_length=256)
    assert raw is not None
    secret = "".join(raw.split()).upper().rstrip("=")
    try:
        key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    except (binascii.Error, ValueError) as exc:
        raise Invalid("totp_secret must be base32 encoded.") from exc
    if len(key) < 10:
        raise Invalid("totp_secret must encode at least 80 bits (16 base32 characters).")
    return secret


class _New:
    """A method about to be stored: its record fields, checked but not yet written."""

    def __init__(self, type_: str, name: str | None, data: dict[str, Any], secret: dict[str, Any] | None) -> None:
        self.type = type_
        self.name = name
        self.data = data
        self.secret = secret
        self.credential_id: str | None = data.get("key_id") if type_ in ("passkey", "webauthn-roaming") else None


def _parse(body: Mapping[str, Any], user: User, core: Core, *, allowed: tuple[str, ...]) -> _New:
    type_ = fields.text(body, "type", required=True, max_length=32)
    if type_ not in allowed:
        raise Invalid(f"type must be one of {', '.join(allowed)}.")
    fields.only(body, {"type", "name", *_FIELDS_BY_TYPE[type_]})
    name = _name(body)
    try:
        if type_ == "phone":
            number = normalize_phone(fields.text(body, "phone_number", required=True, max_length=32) or "")
            data = {"phone_number": number, "preferred_authentication_method": _preferred(body) or "sms"}
            return _New(type_, name, data, None)
        if type_ == "email":
            address = normalize_email(fields.text(body, "email", required=True, max_length=320) or "")
            return _New(type_, name, {"email": address}, None)
    except MethodError as exc:
        raise Invalid(exc.detail) from exc
    if type_ == "totp":
        return _New(type_, name, {}, {"secret": _totp_secret(body), "last_step": None})
    if type_ == "webauthn-roaming":
        return _New(type_, name or "Security key", _credential(body, rp_id=core.settings.rp_id), None)
    data = _passkey(body, user, core.settings.rp_id)
    provider = data.pop("provider", None)
    return _New(type_, name or provider or "Passkey", data, None)


def _check_unique(conn: Connection, core: Core, user: User, new: _New, existing: list[MethodRecord]) -> None:
    if new.type == "totp" and any(r.type == "totp" and r.confirmed for r in existing):
        raise Exists("The user already has an authenticator app (totp); delete it first.")
    for key in ("email", "phone_number"):
        wanted = str(new.data.get(key, "")).casefold()
        if wanted and any(r.type == new.type and str(r.data.get(key, "")).casefold() == wanted for r in existing):
            raise Exists(f"The user already has this {new.type} method.")
    if new.credential_id and MethodStore(conn).by_credential_id(new.credential_id):
        raise Exists("A credential with this key_id is already registered.")
    limit = core.settings.max_passkeys_per_user
    if new.type == "passkey" and sum(r.type == "passkey" for r in existing) >= limit:
        raise Invalid(f"A user can have at most {limit} passkeys.")


def _store(conn: Connection, core: Core, user: User, new: _New) -> MethodRecord:
    store = MethodStore(conn)
    if new.type == "totp":
        store.delete_unconfirmed(user.id, "totp")
    secret = None
    if new.secret is not None:
        secret = core.sealer.seal(json.dumps(new.secret).encode(), purpose=_SECRET_PURPOSE)
    record = MethodRecord(
        id=f"{new.type}|dev_{alnum(16)}",
        user_id=user.id,
        type=new.type,
        name=new.name,
        confirmed=True,
        created_at=core.clock.now(),
        data=new.data,
        secret=secret,
        credential_id=new.credential_id,
    )
    store.add(record)
    return record


def create_method(core: Core, user_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """A confirmed method, as Auth0 creates them: the caller vouches for the verification."""
    with core.db.read() as conn:
        user = _user(conn, user_id)
    new = _parse(body, user, core, allowed=("phone", "email", "totp", "webauthn-roaming", "passkey"))
    with core.db.write() as conn:
        user = _user(conn, user_id)
        _check_unique(conn, core, user, new, MethodStore(conn).list(user.id))
        record = _store(conn, core, user, new)
    return to_wire(record)


def replace_methods(core: Core, user_id: str, body: object) -> list[dict[str, Any]]:
    """PUT: the user's phone, email and totp methods become exactly those given (other types stay)."""
    if not isinstance(body, list):
        raise Invalid("Payload validation error: 'Expected type array but found type object'.")
    if len(body) > 20:
        raise Invalid("At most 20 authentication methods can be set at once.")
    with core.db.read() as conn:
        user = _user(conn, user_id)
    wanted: list[_New] = []
    for item in body:
        if not isinstance(item, dict):
            raise Invalid("Payload validation error: 'Expected type object but found another type' in the array.")
        wanted.append(_parse(item, user, core, allowed=_SETTABLE))
    with core.db.write() as conn:
        user = _user(conn, user_id)
        store = MethodStore(conn)
        kept = [r for r in store.list(user.id) if r.type not in _SETTABLE]
        for record in store.list(user.id):
            if record.type in _SETTABLE:
                store.delete(user.id, record.id)
        created: list[MethodRecord] = []
        for new in wanted:
            _check_unique(conn, core, user, new, kept + created)
            created.append(_store(conn, core, user, new))
    return [to_wire(r) for r in created]


def update_method(core: Core, user_id: str, method_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    fields.only(body, {"name", "preferred_authentication_method"})
    name = _name(body)
    preferred = _preferred(body)
    with core.db.write() as conn:
        found = _find(conn, _user(conn, user_id), method_id)
        values: dict[str, Any] = {}
        if name is not None:
            if found.type not in _NAMEABLE:
                raise Invalid(f"A {found.type} method has no name.")
            values["name"] = name
        if preferred is not None:
            if found.type != MethodType.PHONE:
                raise Invalid("preferred_authentication_method applies to phone methods only.")
            values["data"] = {**found.data, "preferred_authentication_method": preferred}
        if values:
            MethodStore(conn).update(user_id, method_id, **values)
        updated = MethodStore(conn).get(user_id, method_id) if values else found
    assert updated is not None
    return to_wire(updated)


def delete_method(core: Core, user_id: str, method_id: str) -> None:
    with core.db.write() as conn:
        found = _find(conn, _user(conn, user_id), method_id)
        if found.type == MethodType.PASSWORD:
            raise Unsupported("The password is not deleted here; set a new one with PATCH /api/v2/users/{id}.")
        MethodStore(conn).delete(user_id, method_id)


def _delete_types(core: Core, user_id: str, types: frozenset[str]) -> int:
    with core.db.write() as conn:
        user = _user(conn, user_id)
        store = MethodStore(conn)
        doomed = [r for r in store.list(user.id) if r.type in types]
        for record in doomed:
            store.delete(user.id, record.id)
    return len(doomed)


def delete_methods(core: Core, user_id: str) -> int:
    """DELETE /users/{id}/authentication-methods: every MFA method, security keys included."""
    return _delete_types(core, user_id, MFA_TYPES)


def delete_authenticators(core: Core, user_id: str) -> int:
    """DELETE /users/{id}/authenticators: the Guardian enrollments (OTP, email, phone, push, recovery code)."""
    return _delete_types(core, user_id, GUARDIAN_TYPES)
