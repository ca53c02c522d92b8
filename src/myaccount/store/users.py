"""Users, their identities, RBAC assignments and password history."""

import functools
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, update

from myaccount.store.raw import Connectable, RawStatement, sqlalchemy_connection
from myaccount.store.schema import identities, password_history, role_permissions, user_permissions, user_roles, users
from myaccount.timefmt import as_utc

__all__ = ["User", "UserStore"]

PROFILE_FIELDS = ("name", "given_name", "family_name", "nickname", "picture", "phone_number")


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str | None
    email_verified: bool
    username: str | None
    name: str | None
    given_name: str | None
    family_name: str | None
    nickname: str | None
    picture: str | None
    phone_number: str | None
    password_hash: str | None
    password_changed_at: datetime | None
    blocked: bool
    webauthn_user_handle: str | None
    created_at: datetime
    updated_at: datetime
    last_login: datetime | None
    logins_count: int
    last_ip: str | None
    user_metadata: dict[str, Any] = field(default_factory=dict)
    app_metadata: dict[str, Any] = field(default_factory=dict)
    passkey_prompt_dismissed_at: datetime | None = None

    @property
    def identity_id(self) -> str:
        """The part after the provider prefix: `auth0|abc` → `abc` (Auth0's `identities[].user_id`)."""
        return self.id.split("|", 1)[1] if "|" in self.id else self.id


def _user(row: Mapping[Any, Any]) -> User:
    data = dict(row)
    for key in ("created_at", "updated_at", "last_login", "password_changed_at", "passkey_prompt_dismissed_at"):
        if data[key] is not None:
            data[key] = as_utc(data[key])
    data["user_metadata"] = data["user_metadata"] or {}
    data["app_metadata"] = data["app_metadata"] or {}
    return User(**data)


# Built once: the hot lookups skip statement construction and cache-key work on every request.
_BY_ID = RawStatement(select(users).where(users.c.id == bindparam("user_id")))


@functools.cache
def _update(columns: tuple[str, ...]) -> RawStatement:
    """One prebuilt UPDATE per set of columns changed (it runs inside `raw_write()` transactions too)."""
    unknown = set(columns) - set(users.c.keys())
    if unknown:
        raise ValueError(f"users has no column {sorted(unknown)[0]!r}")
    return RawStatement(
        update(users).where(users.c.id == bindparam("w_id")).values({name: bindparam(name) for name in columns})
    )


def normalize_email(email: str | None) -> str | None:
    return email.strip().lower() if email else None


