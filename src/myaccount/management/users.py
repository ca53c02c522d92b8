"""Management API users: Auth0's user shape, search, create, update (block, email, password, metadata), delete,
and role assignments. Creation and profile changes go through `admin`, as the CLI's do.

Blocking revokes the user's refresh tokens and sessions (`admin.set_blocked`); the password and login checks
already refuse blocked users. Passwords set here meet the tenant's password policy, history included.
"""

import re
from collections.abc import Mapping
from typing import Any

from myaccount import admin
from myaccount.core import Core
from myaccount.management import fields
from myaccount.management.errors import Exists, Invalid, Missing, Unsupported
from myaccount.management.roles import to_wire as roles_wire
from myaccount.methods.base import MethodError
from myaccount.methods.otp import normalize_phone
from myaccount.methods.password import PasswordPolicy
from myaccount.store.roles import RoleStore
from myaccount.store.tenant import TenantSettingsStore
from myaccount.store.users import User, UserStore
from myaccount.timefmt import iso_ms

__all__ = [
    "DATABASE_CONNECTION",
    "METADATA_FIELDS",
    "assign_roles",
    "create_user",
    "delete_user",
    "get_user",
    "list_users",
    "check_search_engine",
    "remove_roles",
    "to_wire",
    "update_user",
    "user_roles",
]

DATABASE_CONNECTION = "Username-Password-Authentication"
METADATA_FIELDS = frozenset({"user_metadata", "app_metadata"})
_PROFILE_LIMITS = {"name": 300, "given_name": 150, "family_name": 150, "nickname": 300, "picture": 2000}
_CREATE_FIELDS = {
    "email",
    "password",
    "connection",
    "email_verified",
    "username",
    "user_id",
    "blocked",
    "phone_number",
    "verify_email",
    "user_metadata",
    "app_metadata",
    *_PROFILE_LIMITS,
}
_UPDATE_FIELDS = {
    "blocked",
    "email_verified",
    "email",
    "phone_number",
    "user_metadata",
    "app_metadata",
    "verify_email",
    "verify_phone_number",
    "password",
    "connection",
    "client_id",
    "username",
    *_PROFILE_LIMITS,
}
# A null for one of these clears it, as Auth0 does; other nulls read as "not given".
_CLEARABLE = (*_PROFILE_LIMITS, "phone_number")
_QUERY = re.compile(r'^\s*(email|user_id)\s*:\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"*?]+))\s*$')


def _missing_user() -> Missing:
    return Missing("The user does not exist.", code="inexistent_user")


def to_wire(user: User) -> dict[str, Any]:
    """Auth0's user object. `name` and `nickname` fall back to the email, as Auth0 fills them at sign-up."""
    local_part = (user.email or "").partition("@")[0] or None
    body: dict[str, Any] = {
        "user_id": user.id,
        "email": user.email,
        "email_verified": user.email_verified,
        "username": user.username,
        "phone_number": user.phone_number,
        "name": user.name or user.email or user.username,
        "nickname": user.nickname or local_part or user.username,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "picture": user.picture,
        "created_at": iso_ms(user.created_at),
        "updated_at": iso_ms(user.updated_at),
        "identities": [
            {
                "connection": DATABASE_CONNECTION,
                "provider": user.id.partition("|")[0] if "|" in user.id else "auth0",
                "user_id": user.identity_id,
                "isSocial": False,
            }
        ],
        "app_metadata": user.app_metadata,
        "user_metadata": user.user_metadata,
        "blocked": user.blocked,
        "logins_count": user.logins_count,
        "last_login": iso_ms(user.last_login) if user.last_login else None,
        "last_ip": user.last_ip,
        "last_password_reset": iso_ms(user.password_changed_at) if user.password_changed_at else None,
    }
    return {key: value for key, value in body.items() if value is not None}


def parse_query(q: str | None) -> tuple[str, str] | None:
    """The subset of Auth0's Lucene user search we answer: `email:"x"`, `email:x`, `user_id:"auth0|…"`."""
    if q is None or not q.strip() or q.strip() == "*":
        return None
    found = _QUERY.match(q)
    if found is None:
        raise Invalid(
            'Only exact matches on email or user_id are supported in q, such as email:"jane@example.com".',
            code="invalid_query_string",
        )
    value = found.group(2) if found.group(2) is not None else found.group(3)
    return found.group(1), re.sub(r"\\(.)", r"\1", value)


