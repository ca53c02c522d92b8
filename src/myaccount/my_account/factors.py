"""Which factors the tenant offers, by Guardian factor name (Management API `PUT /guardian/factors/{name}`),
and how they map to My Account method types."""

from typing import Any

from sqlalchemy import Connection

from myaccount.methods.base import MethodType
from myaccount.store.raw import Connectable
from myaccount.store.tenant import TenantSettingsStore

__all__ = ["GUARDIAN_FACTORS", "enabled_factors", "enabled_types", "set_factor"]

GUARDIAN_FACTORS: dict[str, MethodType] = {
    "passkey": MethodType.PASSKEY,
    "otp": MethodType.TOTP,
    "sms": MethodType.PHONE,
    "email": MethodType.EMAIL,
    "push-notification": MethodType.PUSH,
    "recovery-code": MethodType.RECOVERY_CODE,
    "webauthn-roaming": MethodType.WEBAUTHN_ROAMING,
    "webauthn-platform": MethodType.WEBAUTHN_PLATFORM,
}
_DEFAULTS = {name: True for name in GUARDIAN_FACTORS} | {"duo": False}
_KEY = "guardian_factors"


def enabled_factors(conn: Connectable) -> dict[str, bool]:
    stored: dict[str, Any] = TenantSettingsStore(conn).get(_KEY, {}) or {}
    return {name: bool(stored.get(name, default)) for name, default in _DEFAULTS.items()}


def set_factor(conn: Connection, name: str, enabled: bool) -> None:
    if name not in _DEFAULTS:
        raise KeyError(name)
    store = TenantSettingsStore(conn)
    current = dict(store.get(_KEY, {}) or {})
    current[name] = enabled
    store.set(_KEY, current)


def enabled_types(conn: Connectable) -> list[MethodType]:
    """Password (the database connection) first, then the enabled factors in a stable order."""
    flags = enabled_factors(conn)
    return [MethodType.PASSWORD] + [t for name, t in GUARDIAN_FACTORS.items() if flags[name]]
