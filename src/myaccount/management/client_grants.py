"""Management API client grants (`/client-grants`, contracts/auth0-wire-notes.md §9.4): which application may get
tokens for which API, for users or for itself, with which scopes.

Organizations, default grants for third-party clients, rich authorization details and `allow_all_scopes` are not
implemented; a request that sets them is refused by name. A grant for a subject type the API denies outright
(`deny_all`, such as client grants to the My Account API) is refused too: it could never take effect.
"""

from collections.abc import Mapping
from typing import Any

from myaccount import admin
from myaccount.core import Core
from myaccount.management import fields
from myaccount.management.errors import Exists, Invalid, Missing, Unsupported
from myaccount.store.clients import ClientGrant, ClientStore

__all__ = ["create_grant", "delete_grant", "get_grant", "list_grants", "to_wire", "update_grant"]

_SUBJECT_TYPES = ("client", "user")
# Auth0 properties whose "off" value is what this server does; anything else is refused.
_DEFAULTS: dict[str, object] = {
    "organization_usage": "deny",
    "allow_any_organization": False,
    "authorization_details_types": [],
    "allow_all_scopes": False,
}


def _missing() -> Missing:
    return Missing("The client grant does not exist.", code="inexistent_client_grant")


def to_wire(grant: ClientGrant) -> dict[str, Any]:
    return {
        "id": grant.id,
        "client_id": grant.client_id,
        "audience": grant.audience,
        "scope": list(grant.scope),
        "subject_type": grant.subject_type,
        "is_system": False,
        "allow_any_organization": False,
    }


def _defaults_only(body: Mapping[str, Any]) -> None:
    for name, default in _DEFAULTS.items():
        value = body.get(name)
        if value is not None and value != default:
            raise Unsupported(f"{name} is not supported by this server (only {default!r}).")
    if body.get("default_for") is not None:
        raise Unsupported("default_for is not supported by this server; create a grant per client.")


def list_grants(
    core: Core,
    *,
    audience: str | None = None,
    client_id: str | None = None,
    subject_type: str | None = None,
    allow_any_organization: bool | None = None,
) -> list[dict[str, Any]]:
    """Every matching grant, ordered by id (the checkpoint order)."""
    if subject_type is not None and subject_type not in _SUBJECT_TYPES:
        raise Invalid("subject_type must be client or user.", code="invalid_query_string")
    if allow_any_organization:
        return []  # no grant here allows any organization
    with core.db.read() as conn:
        grants = ClientStore(conn).grants(client_id=client_id, audience=audience, subject_type=subject_type)
    return [to_wire(g) for g in sorted(grants, key=lambda g: g.id)]


def get_grant(core: Core, grant_id: str) -> dict[str, Any]:
    with core.db.read() as conn:
        grant = ClientStore(conn).grant_by_id(grant_id)
    if grant is None:
        raise _missing()
    return to_wire(grant)


def create_grant(core: Core, body: Mapping[str, Any]) -> dict[str, Any]:
    fields.only(body, {"client_id", "audience", "scope", "subject_type", *_DEFAULTS, "default_for"})
    _defaults_only(body)
    client_id = fields.text(body, "client_id", required=True, max_length=64)
    audience = fields.text(body, "audience", required=True, max_length=600)
    scope = fields.texts(body, "scope", max_items=500) or []
    subject_type = fields.text(body, "subject_type", max_length=16) or "client"
    assert client_id is not None and audience is not None
    if subject_type not in _SUBJECT_TYPES:
        raise Invalid("subject_type must be client or user.")
    with core.db.read() as conn:
        api = ClientStore(conn).resource_server(audience)
    if api is not None and api.policy(subject_type) == "deny_all":
        raise Invalid(f"The API {audience} denies all {subject_type} access; a {subject_type} grant has no effect.")
    try:
        grant = admin.create_client_grant(
            core, client_id=client_id, audience=audience, scope=scope, subject_type=subject_type
        )
    except admin.Conflict as exc:
        raise Exists(str(exc)) from exc
    except admin.NotFound as exc:
        code = "inexistent_client" if "client" in str(exc) else "inexistent_resource_server"
        raise Missing(str(exc), code=code) from exc
    return to_wire(grant)


def update_grant(core: Core, grant_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    fields.only(body, {"scope", *_DEFAULTS})
    _defaults_only(body)
    scope = fields.texts(body, "scope", max_items=500)
    if scope is None:
        return get_grant(core, grant_id)
    try:
        return to_wire(admin.update_client_grant(core, grant_id, scope=scope))
    except admin.NotFound as exc:
        raise _missing() from exc


def delete_grant(core: Core, grant_id: str) -> None:
    try:
        admin.delete_client_grant(core, grant_id)
    except admin.NotFound as exc:
        raise _missing() from exc
