"""Management API resource servers (`/resource-servers`), with `subject_type_authorization`
(contracts/auth0-wire-notes.md §9.5).

The two system APIs cannot be deleted. The My Account API's client policy stays `deny_all` (`admin` enforces it);
the Management API's policies are fixed here as well (users `deny_all`, clients `require_client_grant`), since
opening it to users or closing it to clients would only lock administrators out or invite user tokens in.
"""

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from myaccount import admin
from myaccount.core import Core
from myaccount.management import fields
from myaccount.management.errors import Invalid, Missing, Unsupported
from myaccount.store.clients import ClientStore, ResourceServer

__all__ = [
    "create_resource_server",
    "delete_resource_server",
    "get_resource_server",
    "list_resource_servers",
    "to_wire",
    "update_resource_server",
]

_FLAGS = ("allow_offline_access", "skip_consent_for_verifiable_first_party_clients", "enforce_policies")
_FIELDS = {*_FLAGS, "name", "identifier", "scopes", "signing_alg", "token_lifetime", "token_dialect"}
_FIELDS |= {"subject_type_authorization"}


def _missing() -> Missing:
    return Missing("The resource server does not exist.", code="inexistent_resource_server")


def to_wire(rs: ResourceServer) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": rs.id,
        "name": rs.name,
        "identifier": rs.identifier,
        "is_system": rs.is_system,
        "scopes": [{"value": s["value"], "description": s.get("description", "")} for s in rs.scopes],
        "signing_alg": rs.signing_alg,
        "allow_offline_access": rs.allow_offline_access,
        "skip_consent_for_verifiable_first_party_clients": rs.skip_consent_for_verifiable_first_party_clients,
        "token_lifetime": rs.token_lifetime,
        "token_dialect": rs.token_dialect,
        "enforce_policies": rs.enforce_policies,
        "subject_type_authorization": {subject: {"policy": rs.policy(subject)} for subject in ("user", "client")},
    }
    if rs.proof_of_possession:
        body["proof_of_possession"] = rs.proof_of_possession
    return body


def _scopes(body: Mapping[str, Any]) -> list[dict[str, str]] | None:
    if body.get("scopes") is None:
        return None
    scopes = []
    for item in fields.object_list(body, "scopes", max_items=500):
        fields.only(item, {"value", "description"})
        value = fields.text(item, "value", required=True, max_length=280)
        description = fields.text(item, "description", max_length=500, min_length=0)
        assert value is not None
        scopes.append({"value": value, "description": description or ""})
    return scopes


def _policies(body: Mapping[str, Any]) -> dict[str, Any] | None:
    value = fields.mapping(body, "subject_type_authorization")
    if value is None:
        return None
    for subject, policy in value.items():
        if not isinstance(policy, dict):
            raise Invalid(f"subject_type_authorization.{subject} must be an object with a policy.")
        fields.only(policy, {"policy"})
    return value


def _values(body: Mapping[str, Any]) -> dict[str, Any]:
    fields.supported(body, _FIELDS)
    values: dict[str, Any] = {}
    name = fields.text(body, "name", max_length=200)
    if name is not None:
        values["name"] = name
    for flag in _FLAGS:
        setting = fields.flag(body, flag)
        if setting is not None:
            values[flag] = setting
    lifetime = fields.integer(body, "token_lifetime", minimum=60, maximum=2592000)
    if lifetime is not None:
        values["token_lifetime"] = lifetime
    dialect = fields.text(body, "token_dialect", max_length=32)
    if dialect is not None:
        if dialect not in ("access_token", "access_token_authz"):
            raise Unsupported("token_dialect must be access_token or access_token_authz on this server.")
        values["token_dialect"] = dialect
    alg = fields.text(body, "signing_alg", max_length=16)
    if alg is not None and alg != "RS256":
        raise Unsupported("signing_alg must be RS256 on this server.")
    scopes = _scopes(body)
    if scopes is not None:
        values["scopes"] = scopes
    policies = _policies(body)
    if policies is not None:
        values["subject_type_authorization"] = policies
    return values


def _find(conn: Connection, id_or_identifier: str) -> ResourceServer:
    store = ClientStore(conn)
    found = store.resource_server_by_id(id_or_identifier) or store.resource_server(id_or_identifier)
    if found is None:
        raise _missing()
    return found


def list_resource_servers(core: Core, *, identifiers: list[str] | None = None) -> list[dict[str, Any]]:
    with core.db.read() as conn:
        found = ClientStore(conn).resource_servers()
    return [to_wire(rs) for rs in found if not identifiers or rs.identifier in identifiers]


def get_resource_server(core: Core, id_or_identifier: str) -> dict[str, Any]:
    with core.db.read() as conn:
        return to_wire(_find(conn, id_or_identifier))


def create_resource_server(core: Core, body: Mapping[str, Any]) -> dict[str, Any]:
    values = _values(body)
    identifier = fields.text(body, "identifier", required=True, max_length=600)
    assert identifier is not None
    # Unnamed APIs are named after their identifier, which may be longer than a name can be.
    values.setdefault("name", identifier[:200])
    return to_wire(admin.create_resource_server(core, identifier=identifier, **values))


def update_resource_server(core: Core, id_or_identifier: str, body: Mapping[str, Any]) -> dict[str, Any]:
    if body.get("identifier") is not None:
        raise Invalid("Payload validation error: 'Additional properties not allowed: identifier'.")
    values = _values(body)
    with core.db.read() as conn:
        current = _find(conn, id_or_identifier)
    if current.identifier == core.settings.management_audience and "subject_type_authorization" in values:
        raise Invalid("The Management API's access policies are fixed.")
    try:
        return to_wire(admin.update_resource_server(core, current.id, values))
    except admin.NotFound as exc:
        raise _missing() from exc


def delete_resource_server(core: Core, id_or_identifier: str) -> None:
    with core.db.read() as conn:
        current = _find(conn, id_or_identifier)
    if current.is_system:
        raise Unsupported("A system API cannot be deleted.")
    try:
        admin.delete_resource_server(core, current.id)
    except admin.NotFound as exc:
        raise _missing() from exc
