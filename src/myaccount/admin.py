"""Tenant administration use cases: users, clients, APIs, client grants, roles.

One code path for the CLI, the tenant file and the Management API, so all three validate and store alike.
"""

import re
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from myaccount.core import Core
from myaccount.ids import alnum, new_client_id, new_user_id, token
from myaccount.oauth.clients import hash_secret
from myaccount.store.clients import Client, ClientGrant, ClientStore, ResourceServer
from myaccount.store.roles import Role, RoleStore
from myaccount.store.users import PROFILE_FIELDS, User, UserStore

__all__ = [
    "APP_TYPES",
    "AdminError",
    "Conflict",
    "NotFound",
    "check_client",
    "check_resource_server",
    "check_user",
    "create_client",
    "create_client_grant",
    "create_resource_server",
    "create_role",
    "create_user",
    "update_role",
    "update_user",
]

APP_TYPES = ("spa", "native", "regular_web", "non_interactive")
GRANT_TYPES = {
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "password",
    "http://auth0.com/oauth/grant-type/password-realm",
    "http://auth0.com/oauth/grant-type/mfa-otp",
    "http://auth0.com/oauth/grant-type/mfa-oob",
    "http://auth0.com/oauth/grant-type/mfa-recovery-code",
    "urn:okta:params:oauth:grant-type:webauthn",
    "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token",
    "implicit",
}
# Auth0's defaults per application type.
_DEFAULT_GRANTS = {
    "spa": ["authorization_code", "refresh_token"],
    "native": ["authorization_code", "refresh_token"],
    "regular_web": ["authorization_code", "refresh_token", "client_credentials"],
    "non_interactive": ["client_credentials"],
}
_SCOPE_VALUE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,280}$")  # RFC 6749 §3.3 scope-token
_POLICIES = {"user": {"allow_all", "deny_all", "require_client_grant"}, "client": {"deny_all", "require_client_grant"}}


class AdminError(ValueError):
    """Invalid input for an administrative operation (the Management API answers 400)."""


class Conflict(AdminError):
    """The object exists already (409)."""


class NotFound(AdminError):
    """No such object (404)."""


def _urls(values: Iterable[str] | None, what: str, *, origins: bool = False) -> list[str]:
    out = []
    for value in values or []:
        parts = urlsplit(value)
        if not parts.scheme or not (parts.netloc or parts.scheme not in ("http", "https")):
            raise AdminError(f"{what}: '{value}' is not an absolute URL")
        if "*" in value:
            raise AdminError(f"{what}: wildcards are not supported ('{value}'); list each URL")
        if origins:
            if parts.path not in ("", "/") or parts.query or parts.fragment:
                raise AdminError(f"{what}: '{value}' must be an origin (scheme://host[:port])")
            value = f"{parts.scheme}://{parts.netloc}"
        out.append(value)
    return out


# users
def _check_email(email: str) -> None:
    if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$|^[^@\s]+@localhost$", email):
        raise AdminError(f"'{email}' is not a valid email address")


def check_user(*, email: str | None, username: str | None = None, user_id: str | None = None) -> str | None:
    """Validate a new user's identifiers as `create_user` does; returns `user_id` as stored (`auth0|…`) or None."""
    if not email and not username:
        raise AdminError("a user needs an email or a username")
    if email is not None:
        _check_email(email)
    if user_id is not None:
        # The stored id (`provider|id`) has at most 100 characters.
        if not re.match(r"^[A-Za-z0-9_-]{1,20}\|[A-Za-z0-9_.-]{1,79}$", user_id):
            if not re.match(r"^[A-Za-z0-9_.-]{1,94}$", user_id):
                raise AdminError(f"'{user_id}' is not a valid user id")
            user_id = f"auth0|{user_id}"
    return user_id


_USER_FIELDS = {"email", "email_verified", "username", "user_metadata", "app_metadata", "password", *PROFILE_FIELDS}


