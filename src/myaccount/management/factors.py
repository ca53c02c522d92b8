"""Guardian factors (`GET /guardian/factors`, `PUT /guardian/factors/{name}`): the tenant switches that decide
which method types My Account offers (`/me/v1/factors`) and lets users enroll."""

from collections.abc import Mapping
from typing import Any

from myaccount.core import Core
from myaccount.management import fields
from myaccount.management.errors import Missing, Unsupported
from myaccount.my_account.factors import enabled_factors, set_factor

__all__ = ["list_factors", "set_enabled"]

# Factors Auth0 names that this server cannot provide; they can be listed and switched off, never on.
_UNAVAILABLE = frozenset({"duo"})


def list_factors(core: Core) -> list[dict[str, Any]]:
    with core.db.read() as conn:
        flags = enabled_factors(conn)
    return [{"name": name, "enabled": enabled, "trial_expired": False} for name, enabled in flags.items()]


def set_enabled(core: Core, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
    fields.only(body, {"enabled"})
    enabled = fields.flag(body, "enabled", required=True)
    assert enabled is not None
    with core.db.write() as conn:
        if name not in enabled_factors(conn):
            raise Missing(f"There is no Guardian factor named {name}.", code="inexistent_factor")
        if enabled and name in _UNAVAILABLE:
            raise Unsupported(f"The {name} factor is not available on this server.")
        set_factor(conn, name, enabled)
    return {"enabled": enabled}
