"""Management API roles (`/roles`) and their permissions (`/roles/{id}/permissions`), over `admin`'s role use
cases. Permissions are `{resource_server_identifier, permission_name}` pairs naming an API's scope."""

from collections.abc import Mapping
from typing import Any

from myaccount import admin
from myaccount.core import Core
from myaccount.management import fields
from myaccount.management.errors import Exists, Invalid, Missing
from myaccount.store.clients import ClientStore
from myaccount.store.roles import Role, RoleStore

__all__ = [
    "add_permissions",
    "create_role",
    "delete_role",
    "get_role",
    "list_roles",
    "permissions",
    "remove_permissions",
    "to_wire",
    "update_role",
]


def _missing() -> Missing:
    return Missing("The role does not exist.", code="inexistent_role")


def to_wire(role: Role) -> dict[str, Any]:
    return {"id": role.id, "name": role.name, "description": role.description}


def list_roles(core: Core, *, name_filter: str | None = None) -> list[dict[str, Any]]:
    with core.db.read() as conn:
        roles = RoleStore(conn).all()
    wanted = (name_filter or "").casefold()
    return [to_wire(r) for r in roles if wanted in r.name.casefold()]


def get_role(core: Core, role_id: str) -> dict[str, Any]:
    with core.db.read() as conn:
        role = RoleStore(conn).get(role_id)
    if role is None:
        raise _missing()
    return to_wire(role)


def _description(body: Mapping[str, Any]) -> str | None:
    return fields.text(body, "description", max_length=140, min_length=0)


def create_role(core: Core, body: Mapping[str, Any]) -> dict[str, Any]:
    fields.only(body, {"name", "description"}, unsupported=("type", "owner_id"))
    name = fields.text(body, "name", required=True, max_length=128)
    assert name is not None
    try:
        return to_wire(admin.create_role(core, name=name, description=_description(body) or ""))
    except admin.Conflict as exc:
        raise Exists(str(exc)) from exc


def update_role(core: Core, role_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    fields.only(body, {"name", "description"})
    name = fields.text(body, "name", max_length=128)
    description = _description(body)
    try:
        if name is not None:
            admin.rename_role(core, role_id, name)
        role = admin.update_role(core, role_id, description=description)
    except admin.Conflict as exc:
        raise Exists(str(exc)) from exc
    except admin.NotFound as exc:
        raise _missing() from exc
    return to_wire(role)


def delete_role(core: Core, role_id: str) -> None:
    try:
        admin.delete_role(core, role_id)
    except admin.NotFound as exc:
        raise _missing() from exc


def permissions(core: Core, role_id: str) -> list[dict[str, Any]]:
    with core.db.read() as conn:
        roles = RoleStore(conn)
        if roles.get(role_id) is None:
            raise _missing()
        pairs = sorted(roles.permissions(role_id))
        store = ClientStore(conn)
        apis = {audience: store.resource_server(audience) for audience in {a for a, _ in pairs}}
    out = []
    for audience, name in pairs:
        api = apis.get(audience)
        described = {s["value"]: s.get("description", "") for s in api.scopes} if api else {}
        out.append(
            {
                "resource_server_identifier": audience,
                "permission_name": name,
                "resource_server_name": api.name if api else audience,
                "description": described.get(name, ""),
            }
        )
    return out


def _pairs(body: Mapping[str, Any]) -> list[tuple[str, str]]:
    fields.only(body, {"permissions"})
    pairs = []
    for item in fields.object_list(body, "permissions", max_items=200):
        fields.only(item, {"resource_server_identifier", "permission_name"})
        audience = fields.text(item, "resource_server_identifier", required=True, max_length=600)
        name = fields.text(item, "permission_name", required=True, max_length=280)
        assert audience is not None and name is not None
        pairs.append((audience, name))
    if not pairs:
        raise Invalid("Payload validation error: 'Array is too short (0), minimum 1' on property permissions.")
    return pairs


def _current(core: Core, role_id: str) -> list[tuple[str, str]]:
    with core.db.read() as conn:
        roles = RoleStore(conn)
        if roles.get(role_id) is None:
            raise _missing()
        return roles.permissions(role_id)


def add_permissions(core: Core, role_id: str, body: Mapping[str, Any]) -> None:
    wanted = _pairs(body)
    try:
        admin.update_role(core, role_id, permissions=[*_current(core, role_id), *wanted])
    except admin.NotFound as exc:
        raise _missing() from exc


def remove_permissions(core: Core, role_id: str, body: Mapping[str, Any]) -> None:
    unwanted = set(_pairs(body))
    try:
        admin.update_role(core, role_id, permissions=[p for p in _current(core, role_id) if p not in unwanted])
    except admin.NotFound as exc:
        raise _missing() from exc