def update_user(core: Core, user_id: str, changes: Mapping[str, Any]) -> User:
    """Change a user's profile, email or password (hashed here). Unknown fields are refused."""
    unknown = set(changes) - _USER_FIELDS
    if unknown:
        raise AdminError(f"cannot change {', '.join(sorted(unknown))} on a user")
    values = {k: v for k, v in changes.items() if k != "password"}
    if values.get("email") is not None:
        _check_email(values["email"])
    password = changes.get("password")
    password_hash = core.passwords.hash(password) if password else None
    now = core.clock.now()
    with core.db.write() as conn:
        users = UserStore(conn)
        current = users.get(user_id)
        if current is None:
            raise NotFound("The user does not exist.")
        other = users.by_email(values["email"]) if values.get("email") else None
        if other is not None and other.id != user_id:
            raise Conflict("The specified new email already exists.")
        other = users.by_login(values["username"]) if values.get("username") else None
        if other is not None and other.id != user_id:
            raise Conflict("The username already exists.")
        if values:
            users.update(user_id, now=now, **values)
        if password_hash:
            users.set_password(user_id, password_hash, now=now)
        updated = users.get(user_id)
        assert updated is not None
        return updated


def create_user(
    core: Core,
    *,
    email: str | None,
    password: str | None,
    user_id: str | None = None,
    email_verified: bool = False,
    username: str | None = None,
    **profile: Any,
) -> User:
    user_id = check_user(email=email, username=username, user_id=user_id)
    password_hash = core.passwords.hash(password) if password else None
    now = core.clock.now()
    with core.db.write() as conn:
        users = UserStore(conn)
        if email and users.by_email(email):
            raise Conflict("The user already exists.")
        if username and users.by_login(username):
            raise Conflict("The username already exists.")
        if user_id and users.get(user_id):
            raise Conflict("The user already exists.")
        return users.create(
            user_id=user_id or new_user_id(),
            now=now,
            email=email,
            password_hash=password_hash,
            email_verified=email_verified,
            username=username,
            **profile,
        )


# clients
def create_client(
    core: Core,
    *,
    name: str,
    app_type: str = "regular_web",
    client_id: str | None = None,
    client_secret: str | None = None,
    grant_types: Sequence[str] | None = None,
    callbacks: Sequence[str] | None = None,
    allowed_origins: Sequence[str] | None = None,
    web_origins: Sequence[str] | None = None,
    allowed_logout_urls: Sequence[str] | None = None,
    cross_origin_authentication: bool = False,
    is_first_party: bool = True,
    token_endpoint_auth_method: str | None = None,
    description: str = "",
) -> tuple[Client, str | None]:
    """Create an application. Returns it with its secret, which is shown once and stored only as a keyed hash."""
    client, secret = _client_values(
        name=name,
        app_type=app_type,
        client_id=client_id or new_client_id(),
        client_secret=client_secret,
        grant_types=grant_types,
        callbacks=callbacks,
        allowed_origins=allowed_origins,
        web_origins=web_origins,
        allowed_logout_urls=allowed_logout_urls,
        cross_origin_authentication=cross_origin_authentication,
        is_first_party=is_first_party,
        token_endpoint_auth_method=token_endpoint_auth_method,
        description=description,
        core=core,
    )
    with core.db.write() as conn:
        store = ClientStore(conn)
        if store.get(client.client_id):
            raise Conflict(f"A client with id {client.client_id} already exists.")
        return store.create(client, now=core.clock.now()), secret


