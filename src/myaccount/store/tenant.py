"""Tenant settings that change at run time (enabled factors, Default Policy, password policy): a key/value table."""

from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from myaccount.store.raw import Connectable, RawStatement, sqlalchemy_connection
from myaccount.store.schema import tenant_settings

__all__ = ["TenantSettingsStore"]

# Read on every enrollment (enabled factors) and sign-in (policies): built once, run on the cursor.
_GET = RawStatement(select(tenant_settings.c.value).where(tenant_settings.c.key == bindparam("key")))


class TenantSettingsStore:
    def __init__(self, conn: Connectable) -> None:
        self._conn = conn

    @property
    def _sa(self) -> Connection:
        return sqlalchemy_connection(self._conn)

    def get(self, key: str, default: Any = None) -> Any:
        rows = _GET.rows(self._conn, {"key": key})
        value = rows[0]["value"] if rows else None
        return default if value is None else value

    def all(self) -> dict[str, Any]:
        return {k: v for k, v in self._sa.execute(select(tenant_settings.c.key, tenant_settings.c.value))}

    def set(self, key: str, value: Any) -> None:
        query = select(tenant_settings.c.key).where(tenant_settings.c.key == key)
        if self._sa.execute(query).first() is None:
            self._sa.execute(insert(tenant_settings).values(key=key, value=value))
        else:
            self._sa.execute(update(tenant_settings).where(tenant_settings.c.key == key).values(value=value))
