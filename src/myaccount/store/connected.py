"""Connections (upstream OAuth 2.0 / OIDC providers), connected accounts (the Token Vault) and the connect
requests between them: the tables (on the shared `metadata`) and one store class per table.

`store/schema.py` imports this module at its end, so Alembic and `metadata.sorted_tables` see these tables.
Secrets never arrive here in clear: a connection's client secret, the vault's upstream tokens and a connect
request's state are sealed (AES-GCM) by the caller; tickets, codes and session handles are keyed hashes.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    insert,
    or_,
    select,
    update,
)

from myaccount.store.schema import metadata
from myaccount.timefmt import utc_fields

__all__ = [
    "ConnectRequest",
    "ConnectRequestStore",
    "ConnectedAccount",
    "ConnectedAccountStore",
    "ConnectionRecord",
    "ConnectionStore",
    "connect_requests",
    "connected_accounts",
    "connections",
]


def _ts(name: str, nullable: bool = True) -> Column[datetime]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


connections = Table(
    "connections",
    metadata,
    Column("id", String(32), primary_key=True),  # con_<16 alnum>, as Auth0's
    Column("name", String(128), nullable=False, unique=True),
    Column("display_name", String(300)),
    Column("strategy", String(32), nullable=False),  # oauth2 | oidc
    Column("options", JSON, nullable=False),  # endpoints, client_id, scopes, pkce: nothing secret
    Column("client_secret", Text),  # sealed
    Column("connected_accounts_active", Boolean, nullable=False, default=True),
    Column("enabled_clients", JSON),  # null: every application may use the connection
    Column("connection_metadata", JSON, nullable=False, default=dict),
    _ts("created_at", False),
    _ts("updated_at", False),
)

connected_accounts = Table(
    "connected_accounts",
    metadata,
    Column("id", String(64), primary_key=True),  # cac_<alnum>
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("connection_id", ForeignKey("connections.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("upstream_user_id", String(255)),  # the provider's `sub`, when it has a userinfo endpoint
    Column("scopes", JSON, nullable=False),
    Column("access_token", Text),  # sealed
    _ts("access_token_expires_at"),
    Column("refresh_token", Text),  # sealed
    _ts("refresh_token_expires_at"),
    # One node refreshes an expired token at a time; the others wait for its result (see `claim_refresh`).
    _ts("refresh_lease_until"),
    _ts("created_at", False),
    _ts("updated_at", False),
    UniqueConstraint("user_id", "connection_id", name="uq_connected_accounts_user_connection"),
)

connect_requests = Table(
    "connect_requests",
    metadata,
    Column("id", String(128), primary_key=True),  # keyed hash of the auth_session
    Column("ticket_hash", String(128), nullable=False, unique=True),
    Column("binding_hash", String(128), unique=True),  # the browser cookie of the upstream leg
    Column("code_hash", String(128), unique=True),  # the connect_code, once the provider answered
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("client_id", String(64), nullable=False),
    Column("connection_id", ForeignKey("connections.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("status", String(16), nullable=False),  # pending | redirected | returned | completed | failed
    Column("state", Text, nullable=False),  # sealed JSON
    _ts("created_at", False),
    _ts("expires_at", False),  # the deadline of the current step
    Index("ix_connect_requests_expires_at", "expires_at"),
)


@dataclass(frozen=True, slots=True)
class ConnectionRecord:
    id: str
    name: str
    display_name: str | None
    strategy: str
    options: dict[str, Any]
    client_secret: str | None  # sealed
    connected_accounts_active: bool
    enabled_clients: list[str] | None
    connection_metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    def enabled_for(self, client_id: str) -> bool:
        return self.enabled_clients is None or client_id in self.enabled_clients


@dataclass(frozen=True, slots=True)
class ConnectedAccount:
    id: str
    user_id: str
    connection_id: str
    connection: str  # the connection's name (joined)
    upstream_user_id: str | None
    scopes: list[str]
    access_token: str | None  # sealed
    access_token_expires_at: datetime | None
    refresh_token: str | None  # sealed
    refresh_token_expires_at: datetime | None
    refresh_lease_until: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    id: str
    ticket_hash: str
    user_id: str
    client_id: str
    connection_id: str
    status: str
    state: str  # sealed
    created_at: datetime
    expires_at: datetime
    binding_hash: str | None = None
    code_hash: str | None = None


class ConnectionStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, record: ConnectionRecord) -> None:
        values = {f: getattr(record, f) for f in ConnectionRecord.__dataclass_fields__}
        self._conn.execute(insert(connections).values(**values))

    def get(self, connection_id: str) -> ConnectionRecord | None:
        row = self._conn.execute(select(connections).where(connections.c.id == connection_id)).mappings().first()
        return ConnectionRecord(**utc_fields(row, "created_at", "updated_at")) if row else None

    def by_name(self, name: str) -> ConnectionRecord | None:
        row = self._conn.execute(select(connections).where(connections.c.name == name)).mappings().first()
        return ConnectionRecord(**utc_fields(row, "created_at", "updated_at")) if row else None

    def find(
        self,
        *,
        after: str | None = None,
        limit: int | None = None,
        strategies: Sequence[str] = (),
        name: str | None = None,
        active_only: bool = False,
    ) -> list[ConnectionRecord]:
        """Ordered by id; `after` is a keyset cursor (the last id of the previous page)."""
        query = select(connections).order_by(connections.c.id)
        if after:
            query = query.where(connections.c.id > after)
        if strategies:
            query = query.where(connections.c.strategy.in_(list(strategies)))
        if name is not None:
            query = query.where(connections.c.name == name)
        if active_only:
            query = query.where(connections.c.connected_accounts_active.is_(True))
        if limit is not None:
            query = query.limit(limit)
        rows = self._conn.execute(query).mappings()
        return [ConnectionRecord(**utc_fields(row, "created_at", "updated_at")) for row in rows]

    def update(self, connection_id: str, **values: Any) -> None:
        self._conn.execute(update(connections).where(connections.c.id == connection_id).values(**values))

    def delete(self, connection_id: str) -> bool:
        result = self._conn.execute(delete(connections).where(connections.c.id == connection_id))
        return result.rowcount == 1


_ACCOUNT_TIMES = (
    "access_token_expires_at",
    "refresh_token_expires_at",
    "refresh_lease_until",
    "created_at",
    "updated_at",
)


class ConnectedAccountStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def _select(self) -> Any:
        return select(connected_accounts, connections.c.name.label("connection")).join(
            connections, connections.c.id == connected_accounts.c.connection_id
        )

    def _one(self, query: Any) -> ConnectedAccount | None:
        row = self._conn.execute(query).mappings().first()
        return ConnectedAccount(**utc_fields(row, *_ACCOUNT_TIMES)) if row else None

    def get(self, user_id: str, account_id: str) -> ConnectedAccount | None:
        return self._one(
            self._select().where(connected_accounts.c.id == account_id, connected_accounts.c.user_id == user_id)
        )

    def by_id(self, account_id: str) -> ConnectedAccount | None:
        return self._one(self._select().where(connected_accounts.c.id == account_id))

    def for_connection(self, user_id: str, connection_id: str) -> ConnectedAccount | None:
        return self._one(
            self._select().where(
                connected_accounts.c.user_id == user_id, connected_accounts.c.connection_id == connection_id
            )
        )

    def find(
        self,
        user_id: str | None,
        *,
        connection_names: Sequence[str] = (),
        connection_id: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[ConnectedAccount]:
        query = self._select().order_by(connected_accounts.c.id)
        if user_id is not None:
            query = query.where(connected_accounts.c.user_id == user_id)
        if connection_names:
            query = query.where(connections.c.name.in_(list(connection_names)))
        if connection_id is not None:
            query = query.where(connected_accounts.c.connection_id == connection_id)
        if after:
            query = query.where(connected_accounts.c.id > after)
        if limit is not None:
            query = query.limit(limit)
        return [ConnectedAccount(**utc_fields(row, *_ACCOUNT_TIMES)) for row in self._conn.execute(query).mappings()]

    def add(self, values: Mapping[str, Any]) -> None:
        self._conn.execute(insert(connected_accounts).values(**values))

    def update(self, account_id: str, **values: Any) -> None:
        self._conn.execute(update(connected_accounts).where(connected_accounts.c.id == account_id).values(**values))

    def delete(self, user_id: str, account_id: str) -> bool:
        result = self._conn.execute(
            delete(connected_accounts).where(
                connected_accounts.c.id == account_id, connected_accounts.c.user_id == user_id
            )
        )
        return result.rowcount == 1

    def claim_refresh(self, account_id: str, *, now: datetime, until: datetime) -> bool:
        """Take the refresh lease: a conditional UPDATE, so of concurrent refreshes exactly one goes upstream.

        Providers that rotate refresh tokens treat a second use of the old one as theft and revoke the grant,
        so two nodes refreshing at once would lose the account.
        """
        result = self._conn.execute(
            update(connected_accounts)
            .where(
                connected_accounts.c.id == account_id,
                or_(
                    connected_accounts.c.refresh_lease_until.is_(None),
                    connected_accounts.c.refresh_lease_until <= now,
                ),
            )
            .values(refresh_lease_until=until)
        )
        return result.rowcount == 1

    def sealed_rows(self) -> list[tuple[str, str | None, str | None]]:
        """(id, access_token, refresh_token) of every account, for re-sealing under a new key."""
        query = select(connected_accounts.c.id, connected_accounts.c.access_token, connected_accounts.c.refresh_token)
        return [(row.id, row.access_token, row.refresh_token) for row in self._conn.execute(query)]


_REQUEST_FIELDS = (
    "id",
    "ticket_hash",
    "user_id",
    "client_id",
    "connection_id",
    "status",
    "state",
    "created_at",
    "expires_at",
    "binding_hash",
    "code_hash",
)


def _request(row: Mapping[Any, Any]) -> ConnectRequest:
    data = utc_fields(row, "created_at", "expires_at")
    return ConnectRequest(**{name: data[name] for name in _REQUEST_FIELDS})


class ConnectRequestStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, request: ConnectRequest) -> None:
        self._conn.execute(
            insert(connect_requests).values(**{name: getattr(request, name) for name in _REQUEST_FIELDS})
        )

    def _by(self, column: Any, value: str) -> ConnectRequest | None:
        row = self._conn.execute(select(connect_requests).where(column == value)).mappings().first()
        return _request(row) if row else None

    def get(self, request_id: str) -> ConnectRequest | None:
        return self._by(connect_requests.c.id, request_id)

    def by_ticket(self, ticket_hash: str) -> ConnectRequest | None:
        return self._by(connect_requests.c.ticket_hash, ticket_hash)

    def by_binding(self, binding_hash: str) -> ConnectRequest | None:
        return self._by(connect_requests.c.binding_hash, binding_hash)

    def advance(self, request_id: str, *, from_status: str, to_status: str, **values: Any) -> bool:
        """Move one step on, only from the expected step: concurrent attempts see rowcount 0 but one."""
        result = self._conn.execute(
            update(connect_requests)
            .where(connect_requests.c.id == request_id, connect_requests.c.status == from_status)
            .values(status=to_status, **values)
        )
        return result.rowcount == 1

    def sealed_rows(self) -> list[tuple[str, str]]:
        query = select(connect_requests.c.id, connect_requests.c.state)
        return [(row.id, row.state) for row in self._conn.execute(query)]

    def update(self, request_id: str, **values: Any) -> None:
        self._conn.execute(update(connect_requests).where(connect_requests.c.id == request_id).values(**values))

    def purge(self, *, before: datetime) -> int:
        return int(self._conn.execute(delete(connect_requests).where(connect_requests.c.expires_at < before)).rowcount)
