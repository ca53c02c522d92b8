"""Authentication methods: one table for every type, typed JSON for the per-type fields (allauth's shape)."""

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Text, bindparam, cast, delete, func, insert, select, update
from sqlalchemy.engine import Dialect

from myaccount.store.raw import Connectable, RawStatement
from myaccount.store.schema import authentication_methods, users
from myaccount.timefmt import as_utc

__all__ = [
    "LISTING_ID",
    "LISTING_TYPE",
    "MethodRecord",
    "MethodStore",
    "Owner",
    "listing_owner",
    "listing_record",
    "listing_rows",
]


@dataclass(frozen=True, slots=True)
class MethodRecord:
    id: str
    user_id: str
    type: str
    name: str | None
    confirmed: bool
    created_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    secret: str | None = None  # sealed
    credential_id: str | None = None
    last_auth_at: datetime | None = None


def _record(row: Mapping[Any, Any]) -> MethodRecord:
    values = dict(row)
    values["created_at"] = as_utc(values["created_at"])
    if values["last_auth_at"] is not None:
        values["last_auth_at"] = as_utc(values["last_auth_at"])
    values["data"] = values["data"] or {}
    return MethodRecord(**values)


# Built once and run on the DB-API cursor (store/raw.py): these run on every My Account request.
_m = authentication_methods.c
_FOR_USER = select(authentication_methods).where(_m.user_id == bindparam("user_id")).order_by(_m.created_at, _m.id)
_LIST = RawStatement(_FOR_USER)
_LIST_TYPE = RawStatement(_FOR_USER.where(_m.type == bindparam("type")))
_GET = RawStatement(select(authentication_methods).where(_m.user_id == bindparam("user_id"), _m.id == bindparam("id")))
_COUNT = RawStatement(select(func.count()).where(_m.user_id == bindparam("user_id"), _m.type == bindparam("type")))
_COUNT_CONFIRMED = RawStatement(
    select(func.count()).where(
        _m.user_id == bindparam("user_id"), _m.type == bindparam("type"), _m.confirmed == bindparam("confirmed")
    )
)
_ADD = RawStatement(
    insert(authentication_methods).values({name: bindparam(name) for name in MethodRecord.__dataclass_fields__})
)
_CREDENTIALS = RawStatement(
    select(_m.credential_id, _m.data)
    .where(_m.user_id == bindparam("user_id"), _m.type == bindparam("type"), _m.credential_id.is_not(None))
    .order_by(_m.created_at, _m.id)
)
_BY_CREDENTIAL = RawStatement(select(authentication_methods).where(_m.credential_id == bindparam("credential_id")))
_DELETE = RawStatement(
    delete(authentication_methods).where(_m.user_id == bindparam("user_id"), _m.id == bindparam("id"))
)
_DELETE_UNCONFIRMED = RawStatement(
    delete(authentication_methods).where(
        _m.user_id == bindparam("user_id"), _m.type == bindparam("type"), _m.confirmed.is_(False)
    )
)


# A user's methods and what the password method needs from the user row, in one query (one round trip). `data`
# comes back as its JSON text on both databases, so that a raw row is hashable: the My Account list keeps what it
# rendered of a row keyed by the row itself (my_account/listing.py).
_LISTING = RawStatement(
    select(
        users.c.password_hash.is_not(None).label("owner_has_password"),
        users.c.password_changed_at.label("owner_password_changed_at"),
        users.c.created_at.label("owner_created_at"),
        *(cast(c, Text).label(c.name) if c is _m.data else c for c in authentication_methods.c),
    )
    .select_from(users.outerjoin(authentication_methods, _m.user_id == users.c.id))
    .where(users.c.id == bindparam("user_id"))
    .order_by(_m.created_at, _m.id)
)
_OWNER_COLUMNS = 3
LISTING_ID = _OWNER_COLUMNS + list(authentication_methods.c.keys()).index("id")
LISTING_TYPE = _OWNER_COLUMNS + list(authentication_methods.c.keys()).index("type")


@dataclass(frozen=True, slots=True)
class Owner:
    """The user a list of methods belongs to, as far as the password method needs it."""

    user_id: str
    has_password: bool
    password_changed_at: datetime | None
    created_at: datetime


