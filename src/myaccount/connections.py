"""Connections: the tenant's upstream OAuth 2.0 / OpenID Connect providers that users link as connected accounts.

A connection holds the provider's endpoints (given, or read from an OIDC discovery document when it is created),
the client id and secret this server uses there, default scopes, whether to use PKCE (RFC 7636) and extra
authorization parameters. The Management API (`/api/v2/connections`) and the CLI call these use cases; both
speak Auth0's shapes: `oauth2` options use `authorizationURL`/`tokenURL` and `oidc` options
`authorization_endpoint`/`token_endpoint`/`discovery_url`. Two extensions exist for both strategies:
`userinfo_endpoint` (for the provider's user id) and `revocation_endpoint` (RFC 7009, used on disconnect).

The client secret is sealed at rest and never returned. Errors belong to the `admin` family, so the Management
API and the CLI render them as they render every other administrative error.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from myaccount.core import Core
from myaccount.crypto.sealing import SealError
from myaccount.ids import alnum
from myaccount.management import fields
from myaccount.management.errors import Exists, Invalid, Missing, Unsupported
from myaccount.store.clients import ClientStore
from myaccount.store.connected import ConnectionRecord, ConnectionStore

__all__ = [
    "DATABASE_CONNECTION",
    "SECRET_PURPOSE",
    "STRATEGIES",
    "Upstream",
    "create_connection",
    "delete_connection",
    "discover",
    "get_connection",
    "list_connections",
    "to_wire",
    "update_connection",
    "upstream_of",
]

STRATEGIES = ("oauth2", "oidc")
SECRET_PURPOSE = "connection-secret"
# The database connection's name is taken: users sign in with it (management/users.py uses the same name).
DATABASE_CONNECTION = "Username-Password-Authentication"
HTTP_TIMEOUT = 10.0

_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,126}[A-Za-z0-9])?$")  # Auth0's rule for connection names
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,255}$")  # RFC 6749 §3.3 scope-token
_AUTH_METHODS = ("client_secret_post", "client_secret_basic", "none")
# Parameters the connect flow sets itself; a connection may not override them through `authParams`.
_RESERVED_PARAMS = {
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "response_mode",
}
_TOP_LEVEL = {"name", "strategy", "display_name", "options", "connected_accounts", "enabled_clients", "metadata"}
_OAUTH2_OPTIONS = {
    "client_id",
    "client_secret",
    "authorizationURL",
    "tokenURL",
    "scope",
    "pkce_enabled",
    "authParams",
    "userinfo_endpoint",
    "revocation_endpoint",
    "token_endpoint_auth_method",
}
_OIDC_OPTIONS = {
    "type",
    "client_id",
    "client_secret",
    "discovery_url",
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "revocation_endpoint",
    "scope",
    "pkce_enabled",
    "authParams",
    "token_endpoint_auth_method",
    "oidc_metadata",  # Auth0 echoes the discovery document here; accepted and recomputed
}
_DEFAULT_SCOPES = {"oauth2": [], "oidc": ["openid", "profile", "email", "offline_access"]}


@dataclass(frozen=True, slots=True)
class Upstream:
    """What the connect flow and the Token Vault need to talk to a provider: endpoints and credentials."""

    name: str
    strategy: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str | None
    revocation_endpoint: str | None
    issuer: str | None
    client_id: str
    client_secret: str | None
    auth_method: str  # client_secret_post | client_secret_basic | none
    scopes: tuple[str, ...]
    pkce: bool
    auth_params: Mapping[str, str]


def upstream_of(core: Core, record: ConnectionRecord) -> Upstream:
    options = record.options
    secret: str | None = None
    if record.client_secret:
        try:
            secret = core.sealer.open(record.client_secret, purpose=SECRET_PURPOSE).decode()
        except SealError:
            secret = None  # sealed under a key no longer configured: the provider will refuse us, and say so
    return Upstream(
        name=record.name,
        strategy=record.strategy,
        authorization_endpoint=options["authorization_endpoint"],
        token_endpoint=options["token_endpoint"],
        userinfo_endpoint=options.get("userinfo_endpoint"),
        revocation_endpoint=options.get("revocation_endpoint"),
        issuer=options.get("issuer"),
        client_id=options["client_id"],
        client_secret=secret,
        auth_method=options.get("token_endpoint_auth_method", "client_secret_post"),
        scopes=tuple(options.get("scopes") or ()),
        pkce=bool(options.get("pkce_enabled", True)),
        auth_params=dict(options.get("auth_params") or {}),
    )


# wire
def to_wire(record: ConnectionRecord) -> dict[str, Any]:
    """Auth0's Management API connection object; the client secret is never included."""
    o = record.options
    options: dict[str, Any] = {"client_id": o["client_id"]}
    if record.strategy == "oauth2":
        options.update(authorizationURL=o["authorization_endpoint"], tokenURL=o["token_endpoint"], scope=o["scopes"])
    else:
        options["type"] = "back_channel"
        for name in ("discovery_url", "issuer", "jwks_uri"):
            if o.get(name):
                options[name] = o[name]
        options.update(
            authorization_endpoint=o["authorization_endpoint"],
            token_endpoint=o["token_endpoint"],
            scope=" ".join(o["scopes"]),
        )
    for name in ("userinfo_endpoint", "revocation_endpoint"):
        if o.get(name):
            options[name] = o[name]
    options["pkce_enabled"] = bool(o.get("pkce_enabled", True))
    options["token_endpoint_auth_method"] = o.get("token_endpoint_auth_method", "client_secret_post")
    if o.get("auth_params"):
        options["authParams"] = dict(o["auth_params"])
    body: dict[str, Any] = {
        "id": record.id,
        "name": record.name,
        "display_name": record.display_name or record.name,
        "strategy": record.strategy,
        "options": options,
        "connected_accounts": {"active": record.connected_accounts_active},
        "is_domain_connection": False,
        "realms": [record.name],
        "metadata": dict(record.connection_metadata),
    }
    if record.enabled_clients is not None:
        body["enabled_clients"] = list(record.enabled_clients)
    return body