def check_client(core: Core, fields: Mapping[str, Any]) -> Client:
    """Validate an application's fields as `create_client` does (same defaults), storing nothing."""
    values: dict[str, Any] = {
        "app_type": "regular_web",
        "client_secret": None,
        "grant_types": None,
        "callbacks": None,
        "allowed_origins": None,
        "web_origins": None,
        "allowed_logout_urls": None,
        "cross_origin_authentication": False,
        "is_first_party": True,
        "token_endpoint_auth_method": None,
        "description": "",
    }
    values.update(fields)
    values["client_id"] = values.get("client_id") or new_client_id()
    if "name" not in values:
        raise AdminError("name is required (at most 200 characters)")
    client, _ = _client_values(core=core, **values)
    return client


def _client_values(
    *,
    core: Core,
    name: str,
    app_type: str,
    client_id: str,
    client_secret: str | None,
    grant_types: Sequence[str] | None,
    callbacks: Sequence[str] | None,
    allowed_origins: Sequence[str] | None,
    web_origins: Sequence[str] | None,
    allowed_logout_urls: Sequence[str] | None,
    cross_origin_authentication: bool,
    is_first_party: bool,
    token_endpoint_auth_method: str | None,
    description: str,
) -> tuple[Client, str | None]:
    if not name or len(name) > 200:
        raise AdminError("name is required (at most 200 characters)")
    if app_type not in APP_TYPES:
        raise AdminError(f"app_type must be one of {', '.join(APP_TYPES)}")
    if not re.match(r"^[A-Za-z0-9_.-]{8,64}$", client_id):
        raise AdminError("client_id must be 8 to 64 characters of letters, digits, '_', '.', '-'")
    grants = list(grant_types) if grant_types is not None else list(_DEFAULT_GRANTS[app_type])
    unknown = set(grants) - GRANT_TYPES
    if unknown:
        raise AdminError(f"unknown grant types: {', '.join(sorted(unknown))}")
    method = token_endpoint_auth_method or ("none" if app_type in ("spa", "native") else "client_secret_post")
    if method not in ("none", "client_secret_post", "client_secret_basic"):
        raise AdminError("token_endpoint_auth_method must be none, client_secret_post or client_secret_basic")
    if method == "none" and "client_credentials" in grants:
        raise AdminError("public clients (token_endpoint_auth_method none) cannot use client_credentials")
    secret: str | None = None
    if method != "none":
        secret = client_secret or token(48)
        if len(secret) < 16:
            raise AdminError("client_secret must have at least 16 characters")
    return (
        Client(
            client_id=client_id,
            name=name,
            app_type=app_type,
            token_endpoint_auth_method=method,
            grant_types=grants,
            callbacks=_urls(callbacks, "callbacks"),
            allowed_origins=_urls(allowed_origins, "allowed_origins", origins=True),
            web_origins=_urls(web_origins, "web_origins", origins=True),
            allowed_logout_urls=_urls(allowed_logout_urls, "allowed_logout_urls"),
            cross_origin_authentication=cross_origin_authentication,
            is_first_party=is_first_party,
            secret_hash=hash_secret(core.sealer, secret) if secret else None,
            description=description,
        ),
        secret,
    )


def update_client(core: Core, client_id: str, changes: Mapping[str, Any]) -> tuple[Client, str | None]:
    """Apply Management-API-style changes; `client_secret` sets a new secret (returned once)."""
    with core.db.write() as conn:
        store = ClientStore(conn)
        current = store.get(client_id)
        if current is None:
            raise NotFound("The client does not exist.")
        fields = {
            f: changes.get(f, getattr(current, f))
            for f in (
                "name",
                "app_type",
                "grant_types",
                "callbacks",
                "allowed_origins",
                "web_origins",
                "allowed_logout_urls",
                "cross_origin_authentication",
                "is_first_party",
                "token_endpoint_auth_method",
                "description",
            )
        }
        updated, secret = _client_values(
            core=core, client_id=client_id, client_secret=changes.get("client_secret"), **fields
        )
        values = {f: getattr(updated, f) for f in fields}
        if current.token_endpoint_auth_method != "none" and "client_secret" not in changes and secret:
            secret = None  # keep the existing secret
            values["secret_hash"] = current.secret_hash
        else:
            values["secret_hash"] = updated.secret_hash
        store.update(client_id, **values)
        result = store.get(client_id)
        assert result is not None
        return result, secret


