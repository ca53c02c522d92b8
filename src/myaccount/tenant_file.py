"""Tenant as code: a JSON or TOML file of APIs, clients, client grants, roles and users, applied idempotently.

Objects use the Management API v2 field names, as Auth0's Deploy CLI and Keycloak's realm import do with theirs.
Applying is declarative and never deletes: each object the file names is created, or brought to match the fields
the file gives; fields it leaves out and objects it does not name stay as they are. Lists inside an object
(callbacks, scopes, a role's permissions) are replaced by the file's list. Two exceptions, so that a restart does
not undo what users and administrators did since: a user's password is set when the user is created (or, with
`"password_update": true`, whenever it differs), and a user's `roles` are added, never removed.

The string `##PUBLIC_URL##` anywhere in a value is replaced by the server's public origin (Deploy CLI's keyword
replacement), so one file serves every environment: `"audience": "##PUBLIC_URL##/me/"`.

Everything is checked before anything is written: shapes, field types, references between objects and every
rule `admin` enforces. Writes then go through `admin`, one object at a time; should one still fail (a concurrent
change), applying the file again finishes the job.
"""

import difflib
import json
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from myaccount import admin
from myaccount.core import Core
from myaccount.oauth.clients import hash_secret
from myaccount.oauth.grants.password import DATABASE_CONNECTION
from myaccount.store.clients import ClientStore
from myaccount.store.roles import RoleStore
from myaccount.store.users import PROFILE_FIELDS, User, UserStore, normalize_email

__all__ = ["KINDS", "PUBLIC_URL_KEYWORD", "ApplyReport", "Counts", "TenantFileError", "apply", "load"]

# Also the order of writing: what an object refers to exists before it.
KINDS = ("resource_servers", "clients", "client_grants", "roles", "users")
PUBLIC_URL_KEYWORD = "##PUBLIC_URL##"

_Type = Literal["str", "bool", "int", "dict", "strs", "scopes", "permissions"]
_FIELDS: dict[str, dict[str, _Type]] = {
    "resource_servers": {
        "identifier": "str",
        "name": "str",
        "scopes": "scopes",
        "token_lifetime": "int",
        "allow_offline_access": "bool",
        "enforce_policies": "bool",
        "token_dialect": "str",
        "skip_consent_for_verifiable_first_party_clients": "bool",
        "subject_type_authorization": "dict",
        "signing_alg": "str",
    },
    "clients": {
        "client_id": "str",
        "client_secret": "str",
        "name": "str",
        "description": "str",
        "app_type": "str",
        "grant_types": "strs",
        "callbacks": "strs",
        "allowed_origins": "strs",
        "web_origins": "strs",
        "allowed_logout_urls": "strs",
        "cross_origin_authentication": "bool",
        "is_first_party": "bool",
        "token_endpoint_auth_method": "str",
    },
    "client_grants": {"client_id": "str", "audience": "str", "scope": "strs", "subject_type": "str"},
    "roles": {"name": "str", "description": "str", "permissions": "permissions"},
    "users": {
        "user_id": "str",
        "email": "str",
        "username": "str",
        "password": "str",
        "password_update": "bool",
        "email_verified": "bool",
        "connection": "str",
        "user_metadata": "dict",
        "app_metadata": "dict",
        "roles": "strs",
        **dict.fromkeys(PROFILE_FIELDS, "str"),
    },
}
_REQUIRED = {
    "resource_servers": ("identifier",),
    "clients": ("client_id", "name"),
    "client_grants": ("client_id", "audience"),
    "roles": ("name",),
    "users": (),
}
_CLIENT_FIELDS = tuple(f for f in _FIELDS["clients"] if f not in ("client_id", "client_secret"))
_SYSTEM_API_FIELDS = {"name", "token_lifetime", "subject_type_authorization"}  # what admin lets a file change there