def list_users(core: Core, *, page: int, per_page: int, q: str | None = None) -> tuple[list[dict[str, Any]], int]:
    query = parse_query(q)
    with core.db.read() as conn:
        users = UserStore(conn)
        if query is not None and query[0] == "user_id":
            found = users.get(query[1])
            matches = [found] if found else []
            return [to_wire(u) for u in matches[page * per_page : (page + 1) * per_page]], len(matches)
        rows, total = users.page(page=page, per_page=per_page, email=query[1] if query else None)
    return [to_wire(u) for u in rows], total


def get_user(core: Core, user_id: str) -> dict[str, Any]:
    with core.db.read() as conn:
        user = UserStore(conn).get(user_id)
    if user is None:
        raise _missing_user()
    return to_wire(user)


def _profile(body: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, limit in _PROFILE_LIMITS.items():
        value = fields.text(body, name, max_length=limit)
        if value is not None:
            values[name] = value
    phone = fields.text(body, "phone_number", max_length=32)
    if phone is not None:
        try:
            values["phone_number"] = normalize_phone(phone)
        except MethodError as exc:
            raise Invalid(exc.detail) from exc
    for name in METADATA_FIELDS:
        metadata = fields.mapping(body, name)
        if metadata is not None:
            values[name] = metadata
    return values


def _connection(body: Mapping[str, Any], *, required: bool) -> None:
    connection = fields.text(body, "connection", required=required, max_length=128)
    if connection is not None and connection != DATABASE_CONNECTION:
        raise Invalid("The connection does not exist.", code="inexistent_connection")


def _password_policy(core: Core) -> PasswordPolicy:
    with core.db.read() as conn:
        stored = TenantSettingsStore(conn).get("password_policy")
    return PasswordPolicy.from_wire(stored) if stored else PasswordPolicy()


def _checked_password(core: Core, password: str, *, profile: Mapping[str, str | None], user_id: str | None) -> str:
    """The password as it will be hashed (the policy may truncate it), or 400 naming every rule it breaks."""
    policy = _password_policy(core)
    history: list[str] = []
    if user_id is not None and policy.history.active:
        with core.db.read() as conn:
            history = UserStore(conn).password_history(user_id, policy.history.size)
    problems = policy.check(password, profile=profile, history_hashes=history, hashing=core.passwords)
    if problems:
        label = "PasswordHistoryError" if "used recently" in problems[0].detail else "PasswordStrengthError"
        raise Invalid(f"{label}: " + " ".join(p.detail for p in problems))
    return policy.effective(password)


def create_user(core: Core, body: Mapping[str, Any]) -> dict[str, Any]:
    fields.only(body, _CREATE_FIELDS, unsupported=("phone_verified",))
    _connection(body, required=True)
    email = fields.text(body, "email", max_length=320)
    username = fields.text(body, "username", max_length=128)
    user_id = fields.text(body, "user_id", max_length=94)  # stored as `auth0|<id>`, at most 100 characters
    password = fields.text(body, "password", required=True, max_length=1024)
    email_verified = bool(fields.flag(body, "email_verified"))
    blocked = fields.flag(body, "blocked")
    fields.flag(body, "verify_email")  # accepted; this server sends no verification email
    if email is None and username is None:
        raise Invalid("Payload validation error: 'Missing required property: email'.")
    profile = _profile(body)
    admin.check_user(email=email, username=username, user_id=user_id)
    assert password is not None
    effective = _checked_password(
        core,
        password,
        profile={"email": email, "username": username, **{k: profile.get(k) for k in ("name", "nickname")}},
        user_id=None,
    )
    try:
        user = admin.create_user(
            core,
            email=email,
            password=effective,
            user_id=user_id,
            email_verified=email_verified,
            username=username,
            **profile,
        )
    except admin.Conflict as exc:
        # Auth0 reports an existing user as an identity-provider error on the connection.
        raise Exists(str(exc), code="auth0_idp_error") from exc
    if blocked:
        user = admin.set_blocked(core, user.id, True)
    return to_wire(user)


def update_user(core: Core, user_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    fields.only(body, _UPDATE_FIELDS, unsupported=("phone_verified",))
    _connection(body, required=False)
    fields.text(body, "client_id", max_length=64)
    for name in ("verify_email", "verify_phone_number"):
        fields.flag(body, name)  # accepted; this server sends no verification messages
    blocked = fields.flag(body, "blocked")
    changes = _profile(body)
    for name in ("user_metadata", "app_metadata"):
        changes.pop(name, None)
    for name in _CLEARABLE:
        if name in body and body[name] is None:
            changes[name] = None
    email = fields.text(body, "email", max_length=320)
    username = fields.text(body, "username", max_length=128)
    email_verified = fields.flag(body, "email_verified")
    password = fields.text(body, "password", max_length=1024)
    with core.db.read() as conn:
        current = UserStore(conn).get(user_id)
    if current is None:
        raise _missing_user()
    if email is not None and email.strip().lower() != current.email:
        changes["email"] = email
        changes["email_verified"] = False  # a new address is unverified unless the caller says otherwise
    if username is not None:
        changes["username"] = username
    if email_verified is not None:
        changes["email_verified"] = email_verified
    for name in METADATA_FIELDS:
        patch = fields.mapping(body, name)
        if patch is not None:
            # Auth0 merges the top level; a null removes that property.
            merged = {**getattr(current, name), **patch}
            changes[name] = {k: v for k, v in merged.items() if v is not None}
    if password is not None:
        profile = {
            "email": changes.get("email", current.email),
            "username": changes.get("username", current.username),
            "name": changes.get("name", current.name),
            "nickname": changes.get("nickname", current.nickname),
        }
        changes["password"] = _checked_password(core, password, profile=profile, user_id=user_id)
    try:
        user = admin.update_user(core, user_id, changes) if changes else current
        if blocked is not None and blocked != current.blocked:
            user = admin.set_blocked(core, user_id, blocked)
    except admin.NotFound as exc:
        raise _missing_user() from exc
    return to_wire(user)


def delete_user(core: Core, user_id: str) -> None:
    try:
        admin.delete_user(core, user_id)
    except admin.NotFound as exc:
        raise _missing_user() from exc


def user_roles(core: Core, user_id: str, *, page: int, per_page: int) -> tuple[list[dict[str, Any]], int]:
    with core.db.read() as conn:
        if UserStore(conn).get(user_id) is None:
            raise _missing_user()
        store = RoleStore(conn)
        roles = [r for r in (store.get(i) for i in UserStore(conn).role_ids(user_id)) if r is not None]
    roles.sort(key=lambda r: r.name)
    return [roles_wire(r) for r in roles[page * per_page : (page + 1) * per_page]], len(roles)


def _role_ids(body: Mapping[str, Any]) -> list[str]:
    fields.only(body, {"roles"})
    ids = fields.texts(body, "roles", required=True, max_items=50)
    assert ids is not None
    if not ids:
        raise Invalid("Payload validation error: 'Array is too short (0), minimum 1' on property roles.")
    return ids


def assign_roles(core: Core, user_id: str, body: Mapping[str, Any]) -> None:
    ids = _role_ids(body)
    try:
        admin.assign_roles(core, user_id, ids)
    except admin.NotFound as exc:
        if "user" in str(exc):
            raise _missing_user() from exc
        raise Missing(str(exc), code="inexistent_role") from exc


def remove_roles(core: Core, user_id: str, body: Mapping[str, Any]) -> None:
    try:
        admin.remove_roles(core, user_id, _role_ids(body))
    except admin.NotFound as exc:
        raise _missing_user() from exc


def check_search_engine(value: str | None) -> None:
    """`search_engine=v3` (and v2) name the Lucene search; v1 was retired by Auth0 and is refused here too."""
    if value is not None and value not in ("v2", "v3"):
        raise Unsupported("search_engine must be v3.")