def rotate_client_secret(core: Core, client_id: str) -> str:
    secret = token(48)
    with core.db.write() as conn:
        store = ClientStore(conn)
        client = store.get(client_id)
        if client is None:
            raise NotFound("The client does not exist.")
        if client.is_public:
            raise AdminError("public clients have no secret")
        store.update(client_id, secret_hash=hash_secret(core.sealer, secret))
    return secret


# APIs
def _scope_list(scopes: Iterable[Mapping[str, str] | str]) -> list[dict[str, str]]:
    if isinstance(scopes, str | bytes) or not isinstance(scopes, Iterable):
        raise AdminError("scopes must be a list")
    out: list[dict[str, str]] = []
    for item in scopes:
        if isinstance(item, str):
            value, description = item, ""
        elif isinstance(item, Mapping):
            value, description = item.get("value", ""), item.get("description", "")
        else:
            raise AdminError("each scope must be a string or {value, description}")
        if not isinstance(value, str) or not _SCOPE_VALUE.match(value):
            raise AdminError(f"'{value}' is not a valid scope value")
        if not isinstance(description, str) or len(description) > 500:
            raise AdminError(f"the description of '{value}' must be a string of at most 500 characters")
        out.append({"value": value, "description": description or value})
    if len({s["value"] for s in out}) != len(out):
        raise AdminError("scope values must be unique")
    return out


def _subject_policies(value: Mapping[str, Any] | None, *, current: Mapping[str, Any] | None = None) -> dict[str, Any]:
    merged: dict[str, Any] = dict(
        current or {"user": {"policy": "allow_all"}, "client": {"policy": "require_client_grant"}}
    )
    for subject, policy in (value or {}).items():
        if subject not in _POLICIES:
            raise AdminError(f"unknown subject type '{subject}' in subject_type_authorization")
        name = policy.get("policy") if isinstance(policy, Mapping) else None
        if name not in _POLICIES[subject]:
            allowed = ", ".join(sorted(_POLICIES[subject]))
            raise AdminError(f"subject_type_authorization.{subject}.policy must be one of {allowed}")
        merged[subject] = {"policy": name}
    return merged


def create_resource_server(
    core: Core,
    *,
    identifier: str,
    name: str | None = None,
    scopes: Iterable[Mapping[str, str] | str] = (),
    token_lifetime: int = 86400,
    allow_offline_access: bool = False,
    enforce_policies: bool = False,
    token_dialect: str = "access_token",
    skip_consent_for_verifiable_first_party_clients: bool = True,
    subject_type_authorization: Mapping[str, Any] | None = None,
    signing_alg: str = "RS256",
) -> ResourceServer:
    rs = check_resource_server(
        identifier=identifier,
        name=name,
        scopes=scopes,
        token_lifetime=token_lifetime,
        allow_offline_access=allow_offline_access,
        enforce_policies=enforce_policies,
        token_dialect=token_dialect,
        skip_consent_for_verifiable_first_party_clients=skip_consent_for_verifiable_first_party_clients,
        subject_type_authorization=subject_type_authorization,
        signing_alg=signing_alg,
    )
    with core.db.write() as conn:
        store = ClientStore(conn)
        if store.resource_server(identifier):
            raise Conflict(f"A resource server with identifier {identifier} already exists.")
        return store.create_resource_server(rs, now=core.clock.now())