# checks
def _url(value: object, name: str, core: Core, *, required: bool = False) -> str | None:
    if value is None:
        if required:
            raise Invalid(f"Payload validation error: 'Missing required property: {name}'.")
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 2048:
        raise Invalid(f"options.{name} must be a URL of at most 2048 characters.")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise Invalid(f"options.{name} must be an absolute http(s) URL without a fragment.")
    if core.settings.environment == "production" and parts.scheme != "https":
        # Tokens and the client secret travel to these endpoints; in production only over TLS.
        raise Invalid(f"options.{name} must use https.")
    return value


def _scopes(value: object) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        items = [s for s in re.split(r"[\s,]+", value) if s]
    elif isinstance(value, list) and all(isinstance(s, str) for s in value):
        items = list(value)
    else:
        raise Invalid("options.scope must be a string (space or comma separated) or an array of strings.")
    if len(items) > 100:
        raise Invalid("options.scope may hold at most 100 scopes.")
    for item in items:
        if not _SCOPE.match(item):
            raise Invalid(f"options.scope: {item!r} is not a valid scope (RFC 6749 §3.3).")
    return list(dict.fromkeys(items))


def _auth_params(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > 20:
        raise Invalid("options.authParams must be an object of at most 20 string values.")
    out: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(item, str) or not 0 < len(key) <= 64 or len(item) > 1024:
            raise Invalid("options.authParams must map names to strings (at most 1024 characters).")
        if key in _RESERVED_PARAMS:
            raise Invalid(f"options.authParams cannot set {key}: the connect flow sets it.")
        out[key] = item
    return out


def discover(url: str) -> dict[str, Any]:
    """OpenID Connect Discovery 1.0 §4: fetch the provider's metadata document."""
    try:
        response = httpx.get(url, timeout=HTTP_TIMEOUT, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        raise Invalid(f"The discovery document at {url} could not be fetched: {exc.__class__.__name__}.") from exc
    if response.status_code != 200:
        raise Invalid(f"The discovery document at {url} answered HTTP {response.status_code}.")
    try:
        document = response.json()
    except ValueError as exc:
        raise Invalid(f"The discovery document at {url} is not JSON.") from exc
    if not isinstance(document, dict):
        raise Invalid(f"The discovery document at {url} is not a JSON object.")
    for name in ("authorization_endpoint", "token_endpoint"):
        if not isinstance(document.get(name), str):
            raise Invalid(f"The discovery document at {url} has no {name}.")
    return document


def _options(
    core: Core, strategy: str, raw: Mapping[str, Any], *, stored_secret: bool = False
) -> tuple[dict[str, Any], str | None]:
    """Normalized options (nothing secret) and the client secret in clear (None: none given)."""
    fields.supported(raw, _OAUTH2_OPTIONS if strategy == "oauth2" else _OIDC_OPTIONS)
    client_id = fields.text(raw, "client_id", required=True, max_length=255)
    secret = fields.text(raw, "client_secret", max_length=1024)
    pkce = fields.flag(raw, "pkce_enabled")
    method = fields.text(raw, "token_endpoint_auth_method", max_length=32)
    if method is not None and method not in _AUTH_METHODS:
        raise Invalid(f"options.token_endpoint_auth_method must be one of {', '.join(_AUTH_METHODS)}.")
    options: dict[str, Any] = {"client_id": client_id}
    if strategy == "oauth2":
        options["authorization_endpoint"] = _url(raw.get("authorizationURL"), "authorizationURL", core, required=True)
        options["token_endpoint"] = _url(raw.get("tokenURL"), "tokenURL", core, required=True)
    else:
        kind = raw.get("type")
        if kind not in (None, "back_channel"):
            raise Unsupported("Only back_channel (authorization code) OIDC connections are supported.")
        discovery_url = _url(raw.get("discovery_url"), "discovery_url", core)
        document = discover(discovery_url) if discovery_url else {}
        if discovery_url:
            options["discovery_url"] = discovery_url
        for name in ("authorization_endpoint", "token_endpoint", "issuer", "jwks_uri"):
            value = raw.get(name) if raw.get(name) is not None else document.get(name)
            options[name] = _url(value, name, core, required=name != "issuer" and name != "jwks_uri")
        methods = document.get("code_challenge_methods_supported")
        if pkce is None and isinstance(methods, list) and "S256" not in methods:
            pkce = False  # the provider says it does not do S256; do not send what it would reject
        document_userinfo = document.get("userinfo_endpoint")
        document_revocation = document.get("revocation_endpoint")
        raw = {
            **raw,
            "userinfo_endpoint": raw.get("userinfo_endpoint", document_userinfo),
            "revocation_endpoint": raw.get("revocation_endpoint", document_revocation),
        }
    options["userinfo_endpoint"] = _url(raw.get("userinfo_endpoint"), "userinfo_endpoint", core)
    options["revocation_endpoint"] = _url(raw.get("revocation_endpoint"), "revocation_endpoint", core)
    scopes = _scopes(raw.get("scope"))
    options["scopes"] = scopes if scopes is not None else list(_DEFAULT_SCOPES[strategy])
    options["pkce_enabled"] = True if pkce is None else pkce
    has_secret = secret is not None or stored_secret
    options["token_endpoint_auth_method"] = method or ("client_secret_post" if has_secret else "none")
    if options["token_endpoint_auth_method"] != "none" and not has_secret:
        raise Invalid("options.client_secret is required unless token_endpoint_auth_method is none.")
    options["auth_params"] = _auth_params(raw.get("authParams"))
    return {k: v for k, v in options.items() if v is not None}, secret


def _active(body: Mapping[str, Any]) -> bool | None:
    value = fields.mapping(body, "connected_accounts")
    if value is None:
        return None
    fields.supported(value, {"active"})
    active = fields.flag(value, "active", required=True)
    assert active is not None
    return active


def _enabled_clients(core: Core, body: Mapping[str, Any]) -> list[str] | None:
    clients = fields.texts(body, "enabled_clients", max_items=1000)
    if clients is None:
        return None
    with core.db.read() as conn:
        store = ClientStore(conn)
        unknown = [c for c in clients if store.get(c) is None]
    if unknown:
        raise Invalid(f"enabled_clients: unknown client {unknown[0]}.")
    return list(dict.fromkeys(clients))


def _metadata(body: Mapping[str, Any]) -> dict[str, str] | None:
    value = fields.mapping(body, "metadata")
    if value is None:
        return None
    if len(value) > 10 or not all(isinstance(v, str) and len(v) <= 255 and len(k) <= 255 for k, v in value.items()):
        raise Invalid("metadata holds at most 10 keys with string values of at most 255 characters.")
    return dict(value)


def _seal_secret(core: Core, secret: str | None) -> str | None:
    return core.sealer.seal(secret.encode(), purpose=SECRET_PURPOSE) if secret else None


# use cases
def create_connection(core: Core, body: Mapping[str, Any]) -> ConnectionRecord:
    """Create a connection from an Auth0-shaped body (`POST /api/v2/connections`)."""
    fields.supported(body, _TOP_LEVEL)
    name = fields.text(body, "name", required=True, max_length=128)
    assert name is not None
    if not _NAME.match(name):
        raise Invalid("name must start and end with a letter or digit and contain only letters, digits and '-'.")
    strategy = fields.text(body, "strategy", required=True, max_length=32)
    if strategy not in STRATEGIES:
        raise Unsupported(f"strategy must be one of {', '.join(STRATEGIES)}; this server has no other upstreams.")
    display_name = fields.text(body, "display_name", max_length=300)
    raw_options = fields.mapping(body, "options")
    if raw_options is None:
        raise Invalid("Payload validation error: 'Missing required property: options'.")
    active = _active(body)
    enabled = _enabled_clients(core, body)
    metadata = _metadata(body)
    if name.lower() == DATABASE_CONNECTION.lower():
        raise Exists(f"A connection named {name} already exists.", code="connection_conflict")
    options, secret = _options(core, strategy, raw_options)
    now = core.clock.now()
    record = ConnectionRecord(
        id=f"con_{alnum(16)}",
        name=name,
        display_name=display_name,
        strategy=strategy,
        options=options,
        client_secret=_seal_secret(core, secret),
        connected_accounts_active=True if active is None else active,
        enabled_clients=enabled,
        connection_metadata=metadata or {},
        created_at=now,
        updated_at=now,
    )
    with core.db.write() as conn:
        store = ConnectionStore(conn)
        if store.by_name(name) is not None:
            raise Exists(f"A connection named {name} already exists.", code="connection_conflict")
        store.add(record)
        created = store.get(record.id)
    assert created is not None
    return created


def _missing() -> Missing:
    return Missing("The connection does not exist.", code="inexistent_connection")


def get_connection(core: Core, connection_id: str, *, or_name: bool = False) -> ConnectionRecord:
    """By id (`con_…`); with `or_name`, a name works too (the CLI's convenience, not the Management API's)."""
    with core.db.read() as conn:
        store = ConnectionStore(conn)
        found = store.get(connection_id)
        if found is None and or_name:
            found = store.by_name(connection_id)
    if found is None:
        raise _missing()
    return found


def list_connections(
    core: Core,
    *,
    strategies: Sequence[str] = (),
    name: str | None = None,
    after: str | None = None,
    limit: int | None = None,
) -> list[ConnectionRecord]:
    with core.db.read() as conn:
        return ConnectionStore(conn).find(strategies=strategies, name=name, after=after, limit=limit)


def update_connection(core: Core, connection_id: str, body: Mapping[str, Any]) -> ConnectionRecord:
    """`PATCH /api/v2/connections/{id}`. As Auth0's, `options` replaces the options whole, except that an absent
    `client_secret` keeps the stored one (so a secret never has to be read back to change something else)."""
    for fixed in ("name", "strategy"):
        if body.get(fixed) is not None:
            raise Invalid(f"Payload validation error: 'Additional properties not allowed: {fixed}'.")
    fields.supported(body, _TOP_LEVEL - {"name", "strategy"})
    current = get_connection(core, connection_id)
    values: dict[str, Any] = {}
    if body.get("display_name") is not None:
        values["display_name"] = fields.text(body, "display_name", max_length=300)
    raw_options = fields.mapping(body, "options")
    if raw_options is not None:
        options, secret = _options(core, current.strategy, raw_options, stored_secret=current.client_secret is not None)
        if secret is not None:
            values["client_secret"] = _seal_secret(core, secret)
        elif options["token_endpoint_auth_method"] == "none":
            values["client_secret"] = None  # a public client at the provider: keep no secret for it
        values["options"] = options
    active = _active(body)
    if active is not None:
        values["connected_accounts_active"] = active
    if "enabled_clients" in body:
        values["enabled_clients"] = _enabled_clients(core, body)
    metadata = _metadata(body)
    if metadata is not None:
        values["connection_metadata"] = metadata
    with core.db.write() as conn:
        store = ConnectionStore(conn)
        if store.get(current.id) is None:
            raise _missing()
        if values:
            store.update(current.id, updated_at=core.clock.now(), **values)
        updated = store.get(current.id)
    assert updated is not None
    return updated


def delete_connection(core: Core, connection_id: str, *, or_name: bool = False) -> None:
    """Delete a connection and every account connected through it, revoking their tokens upstream first
    (best effort: RFC 7009 §2.2 lets a provider refuse, and the local copies go either way)."""
    from myaccount.connected_accounts import revoke_connection_tokens  # the vault imports this module

    current = get_connection(core, connection_id, or_name=or_name)
    revoke_connection_tokens(core, current)
    with core.db.write() as conn:
        if not ConnectionStore(conn).delete(current.id):
            raise _missing()