class TenantFileError(ValueError):
    """The file cannot be read or applied. `problems` lists each one, prefixed with where it is."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems) if len(problems) == 1 else "\n  ".join(["tenant file:", *problems]))


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ApplyReport:
    counts: dict[str, Counts] = field(default_factory=lambda: {kind: Counts() for kind in KINDS})
    # Secrets generated for confidential clients the file gave none: shown once, stored only as a hash.
    client_secrets: dict[str, str] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(c.created or c.updated for c in self.counts.values())

    def as_dict(self) -> dict[str, Any]:
        counts = {kind: {f.name: getattr(c, f.name) for f in fields(c)} for kind, c in self.counts.items()}
        return {"counts": counts, "client_secrets": dict(self.client_secrets)}

    def summary(self) -> str:
        lines = [
            f"{kind}: {c.created} created, {c.updated} updated, {c.unchanged} unchanged"
            for kind, c in self.counts.items()
            if c.created or c.updated or c.unchanged
        ]
        return "\n".join(lines) or "the tenant file names no objects"


def load(path: Path) -> dict[str, Any]:
    """Read a tenant file: JSON (`.json`) or TOML (`.toml`), chosen by extension."""
    suffix = path.suffix.lower()
    if suffix not in (".json", ".toml"):
        raise TenantFileError([f"{path}: a tenant file ends in .json or .toml"])
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TenantFileError([f"{path}: cannot be read ({exc})"]) from exc
    try:
        data = json.loads(text) if suffix == ".json" else tomllib.loads(text)
    except json.JSONDecodeError as exc:
        raise TenantFileError([f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise TenantFileError([f"{path}: invalid TOML: {exc}"]) from exc
    if not isinstance(data, dict):
        raise TenantFileError([f"{path}: the top level must be an object of {', '.join(KINDS)}"])
    return data


def apply(core: Core, data: Mapping[str, Any], *, dry_run: bool = False) -> ApplyReport:
    """Check the whole document, then create and update what differs. `dry_run` stops after counting."""
    plan = _Planner(core, _substitute(data, core.settings.origin)).plan()
    report = ApplyReport()
    for kind, action, write in plan:
        setattr(report.counts[kind], action, getattr(report.counts[kind], action) + 1)
        if write is not None and not dry_run:
            write(report)
    return report


def _substitute(value: Any, origin: str) -> Any:
    if isinstance(value, str):
        return value.replace(PUBLIC_URL_KEYWORD, origin)
    if isinstance(value, list):
        return [_substitute(item, origin) for item in value]
    if isinstance(value, dict):
        return {key: _substitute(item, origin) for key, item in value.items()}
    return value


_Action = Literal["created", "updated", "unchanged"]
_Write = Callable[[ApplyReport], object]


class _Planner:
    """Checks every object against the file and the store, and decides what to write for each."""

    def __init__(self, core: Core, data: Mapping[str, Any]) -> None:
        self.core = core
        self.data = data
        self.problems: list[str] = []
        self.steps: list[tuple[str, _Action, _Write | None]] = []
        # The scopes each API will have once the file is applied, and the clients and roles that will exist.
        self.api_scopes: dict[str, set[str]] = {}
        self.file_clients: set[str] = set()
        self.file_roles: set[str] = set()

    def plan(self) -> list[tuple[str, _Action, _Write | None]]:
        entries = self._entries()
        with self.core.db.read() as conn:
            clients, roles, users = ClientStore(conn), RoleStore(conn), UserStore(conn)
            self.api_scopes = {rs.identifier: rs.scope_values for rs in clients.resource_servers()}
            for path, entry in entries["resource_servers"]:
                self._resource_server(path, entry, clients)
            for path, entry in entries["clients"]:
                self._client(path, entry, clients)
            for path, entry in entries["client_grants"]:
                self._client_grant(path, entry, clients)
            for path, entry in entries["roles"]:
                self._role(path, entry, roles)
            for path, entry in entries["users"]:
                self._user(path, entry, users, roles)
        if self.problems:
            raise TenantFileError(self.problems)
        return self.steps

    # shape
    def _entries(self) -> dict[str, list[tuple[str, dict[str, Any]]]]:
        out: dict[str, list[tuple[str, dict[str, Any]]]] = {kind: [] for kind in KINDS}
        for key, items in self.data.items():
            if key not in _FIELDS:
                self._unknown(key, key, KINDS, what="top-level key")
                continue
            if not isinstance(items, list):
                self.problems.append(f"{key}: expected a list of objects")
                continue
            seen: set[Any] = set()
            for index, entry in enumerate(items):
                path = f"{key}[{index}]"
                if not self._shape(path, key, entry):
                    continue
                identities = _identities(key, entry)
                repeated = next((i for i in identities if i in seen), None)
                if repeated is not None:
                    self.problems.append(f"{path}: a second entry for {_describe(repeated)}")
                    continue
                seen.update(identities)
                out[key].append((path, entry))
        if self.problems:
            raise TenantFileError(self.problems)
        return out

    def _shape(self, path: str, kind: str, entry: Any) -> bool:
        if not isinstance(entry, dict):
            self.problems.append(f"{path}: expected an object")
            return False
        before = len(self.problems)
        spec = _FIELDS[kind]
        for name, value in entry.items():
            if name not in spec:
                self._unknown(f"{path}.{name}", name, spec, what="field")
            elif (error := _type_error(spec[name], value)) is not None:
                self.problems.append(f"{path}.{name}: {error}")
        for name in _REQUIRED[kind]:
            if name not in entry:
                self.problems.append(f"{path}.{name}: required")
        return len(self.problems) == before

    def _unknown(self, path: str, name: str, known: Any, *, what: str) -> None:
        close = difflib.get_close_matches(name, list(known), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        self.problems.append(f"{path}: unknown {what}{hint}")

    def _check(self, path: str, run: Callable[[], Any]) -> Any:
        """Run one of admin's checks; its complaint becomes a problem at `path`."""
        try:
            return run()
        except admin.AdminError as exc:
            self.problems.append(f"{path}: {exc}")
            return None

    # objects
    def _resource_server(self, path: str, entry: dict[str, Any], store: ClientStore) -> None:
        identifier = entry["identifier"]
        current = store.resource_server(identifier)
        if current is None:
            wanted = self._check(path, lambda: admin.check_resource_server(**entry))
            if wanted is not None:
                self.api_scopes[identifier] = wanted.scope_values
                self.steps.append(
                    ("resource_servers", "created", lambda _: admin.create_resource_server(self.core, **entry))
                )
            return
        merged = {f: entry.get(f, getattr(current, f)) for f in _FIELDS["resource_servers"]}
        wanted = self._check(path, lambda: admin.check_resource_server(**merged))
        if wanted is None:
            return
        changes: dict[str, Any] = {}
        for name in entry.keys() - {"identifier"}:
            value = getattr(wanted, name)
            if name == "subject_type_authorization":
                # admin merges the given subject types into the current ones; compare what will result.
                value = current.subject_type_authorization | {s: value[s] for s in entry[name]}
            if value != getattr(current, name):
                changes[name] = value
        if current.is_system:
            for name in sorted(changes.keys() - _SYSTEM_API_FIELDS):
                self.problems.append(f"{path}.{name}: cannot be changed on a system API")
            sta = changes.get("subject_type_authorization")
            if sta and identifier == self.core.settings.my_account_audience and sta["client"]["policy"] != "deny_all":
                self.problems.append(f"{path}.subject_type_authorization.client: fixed at deny_all for My Account")
        self.api_scopes[identifier] = wanted.scope_values
        rs_id = current.id
        self._step("resource_servers", changes, lambda _: admin.update_resource_server(self.core, rs_id, changes))

    def _client(self, path: str, entry: dict[str, Any], store: ClientStore) -> None:
        client_id = entry["client_id"]
        self.file_clients.add(client_id)
        current = store.get(client_id)
        base = {f: getattr(current, f) for f in _CLIENT_FIELDS} if current else {}
        wanted = self._check(path, lambda: admin.check_client(self.core, base | entry))
        if wanted is None:
            return
        if wanted.is_public and "client_secret" in entry:
            self.problems.append(f"{path}.client_secret: a public client (spa, native) has no secret")
            return
        if current is None:

            def create(report: ApplyReport) -> None:
                _, secret = admin.create_client(self.core, **entry)
                if secret and "client_secret" not in entry:
                    report.client_secrets[client_id] = secret

            self.steps.append(("clients", "created", create))
            return
        changes = {f: getattr(wanted, f) for f in entry.keys() & set(_CLIENT_FIELDS)}
        changes = {f: v for f, v in changes.items() if v != getattr(current, f)}
        secret = entry.get("client_secret")
        if secret is not None and hash_secret(self.core.sealer, secret) != current.secret_hash:
            changes["client_secret"] = secret

        def update(report: ApplyReport) -> None:
            _, generated = admin.update_client(self.core, client_id, changes)
            if generated and "client_secret" not in changes:
                report.client_secrets[client_id] = generated  # became confidential without a secret in the file

        self._step("clients", changes, update)

    def _client_grant(self, path: str, entry: dict[str, Any], store: ClientStore) -> None:
        client_id, audience = entry["client_id"], entry["audience"]
        subject_type = entry.get("subject_type", "client")
        scope: list[str] = entry.get("scope", [])
        if subject_type not in ("user", "client"):
            self.problems.append(f"{path}.subject_type: must be user or client")
            return
        known_client = client_id in self.file_clients or store.get(client_id) is not None
        if not known_client:
            self.problems.append(f"{path}.client_id: no client {client_id} in the file or the tenant")
        if audience not in self.api_scopes:
            self.problems.append(f"{path}.audience: no API {audience} in the file or the tenant")
            return
        undefined = set(scope) - self.api_scopes[audience]
        if undefined:
            self.problems.append(f"{path}.scope: not defined by {audience}: {', '.join(sorted(undefined))}")
        if undefined or not known_client:
            return
        current = store.grant(client_id, audience, subject_type)
        if current is None:
            self.steps.append(
                (
                    "client_grants",
                    "created",
                    lambda _: admin.create_client_grant(
                        self.core, client_id=client_id, audience=audience, scope=scope, subject_type=subject_type
                    ),
                )
            )
            return
        changed = {"scope": scope} if set(scope) != set(current.scope) else {}
        grant_id = current.id
        self._step("client_grants", changed, lambda _: admin.update_client_grant(self.core, grant_id, scope=scope))

    def _role(self, path: str, entry: dict[str, Any], store: RoleStore) -> None:
        name = entry["name"]
        self.file_roles.add(name)
        permissions = [(p["resource_server_identifier"], p["permission_name"]) for p in entry.get("permissions", [])]
        for index, (audience, permission) in enumerate(permissions):
            if permission not in self.api_scopes.get(audience, set()):
                self.problems.append(f"{path}.permissions[{index}]: {permission} is not defined by {audience}")
        if len(name) > 128:
            self.problems.append(f"{path}.name: at most 128 characters")
        current = store.by_name(name)
        if current is None:
            description = entry.get("description", "")
            self.steps.append(
                (
                    "roles",
                    "created",
                    lambda _: admin.create_role(self.core, name=name, description=description, permissions=permissions),
                )
            )
            return
        changes: dict[str, Any] = {}
        if "description" in entry and entry["description"] != current.description:
            changes["description"] = entry["description"]
        if "permissions" in entry and set(permissions) != set(store.permissions(current.id)):
            changes["permissions"] = permissions
        role_id = current.id
        self._step("roles", changes, lambda _: admin.update_role(self.core, role_id, **changes))

    def _user(self, path: str, entry: dict[str, Any], store: UserStore, roles: RoleStore) -> None:
        email, username = entry.get("email"), entry.get("username")
        before = len(self.problems)
        user_id = self._check(
            path, lambda: admin.check_user(email=email, username=username, user_id=entry.get("user_id"))
        )
        if len(self.problems) > before:
            return
        if entry.get("connection", DATABASE_CONNECTION) != DATABASE_CONNECTION:
            self.problems.append(f"{path}.connection: only {DATABASE_CONNECTION} is supported")
        if entry.get("password_update") and "password" not in entry:
            self.problems.append(f"{path}.password_update: needs a password")
        for index, role in enumerate(entry.get("roles", [])):
            if role not in self.file_roles and roles.by_name(role) is None:
                self.problems.append(f"{path}.roles[{index}]: no role named {role} in the file or the tenant")
        current = self._match_user(path, store, user_id=user_id, email=email, username=username)
        if current is False:
            return
        wanted_roles: list[str] = entry.get("roles", [])
        profile = {k: v for k, v in entry.items() if k in PROFILE_FIELDS or k in ("user_metadata", "app_metadata")}
        if current is None:

            def create(_: ApplyReport) -> None:
                user = admin.create_user(
                    self.core,
                    email=email,
                    password=entry.get("password"),
                    user_id=user_id,
                    email_verified=entry.get("email_verified", False),
                    username=username,
                    **profile,
                )
                self._assign(user.id, wanted_roles)

            self.steps.append(("users", "created", create))
            return
        changes = {k: v for k, v in profile.items() if getattr(current, k) != v}
        if email is not None and normalize_email(email) != current.email:
            changes["email"] = email
        for key in ("username", "email_verified"):
            if key in entry and entry[key] != getattr(current, key):
                changes[key] = entry[key]
        if entry.get("password_update") and not self.core.passwords.verify(current.password_hash, entry["password"]):
            changes["password"] = entry["password"]
        held = {role.name for rid in store.role_ids(current.id) if (role := roles.get(rid)) is not None}
        missing = [r for r in wanted_roles if r not in held]
        stored_id = current.id

        def update(_: ApplyReport) -> None:
            if changes:
                admin.update_user(self.core, stored_id, changes)
            self._assign(stored_id, missing)

        self._step("users", {**changes, "roles": missing} if missing else changes, update)

    def _match_user(
        self, path: str, store: UserStore, *, user_id: str | None, email: str | None, username: str | None
    ) -> User | None | Literal[False]:
        """The stored user an entry means: by user_id, else by email (or username). False: a contradiction."""
        by_id = store.get(user_id) if user_id else None
        by_email = store.by_email(email) if email else None
        if by_email is not None and (user_id is not None and by_email.id != user_id):
            self.problems.append(f"{path}.email: {email} belongs to another user, {by_email.id}")
            return False
        if by_id is not None or user_id is not None:
            return by_id
        if by_email is not None or email is not None:
            return by_email
        return store.by_login(username) if username else None

    def _assign(self, user_id: str, role_names: list[str]) -> None:
        if not role_names:
            return
        with self.core.db.read() as conn:
            roles = RoleStore(conn)
            ids = [role.id for name in role_names if (role := roles.by_name(name)) is not None]
        admin.assign_roles(self.core, user_id, ids)

    def _step(self, kind: str, changes: Mapping[str, Any], write: _Write) -> None:
        if changes:
            self.steps.append((kind, "updated", write))
        else:
            self.steps.append((kind, "unchanged", None))