def check_resource_server(
    *,
    identifier: str,
    name: str | None = None,
    scopes: Iterable[Mapping[str, str] | str] = (),
    token_lifetime: int = 86400,
    allow_offline_access: bool = False,
    enforce_policies: bool = False,
    token_dialect: str = "access_token",
    skip_consent_for_verifiable_first_party_clients: bool = True,
    subject_type_authorization: Mapping[str, Any] | None = None,
    signing_alg: str = "RS256",
) -> ResourceServer:
    """Validate an API's fields as `create_resource_server` does and build it, storing nothing."""
    if not identifier or len(identifier) > 600:
        raise AdminError("identifier is required (at most 600 characters)")
    if signing_alg != "RS256":
        raise AdminError("signing_alg must be RS256")
    if token_dialect not in ("access_token", "access_token_authz"):
        raise AdminError("token_dialect must be access_token or access_token_authz")
    if not isinstance(token_lifetime, int) or not 60 <= token_lifetime <= 2592000:
        raise AdminError("token_lifetime must be between 60 and 2592000 seconds")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 200):
        raise AdminError("name must be 1 to 200 characters")
    return ResourceServer(
        id=f"rs_{secrets.token_hex(8)}",
        identifier=identifier,
        name=name or identifier[:200],
        scopes=_scope_list(scopes),
        signing_alg=signing_alg,
        token_lifetime=token_lifetime,
        allow_offline_access=allow_offline_access,
        skip_consent_for_verifiable_first_party_clients=skip_consent_for_verifiable_first_party_clients,
        enforce_policies=enforce_policies,
        token_dialect=token_dialect,
        subject_type_authorization=_subject_policies(subject_type_authorization),
        is_system=False,
    )


def update_resource_server(core: Core, id_or_identifier: str, changes: Mapping[str, Any]) -> ResourceServer:
    with core.db.write() as conn:
        store = ClientStore(conn)
        rs = store.resource_server_by_id(id_or_identifier) or store.resource_server(id_or_identifier)
        if rs is None:
            raise NotFound("The resource server does not exist.")
        values: dict[str, Any] = {}
        if "subject_type_authorization" in changes:
            sta = _subject_policies(changes["subject_type_authorization"], current=rs.subject_type_authorization)
            if rs.identifier == core.settings.my_account_audience and sta["client"]["policy"] != "deny_all":
                raise AdminError("The My Account API's client access policy is fixed at deny_all.")
            if rs.identifier == core.settings.management_audience:
                raise AdminError("The Management API's access policies cannot be changed.")
            values["subject_type_authorization"] = sta
        if rs.is_system:
            disallowed = set(changes) - {"subject_type_authorization", "token_lifetime", "name", "proof_of_possession"}
            if disallowed:
                raise AdminError(f"cannot change {', '.join(sorted(disallowed))} on a system API")
        for key in (
            "name",
            "token_lifetime",
            "allow_offline_access",
            "enforce_policies",
            "token_dialect",
            "skip_consent_for_verifiable_first_party_clients",
        ):
            if key in changes:
                values[key] = changes[key]
        if "scopes" in changes:
            values["scopes"] = _scope_list(changes["scopes"])
        if "proof_of_possession" in changes:
            values["proof_of_possession"] = _proof_of_possession(changes["proof_of_possession"])
        lifetime = values.get("token_lifetime", 60)
        if not isinstance(lifetime, int) or isinstance(lifetime, bool) or not 60 <= lifetime <= 2592000:
            raise AdminError("token_lifetime must be between 60 and 2592000 seconds")
        if values.get("token_dialect", "access_token") not in ("access_token", "access_token_authz"):
            raise AdminError("token_dialect must be access_token or access_token_authz")
        if "name" in values and (not isinstance(values["name"], str) or not 0 < len(values["name"]) <= 200):
            raise AdminError("name must be 1 to 200 characters")
        for flag in ("allow_offline_access", "enforce_policies", "skip_consent_for_verifiable_first_party_clients"):
            if flag in values and not isinstance(values[flag], bool):
                raise AdminError(f"{flag} must be true or false")
        if values:
            store.update_resource_server(rs.id, **values)
            core.invalidate_apis()
        result = store.resource_server_by_id(rs.id)
        assert result is not None
        return result


