"""Management API applications (`/clients`): Auth0's client shape over `admin`'s create, update, rotate, delete.

Secrets are stored as keyed hashes, so `client_secret` appears only in the answer that sets it (create, a PATCH
with `client_secret`, rotate-secret); Auth0 also shows it to `read:client_keys`, which cannot be done here.
"""

from collections.abc import Mapping
from typing import Any

from myaccount import admin
from myaccount.core import Core
from myaccount.management import fields
from myaccount.management.errors import Invalid, Missing, Unsupported
from myaccount.store.clients import Client, ClientStore

__all__ = ["create_client", "delete_client", "get_client", "list_clients", "rotate_secret", "to_wire", "update_client"]

_LISTS = ("callbacks", "allowed_origins", "web_origins", "allowed_logout_urls", "grant_types")
_FLAGS = ("is_first_party", "cross_origin_authentication")
_TEXTS = {"name": 200, "description": 140, "app_type": 32, "token_endpoint_auth_method": 32}
_FIELDS = {*_LISTS, *_FLAGS, *_TEXTS, "oidc_conformant"}


def _missing() -> Missing:
    return Missing("The client does not exist.", code="inexistent_client")


def to_wire(client: Client, *, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "client_id": client.client_id,
        "name": client.name,
        "description": client.description,
        "app_type": client.app_type,
        "is_first_party": client.is_first_party,
        "oidc_conformant": True,
        "global": False,
        "callbacks": client.callbacks,
        "allowed_origins": client.allowed_origins,
        "web_origins": client.web_origins,
        "allowed_logout_urls": client.allowed_logout_urls,
        "grant_types": client.grant_types,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "cross_origin_authentication": client.cross_origin_authentication,
        "client_metadata": client.client_metadata,
        "is_system": client.is_system,
    }
    if secret is not None:
        body["client_secret"] = secret
    return body


def _values(body: Mapping[str, Any]) -> dict[str, Any]:
    fields.supported(body, _FIELDS | {"client_secret"})
    if fields.flag(body, "oidc_conformant") is False:
        raise Unsupported("Every client of this server is OIDC conformant; oidc_conformant cannot be false.")
    values: dict[str, Any] = {}
    for name, limit in _TEXTS.items():
        value = fields.text(body, name, max_length=limit, min_length=0 if name == "description" else 1)
        if value is not None:
            values[name] = value
    for name in _LISTS:
        items = fields.texts(body, name, max_items=100)
        if items is not None:
            values[name] = items
    for name in _FLAGS:
        flag = fields.flag(body, name)
        if flag is not None:
            values[name] = flag
    return values


def list_clients(
    core: Core, *, app_types: list[str] | None = None, is_first_party: bool | None = None
) -> list[dict[str, Any]]:
    with core.db.read() as conn:
        found = ClientStore(conn).all()
    return [
        to_wire(c)
        for c in found
        if (app_types is None or c.app_type in app_types)
        and (is_first_party is None or c.is_first_party == is_first_party)
    ]


def get_client(core: Core, client_id: str) -> dict[str, Any]:
    with core.db.read() as conn:
        found = ClientStore(conn).get(client_id)
    if found is None:
        raise _missing()
    return to_wire(found)


def create_client(core: Core, body: Mapping[str, Any]) -> dict[str, Any]:
    if "client_secret" in body:
        raise Unsupported("client_secret cannot be chosen at creation; this server generates it.")
    values = _values(body)
    if "name" not in values:
        raise Invalid("Payload validation error: 'Missing required property: name'.")
    client, secret = admin.create_client(core, **values)
    return to_wire(client, secret=secret)


def update_client(core: Core, client_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    values = _values(body)
    secret = fields.text(body, "client_secret", max_length=200)
    if secret is not None:
        values["client_secret"] = secret
    with core.db.read() as conn:
        current = ClientStore(conn).get(client_id)
    if current is None:
        raise _missing()
    if current.is_system:
        raise Unsupported("A system client cannot be changed.")
    try:
        client, new_secret = admin.update_client(core, client_id, values)
    except admin.NotFound as exc:
        raise _missing() from exc
    return to_wire(client, secret=new_secret)


def rotate_secret(core: Core, client_id: str) -> dict[str, Any]:
    try:
        secret = admin.rotate_client_secret(core, client_id)
    except admin.NotFound as exc:
        raise _missing() from exc
    with core.db.read() as conn:
        client = ClientStore(conn).get(client_id)
    if client is None:
        raise _missing()
    return to_wire(client, secret=secret)


def delete_client(core: Core, client_id: str) -> None:
    try:
        admin.delete_client(core, client_id)
    except admin.NotFound as exc:
        raise _missing() from exc
