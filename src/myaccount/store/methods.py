"""Authentication methods: one table for every type, typed JSON for the per-type fields (allauth's shape)."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from myaccount.store.schema import authentication_methods
from myaccount.timefmt import as_utc

__all__ = ["MethodRecord", "MethodStore"]


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


# Built once: listing a user's methods is the API's hottest query.
_FOR_USER = (
    select(authentication_methods)
    .where(authentication_methods.c.user_id == bindparam("user_id"))
    .order_by(authentication_methods.c.created_at, authentication_methods.c.id)
)
_FOR_USER_AND_TYPE = _FOR_USER.where(authentication_methods.c.type == bindparam("type"))


class MethodStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def list(self, user_id: str, *, type_: str | None = None) -> list[MethodRecord]:
        if type_ is None:
            rows = self._conn.execute(_FOR_USER, {"user_id": user_id})
        else:
            rows = self._conn.execute(_FOR_USER_AND_TYPE, {"user_id": user_id, "type": type_})
        return [_record(r) for r in rows.mappings()]

    def get(self, user_id: str, method_id: str) -> MethodRecord | None:
        query = select(authentication_methods).where(
            authentication_methods.c.user_id == user_id, authentication_methods.c.id == method_id
        )
        row = self._conn.execute(query).mappings().first()
        return _record(row) if row else None

    def by_credential_id(self, credential_id: str) -> MethodRecord | None:
        query = select(authentication_methods).where(authentication_methods.c.credential_id == credential_id)
        row = self._conn.execute(query).mappings().first()
        return _record(row) if row else None

    def count(self, user_id: str, *, type_: str, confirmed: bool | None = None) -> int:
        query = select(func.count()).where(
            authentication_methods.c.user_id == user_id, authentication_methods.c.type == type_
        )
        if confirmed is not None:
            query = query.where(authentication_methods.c.confirmed == confirmed)
        return int(self._conn.execute(query).scalar_one())

    def add(self, record: MethodRecord) -> None:
        values = {f: getattr(record, f) for f in MethodRecord.__dataclass_fields__}
        self._conn.execute(insert(authentication_methods).values(**values))

    def update(self, user_id: str, method_id: str, **values: Any) -> bool:
        result = self._conn.execute(
            update(authentication_methods)
            .where(authentication_methods.c.user_id == user_id, authentication_methods.c.id == method_id)
            .values(**values)
        )
        return result.rowcount == 1

    def delete(self, user_id: str, method_id: str) -> bool:
        result = self._conn.execute(
            delete(authentication_methods).where(
                authentication_methods.c.user_id == user_id, authentication_methods.c.id == method_id
            )
        )
        return result.rowcount == 1

    def delete_unconfirmed(self, user_id: str, type_: str) -> None:
        self._conn.execute(
            delete(authentication_methods).where(
                authentication_methods.c.user_id == user_id,
                authentication_methods.c.type == type_,
                authentication_methods.c.confirmed.is_(False),
            )
        )