class UserStore:
    def __init__(self, conn: Connectable) -> None:
        self._conn = conn

    @property
    def _sa(self) -> Connection:
        return sqlalchemy_connection(self._conn)

    def get(self, user_id: str) -> User | None:
        rows = _BY_ID.rows(self._conn, {"user_id": user_id})
        return _user(rows[0]) if rows else None

    def by_email(self, email: str) -> User | None:
        row = self._sa.execute(select(users).where(users.c.email == normalize_email(email))).mappings().first()
        return _user(row) if row else None

    def by_login(self, identifier: str) -> User | None:
        """Find by email or username, as a database connection's login form does."""
        ident = identifier.strip()
        query = select(users).where(or_(users.c.email == ident.lower(), users.c.username == ident))
        row = self._sa.execute(query).mappings().first()
        return _user(row) if row else None

    def by_webauthn_handle(self, handle: str) -> User | None:
        row = self._sa.execute(select(users).where(users.c.webauthn_user_handle == handle)).mappings().first()
        return _user(row) if row else None

    def create(
        self,
        *,
        user_id: str,
        now: datetime,
        email: str | None,
        password_hash: str | None,
        email_verified: bool = False,
        connection: str = "Username-Password-Authentication",
        webauthn_user_handle: str | None = None,
        **profile: Any,
    ) -> User:
        values = {key: profile.get(key) for key in PROFILE_FIELDS}
        self._sa.execute(
            insert(users).values(
                id=user_id,
                email=normalize_email(email),
                username=profile.get("username"),
                email_verified=email_verified,
                password_hash=password_hash,
                password_changed_at=now if password_hash else None,
                blocked=False,
                webauthn_user_handle=webauthn_user_handle or secrets.token_urlsafe(32),
                user_metadata=profile.get("user_metadata") or {},
                app_metadata=profile.get("app_metadata") or {},
                created_at=now,
                updated_at=now,
                logins_count=0,
                **values,
            )
        )
        provider, _, identity_id = user_id.partition("|")
        self._sa.execute(
            insert(identities).values(
                user_id=user_id, connection=connection, provider=provider, identity_id=identity_id, is_social=False
            )
        )
        if password_hash:
            self.add_password_history(user_id, password_hash, now=now)
        user = self.get(user_id)
        assert user is not None
        return user

    def update(self, user_id: str, *, now: datetime, **values: Any) -> None:
        if "email" in values:
            values["email"] = normalize_email(values["email"])
        _update(tuple(sorted(values)) + ("updated_at",)).execute(
            self._conn, {"w_id": user_id, **values, "updated_at": now}
        )

    def set_password(self, user_id: str, password_hash: str, *, now: datetime) -> None:
        self._sa.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(password_hash=password_hash, password_changed_at=now, updated_at=now)
        )
        self.add_password_history(user_id, password_hash, now=now)

    def add_password_history(self, user_id: str, password_hash: str, *, now: datetime) -> None:
        self._sa.execute(insert(password_history).values(user_id=user_id, password_hash=password_hash, created_at=now))

    def password_history(self, user_id: str, size: int) -> list[str]:
        query = (
            select(password_history.c.password_hash)
            .where(password_history.c.user_id == user_id)
            .order_by(password_history.c.id.desc())
            .limit(size)
        )
        return list(self._sa.execute(query).scalars())

    def record_login(self, user_id: str, *, now: datetime, ip: str | None) -> None:
        self._sa.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(last_login=now, last_ip=ip, logins_count=users.c.logins_count + 1)
        )

    def delete(self, user_id: str) -> bool:
        return self._sa.execute(delete(users).where(users.c.id == user_id)).rowcount > 0

    def page(self, *, page: int, per_page: int, email: str | None = None) -> tuple[list[User], int]:
        query = select(users)
        count = select(func.count()).select_from(users)
        if email:
            query = query.where(users.c.email == normalize_email(email))
            count = count.where(users.c.email == normalize_email(email))
        rows = self._sa.execute(query.order_by(users.c.created_at, users.c.id).offset(page * per_page).limit(per_page))
        return [_user(r) for r in rows.mappings()], int(self._sa.execute(count).scalar_one())

    def permissions(self, user_id: str, audience: str) -> set[str]:
        """RBAC: permissions on one API, directly assigned or through roles."""
        direct = select(user_permissions.c.permission_name).where(
            user_permissions.c.user_id == user_id, user_permissions.c.resource_server_identifier == audience
        )
        via_roles = (
            select(role_permissions.c.permission_name)
            .join(user_roles, user_roles.c.role_id == role_permissions.c.role_id)
            .where(user_roles.c.user_id == user_id, role_permissions.c.resource_server_identifier == audience)
        )
        return set(self._sa.execute(direct.union(via_roles)).scalars())

    def assign_roles(self, user_id: str, role_ids: Sequence[str]) -> None:
        existing = set(self._sa.execute(select(user_roles.c.role_id).where(user_roles.c.user_id == user_id)).scalars())
        for role_id in role_ids:
            if role_id not in existing:
                self._sa.execute(insert(user_roles).values(user_id=user_id, role_id=role_id))

    def remove_roles(self, user_id: str, role_ids: Sequence[str]) -> None:
        self._sa.execute(delete(user_roles).where(user_roles.c.user_id == user_id, user_roles.c.role_id.in_(role_ids)))

    def role_ids(self, user_id: str) -> list[str]:
        return list(self._sa.execute(select(user_roles.c.role_id).where(user_roles.c.user_id == user_id)).scalars())