def _proof_of_possession(value: Any) -> dict[str, Any] | None:
    """Auth0's resource-server setting: `{"mechanism": "dpop", "required": true}` (null removes it)."""
    if value is None:
        return None
    if (
        not isinstance(value, Mapping)
        or value.get("mechanism") != "dpop"
        or not isinstance(value.get("required"), bool)
    ):
        raise AdminError('proof_of_possession must be {"mechanism": "dpop", "required": true|false}')
    return {"mechanism": "dpop", "required": value["required"]}


# client grants
def create_client_grant(
    core: Core, *, client_id: str, audience: str, scope: Sequence[str], subject_type: str = "client"
) -> ClientGrant:
    if subject_type not in ("user", "client"):
        raise AdminError("subject_type must be user or client")
    with core.db.write() as conn:
        store = ClientStore(conn)
        if store.get(client_id) is None:
            raise NotFound(f"No client with id {client_id}.")
        api = store.resource_server(audience)
        if api is None:
            raise NotFound(f"No resource server with identifier {audience}.")
        unknown = set(scope) - api.scope_values
        if unknown:
            raise AdminError(f"scopes not defined by {audience}: {', '.join(sorted(unknown))}")
        if store.grant(client_id, audience, subject_type):
            raise Conflict("A client grant for that client, audience and subject type already exists.")
        return store.create_grant(
            ClientGrant(
                id=f"cgr_{alnum(16)}",
                client_id=client_id,
                audience=audience,
                scope=list(scope),
                subject_type=subject_type,
            ),
            now=core.clock.now(),
        )


def update_client_grant(core: Core, grant_id: str, *, scope: Sequence[str]) -> ClientGrant:
    with core.db.write() as conn:
        store = ClientStore(conn)
        grant = store.grant_by_id(grant_id)
        if grant is None:
            raise NotFound("The client grant does not exist.")
        api = store.resource_server(grant.audience)
        unknown = set(scope) - (api.scope_values if api else set())
        if unknown:
            raise AdminError(f"scopes not defined by {grant.audience}: {', '.join(sorted(unknown))}")
        store.update_grant(grant_id, scope=list(scope))
        return replace(grant, scope=list(scope))


# roles
def create_role(core: Core, *, name: str, description: str = "", permissions: Iterable[tuple[str, str]] = ()) -> Role:
    if not name or len(name) > 128:
        raise AdminError("role name is required (at most 128 characters)")
    with core.db.write() as conn:
        roles = RoleStore(conn)
        if roles.by_name(name):
            raise Conflict(f"A role named {name} already exists.")
        role = roles.create(Role(id=f"rol_{alnum(16)}", name=name, description=description))
        perms = list(permissions)
        _check_permissions(ClientStore(conn), perms)
        roles.add_permissions(role.id, perms)
        return role


def update_role(
    core: Core,
    role_id: str,
    *,
    description: str | None = None,
    permissions: Iterable[tuple[str, str]] | None = None,
) -> Role:
    """Change a role's description, and replace its permissions when `permissions` is given."""
    with core.db.write() as conn:
        roles = RoleStore(conn)
        if roles.get(role_id) is None:
            raise NotFound(f"No role with id {role_id}.")
        if description is not None:
            roles.update(role_id, description=description)
        if permissions is not None:
            wanted = list(dict.fromkeys(permissions))
            _check_permissions(ClientStore(conn), wanted)
            current = roles.permissions(role_id)
            roles.remove_permissions(role_id, [p for p in current if p not in wanted])
            roles.add_permissions(role_id, wanted)
        role = roles.get(role_id)
        assert role is not None
        return role


def _check_permissions(store: ClientStore, permissions: Iterable[tuple[str, str]]) -> None:
    for audience, name in permissions:
        api = store.resource_server(audience)
        if api is None or name not in api.scope_values:
            raise AdminError(f"permission {name} is not defined by {audience}")