def _identities(kind: str, entry: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """What an entry is matched by: two entries sharing any of these would fight over one object."""
    if kind == "resource_servers":
        return [("API", entry.get("identifier"))]
    if kind == "clients":
        return [("client", entry.get("client_id"))]
    if kind == "client_grants":
        return [("client grant", entry.get("client_id"), entry.get("audience"), entry.get("subject_type", "client"))]
    if kind == "roles":
        return [("role", entry.get("name"))]
    keys = [entry.get("user_id"), normalize_email(entry.get("email")), entry.get("username")]
    return [("user", key) for key in keys if key]


def _describe(identity: tuple[Any, ...]) -> str:
    return f"{identity[0]} {' '.join(str(part) for part in identity[1:])}"


def _type_error(expected: _Type, value: Any) -> str | None:
    if expected == "str":
        return None if isinstance(value, str) else "expected a string"
    if expected == "bool":
        return None if isinstance(value, bool) else "expected true or false"
    if expected == "int":
        return None if isinstance(value, int) and not isinstance(value, bool) else "expected an integer"
    if expected == "dict":
        return None if isinstance(value, dict) else "expected an object"
    if not isinstance(value, list):
        return "expected a list"
    if expected == "strs":
        return None if all(isinstance(v, str) for v in value) else "expected a list of strings"
    if expected == "scopes":
        for index, item in enumerate(value):
            if isinstance(item, str):
                continue
            if not isinstance(item, dict) or not isinstance(item.get("value"), str):
                return f"[{index}]: expected a string or an object with a value"
            extra = set(item) - {"value", "description"}
            if extra or not isinstance(item.get("description", ""), str):
                return f"[{index}]: a scope has a value and a description (strings) only"
        return None
    keys = {"resource_server_identifier", "permission_name"}
    for index, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != keys or not all(isinstance(v, str) for v in item.values()):
            return f"[{index}]: expected an object with resource_server_identifier and permission_name (strings)"
    return None
