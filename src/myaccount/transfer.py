"""`myaccount export` / `import`: a tenant as one JSON document, for backups and for moving between SQLite and
PostgreSQL.

What travels: users (with password hashes and history), identities, roles and permissions, authentication
methods, clients, APIs, client grants, consents, tenant settings, signing keys, and the tables of later features
(connected accounts, …) — every table except short-lived state (sessions, codes, refresh tokens, ceremonies,
push challenges) and audit events. Users sign in again after an import.

Secrets stay sealed: the document is encrypted where the store is, and opening it needs the same
`MYACCOUNT_SECRET_KEY`. The export carries a sealed check value, so an import with the wrong key stops before it
writes anything.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Table, delete, func, insert, select

from myaccount.core import Core
from myaccount.crypto.sealing import SealError
from myaccount.store.schema import metadata
from myaccount.timefmt import as_utc

__all__ = ["EPHEMERAL", "TransferError", "export_tenant", "import_tenant"]

FORMAT = "myaccount-tenant-export"
VERSION = 1
EPHEMERAL = frozenset(
    {
        "login_sessions",
        "login_transactions",
        "authorization_codes",
        "refresh_tokens",
        "revoked_access_tokens",
        "auth_sessions",
        "push_challenges",
        "push_device_jtis",
        "audit_events",
        "alembic_version",
    }
)
# Rows a fresh store already has (the system APIs, signing keys, the account page client, tenant settings):
# the import replaces them with the exported ones.
_REPLACED = ("client_grants", "resource_servers", "signing_keys", "tenant_settings", "clients")
_CHECK = b"myaccount export check"


class TransferError(Exception):
    pass


def _tables() -> list[Table]:
    return [t for t in metadata.sorted_tables if t.name not in EPHEMERAL]


def _encode(value: Any) -> Any:
    return as_utc(value).isoformat() if isinstance(value, datetime) else value


def export_tenant(core: Core) -> dict[str, Any]:
    tables: dict[str, list[dict[str, Any]]] = {}
    with core.db.read() as conn:
        for table in _tables():
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).mappings()
            tables[table.name] = [{k: _encode(v) for k, v in row.items()} for row in rows]
    return {
        "format": FORMAT,
        "version": VERSION,
        "origin": core.settings.origin,
        "exported_at": core.clock.now().isoformat(),
        "key_check": core.sealer.seal(_CHECK, purpose="export-check"),
        "tables": tables,
    }


def _decode(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in table.columns:
        if column.name not in row:
            continue
        value = row[column.name]
        if isinstance(column.type, DateTime) and isinstance(value, str):
            value = datetime.fromisoformat(value)
        out[column.name] = value
    unknown = set(row) - {c.name for c in table.columns}
    if unknown:
        raise TransferError(f"{table.name}: unknown columns {', '.join(sorted(unknown))} (newer export format?)")
    return out


def import_tenant(core: Core, document: dict[str, Any]) -> dict[str, int]:
    """Load an export into a store that has no users yet. All or nothing: one transaction."""
    if document.get("format") != FORMAT or document.get("version") != VERSION:
        raise TransferError("not a MyAccount tenant export (or a version this release cannot read)")
    try:
        core.sealer.open(str(document.get("key_check", "")), purpose="export-check")
    except SealError as exc:
        raise TransferError("this export was sealed with another secret key: set MYACCOUNT_SECRET_KEY to it") from exc
    tables: dict[str, list[dict[str, Any]]] = document.get("tables") or {}
    known = {t.name: t for t in _tables()}
    extra = set(tables) - set(known)
    if extra:
        raise TransferError(f"unknown tables in the export: {', '.join(sorted(extra))}")
    counts: dict[str, int] = {}
    with core.db.write() as conn:
        users = known["users"]
        if conn.execute(select(func.count()).select_from(users)).scalar_one():
            raise TransferError("the target store already has users: import into a fresh database")
        for name in _REPLACED:
            conn.execute(delete(known[name]))
        for table in _tables():
            rows = [_decode(table, row) for row in tables.get(table.name, [])]
            if rows:
                conn.execute(insert(table), rows)
            counts[table.name] = len(rows)
    core.keyring.load()
    core.invalidate_apis()
    return counts