def assign_roles(core: Core, user_id: str, role_ids: Sequence[str]) -> None:
    with core.db.write() as conn:
        if UserStore(conn).get(user_id) is None:
            raise NotFound("The user does not exist.")
        roles = RoleStore(conn)
        for role_id in role_ids:
            if roles.get(role_id) is None:
                raise NotFound(f"No role with id {role_id}.")
        UserStore(conn).assign_roles(user_id, role_ids)


# removals and account state (appended for the Management API; the CLI may use them as well)
def set_blocked(core: Core, user_id: str, blocked: bool) -> User:
    """Block or unblock a user. Blocking also revokes the user's refresh tokens and browser sessions, so nothing
    issued before keeps working past the access tokens' own expiry."""
    from myaccount.store.grants import GrantStore
    from myaccount.store.sessions import SessionStore

    now = core.clock.now()
    with core.db.write() as conn:
        users = UserStore(conn)
        if users.get(user_id) is None:
            raise NotFound("The user does not exist.")
        users.update(user_id, now=now, blocked=blocked)
        if blocked:
            GrantStore(conn).revoke_for_user(user_id, now=now)
            SessionStore(conn).revoke_user_sessions(user_id, now=now)
        updated = users.get(user_id)
        assert updated is not None
        return updated


def delete_user(core: Core, user_id: str) -> None:
    with core.db.write() as conn:
        if not UserStore(conn).delete(user_id):
            raise NotFound("The user does not exist.")


def remove_roles(core: Core, user_id: str, role_ids: Sequence[str]) -> None:
    with core.db.write() as conn:
        users = UserStore(conn)
        if users.get(user_id) is None:
            raise NotFound("The user does not exist.")
        users.remove_roles(user_id, role_ids)


def delete_client(core: Core, client_id: str) -> None:
    """Delete an application; its client grants go with it (foreign key cascade)."""
    with core.db.write() as conn:
        store = ClientStore(conn)
        client = store.get(client_id)
        if client is None:
            raise NotFound("The client does not exist.")
        if client.is_system:
            raise AdminError("A system client cannot be deleted.")
        store.delete(client_id)


def delete_resource_server(core: Core, id_or_identifier: str) -> None:
    """Delete an API with the client grants and role permissions that name it. The system APIs stay."""
    with core.db.write() as conn:
        store = ClientStore(conn)
        rs = store.resource_server_by_id(id_or_identifier) or store.resource_server(id_or_identifier)
        if rs is None:
            raise NotFound("The resource server does not exist.")
        if rs.is_system:
            raise AdminError("A system API cannot be deleted.")
        for grant in store.grants(audience=rs.identifier):
            store.delete_grant(grant.id)
        roles = RoleStore(conn)
        for role in roles.all():
            roles.remove_permissions(role.id, [p for p in roles.permissions(role.id) if p[0] == rs.identifier])
        store.delete_resource_server(rs.id)


def delete_client_grant(core: Core, grant_id: str) -> None:
    with core.db.write() as conn:
        if not ClientStore(conn).delete_grant(grant_id):
            raise NotFound("The client grant does not exist.")


def rename_role(core: Core, role_id: str, name: str) -> Role:
    if not name or len(name) > 128:
        raise AdminError("role name is required (at most 128 characters)")
    with core.db.write() as conn:
        roles = RoleStore(conn)
        if roles.get(role_id) is None:
            raise NotFound(f"No role with id {role_id}.")
        other = roles.by_name(name)
        if other is not None and other.id != role_id:
            raise Conflict(f"A role named {name} already exists.")
        roles.update(role_id, name=name)
        role = roles.get(role_id)
        assert role is not None
        return role


def delete_role(core: Core, role_id: str) -> None:
    with core.db.write() as conn:
        if not RoleStore(conn).delete(role_id):
            raise NotFound(f"No role with id {role_id}.")