@functools.cache
def _update(columns: tuple[str, ...]) -> RawStatement:
    """One prebuilt UPDATE per set of columns changed."""
    return RawStatement(
        update(authentication_methods)
        .where(_m.user_id == bindparam("w_user_id"), _m.id == bindparam("w_id"))
        .values({name: bindparam(name) for name in columns})
    )


class MethodStore:
    def __init__(self, conn: Connectable) -> None:
        self._conn = conn

    def list_with_owner(self, user_id: str) -> tuple[Owner | None, list[MethodRecord]]:
        """The user's methods and their owner, or (None, []) when there is no such user."""
        rows = listing_rows(self._conn, user_id)
        if not rows:
            return None, []
        dialect = self._conn.dialect
        owner = listing_owner(dialect, user_id, rows[0])
        return owner, [listing_record(dialect, row) for row in rows if row[LISTING_ID] is not None]

    def list(self, user_id: str, *, type_: str | None = None) -> list[MethodRecord]:
        if type_ is None:
            rows = _LIST.rows(self._conn, {"user_id": user_id})
        else:
            rows = _LIST_TYPE.rows(self._conn, {"user_id": user_id, "type": type_})
        return [_record(r) for r in rows]

    def credentials(self, user_id: str, type_: str) -> Sequence[tuple[str, Sequence[str]]]:
        """The credential ids of the user's methods of a type, with their transports (for excludeCredentials):
        `list()` without decoding everything else."""
        rows = _CREDENTIALS.rows(self._conn, {"user_id": user_id, "type": type_})
        return [(row["credential_id"], tuple((row["data"] or {}).get("transports") or ())) for row in rows]

    def get(self, user_id: str, method_id: str) -> MethodRecord | None:
        rows = _GET.rows(self._conn, {"user_id": user_id, "id": method_id})
        return _record(rows[0]) if rows else None

    def by_credential_id(self, credential_id: str) -> MethodRecord | None:
        rows = _BY_CREDENTIAL.rows(self._conn, {"credential_id": credential_id})
        return _record(rows[0]) if rows else None

    def count(self, user_id: str, *, type_: str, confirmed: bool | None = None) -> int:
        params: dict[str, Any] = {"user_id": user_id, "type": type_}
        if confirmed is None:
            rows = _COUNT.rows(self._conn, params)
        else:
            rows = _COUNT_CONFIRMED.rows(self._conn, params | {"confirmed": confirmed})
        return int(next(iter(rows[0].values())))

    def add(self, record: MethodRecord) -> None:
        _ADD.execute(self._conn, {f: getattr(record, f) for f in MethodRecord.__dataclass_fields__})

    def update(self, user_id: str, method_id: str, **values: Any) -> bool:
        if not values:
            return self.get(user_id, method_id) is not None
        statement = _update(tuple(sorted(values)))
        return statement.execute(self._conn, {"w_user_id": user_id, "w_id": method_id, **values}) == 1

    def delete(self, user_id: str, method_id: str) -> bool:
        return _DELETE.execute(self._conn, {"user_id": user_id, "id": method_id}) == 1

    def delete_unconfirmed(self, user_id: str, type_: str) -> None:
        _DELETE_UNCONFIRMED.execute(self._conn, {"user_id": user_id, "type": type_})


def listing_rows(conn: Connectable, user_id: str) -> list[tuple[Any, ...]]:
    """The user's methods, oldest first, each row with its owner's password fields in front; raw (as the driver
    returns them). No row: there is no such user. A user without methods: one row whose `LISTING_ID` is None."""
    return _LISTING.tuples(conn, {"user_id": user_id})


def listing_owner(dialect: Dialect, user_id: str, row: tuple[Any, ...]) -> Owner:
    values = _LISTING.decode(dialect, row)
    changed = values["owner_password_changed_at"]
    return Owner(
        user_id=user_id,
        has_password=bool(values["owner_has_password"]),
        password_changed_at=as_utc(changed) if changed is not None else None,
        created_at=as_utc(values["owner_created_at"]),
    )


def listing_record(dialect: Dialect, row: tuple[Any, ...]) -> MethodRecord:
    values = _LISTING.decode(dialect, row)
    del values["owner_has_password"], values["owner_password_changed_at"], values["owner_created_at"]
    values["data"] = orjson.loads(values["data"]) if values["data"] is not None else None
    return _record(values)
