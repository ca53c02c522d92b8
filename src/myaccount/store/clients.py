"""Applications (clients), APIs (resource servers), client grants and consents."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from myaccount.store.schema import client_grants, clients, consents, resource_servers
from myaccount.timefmt import as_utc

__all__ = ["Client", "ClientGrant", "ClientStore", "ResourceServer"]


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    name: str
    app_type: str
    token_endpoint_auth_method: str
    grant_types: list[str]
    callbacks: list[str]
    allowed_origins: list[str]
    web_origins: list[str]
    allowed_logout_urls: list[str]
    cross_origin_authentication: bool
    is_first_party: bool
    secret_hash: str | None = None
    description: str = ""
    refresh_token: dict[str, Any] = field(default_factory=dict)
    client_metadata: dict[str, Any] = field(default_factory=dict)
    is_system: bool = False
    created_at: datetime | None = None

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == "none"

    def allows_origin(self, origin: str) -> bool:
        """CORS: `allowed_origins` and `web_origins` both admit cross-origin calls from that origin."""
        return origin in self.allowed_origins or origin in self.web_origins


@dataclass(frozen=True, slots=True)
class ResourceServer:
    id: str
    identifier: str
    name: str
    scopes: list[dict[str, str]]
    signing_alg: str
    token_lifetime: int
    allow_offline_access: bool
    skip_consent_for_verifiable_first_party_clients: bool
    enforce_policies: bool
    token_dialect: str
    subject_type_authorization: dict[str, dict[str, str]]
    is_system: bool
    proof_of_possession: dict[str, Any] | None = None
    created_at: datetime | None = None

    @property
    def scope_values(self) -> set[str]:
        return {s["value"] for s in self.scopes}

    def policy(self, subject_type: str) -> str:
        default = "require_client_grant" if subject_type == "client" else "allow_all"
        return self.subject_type_authorization.get(subject_type, {}).get("policy", default)


@dataclass(frozen=True, slots=True)
class ClientGrant:
    id: str
    client_id: str
    audience: str
    scope: list[str]
    subject_type: str
    created_at: datetime | None = None


def _client(row: Mapping[Any, Any]) -> Client:
    data = dict(row)
    data["created_at"] = as_utc(data["created_at"]) if data["created_at"] else None
    return Client(**data)


def _rs(row: Mapping[Any, Any]) -> ResourceServer:
    data = dict(row)
    data["created_at"] = as_utc(data["created_at"]) if data["created_at"] else None
    return ResourceServer(**data)


def _grant(row: Mapping[Any, Any]) -> ClientGrant:
    data = dict(row)
    data["created_at"] = as_utc(data["created_at"]) if data["created_at"] else None
    return ClientGrant(**data)


class ClientStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # clients
    def get(self, client_id: str) -> Client | None:
        row = self._conn.execute(select(clients).where(clients.c.client_id == client_id)).mappings().first()
        return _client(row) if row else None

    def all(self) -> list[Client]:
        return [_client(r) for r in self._conn.execute(select(clients).order_by(clients.c.created_at)).mappings()]

    def create(self, client: Client, *, now: datetime) -> Client:
        values = {f: getattr(client, f) for f in Client.__dataclass_fields__}
        values["created_at"] = now
        self._conn.execute(insert(clients).values(**values))
        created = self.get(client.client_id)
        assert created is not None
        return created

    def update(self, client_id: str, **values: Any) -> None:
        self._conn.execute(update(clients).where(clients.c.client_id == client_id).values(**values))

    def delete(self, client_id: str) -> bool:
        return self._conn.execute(delete(clients).where(clients.c.client_id == client_id)).rowcount > 0

    def any_allows_origin(self, origin: str) -> bool:
        return any(c.allows_origin(origin) for c in self.all())

    # resource servers
    def resource_server(self, identifier: str) -> ResourceServer | None:
        query = select(resource_servers).where(resource_servers.c.identifier == identifier)
        row = self._conn.execute(query).mappings().first()
        return _rs(row) if row else None

    def resource_server_by_id(self, rs_id: str) -> ResourceServer | None:
        row = self._conn.execute(select(resource_servers).where(resource_servers.c.id == rs_id)).mappings().first()
        return _rs(row) if row else None

    def resource_servers(self) -> list[ResourceServer]:
        query = select(resource_servers).order_by(resource_servers.c.created_at)
        return [_rs(r) for r in self._conn.execute(query).mappings()]

    def create_resource_server(self, rs: ResourceServer, *, now: datetime) -> ResourceServer:
        values = {f: getattr(rs, f) for f in ResourceServer.__dataclass_fields__}
        values["created_at"] = now
        self._conn.execute(insert(resource_servers).values(**values))
        created = self.resource_server(rs.identifier)
        assert created is not None
        return created

    def update_resource_server(self, rs_id: str, **values: Any) -> None:
        self._conn.execute(update(resource_servers).where(resource_servers.c.id == rs_id).values(**values))

    def delete_resource_server(self, rs_id: str) -> bool:
        return self._conn.execute(delete(resource_servers).where(resource_servers.c.id == rs_id)).rowcount > 0

    # client grants
    def grant(self, client_id: str, audience: str, subject_type: str) -> ClientGrant | None:
        query = select(client_grants).where(
            client_grants.c.client_id == client_id,
            client_grants.c.audience == audience,
            client_grants.c.subject_type == subject_type,
        )
        row = self._conn.execute(query).mappings().first()
        return _grant(row) if row else None

    def grant_by_id(self, grant_id: str) -> ClientGrant | None:
        row = self._conn.execute(select(client_grants).where(client_grants.c.id == grant_id)).mappings().first()
        return _grant(row) if row else None

    def grants(
        self, *, client_id: str | None = None, audience: str | None = None, subject_type: str | None = None
    ) -> list[ClientGrant]:
        query = select(client_grants).order_by(client_grants.c.created_at, client_grants.c.id)
        if client_id:
            query = query.where(client_grants.c.client_id == client_id)
        if audience:
            query = query.where(client_grants.c.audience == audience)
        if subject_type:
            query = query.where(client_grants.c.subject_type == subject_type)
        return [_grant(r) for r in self._conn.execute(query).mappings()]

    def create_grant(self, grant: ClientGrant, *, now: datetime) -> ClientGrant:
        self._conn.execute(
            insert(client_grants).values(
                id=grant.id,
                client_id=grant.client_id,
                audience=grant.audience,
                scope=list(grant.scope),
                subject_type=grant.subject_type,
                created_at=now,
            )
        )
        created = self.grant_by_id(grant.id)
        assert created is not None
        return created

    def update_grant(self, grant_id: str, *, scope: list[str]) -> None:
        self._conn.execute(update(client_grants).where(client_grants.c.id == grant_id).values(scope=scope))

    def delete_grant(self, grant_id: str) -> bool:
        return self._conn.execute(delete(client_grants).where(client_grants.c.id == grant_id)).rowcount > 0

    # consents
    def consent(self, user_id: str, client_id: str, audience: str) -> set[str] | None:
        query = select(consents.c.scope).where(
            consents.c.user_id == user_id, consents.c.client_id == client_id, consents.c.audience == audience
        )
        value = self._conn.execute(query).scalar_one_or_none()
        return set(value) if value is not None else None

    def save_consent(self, user_id: str, client_id: str, audience: str, scope: set[str], *, now: datetime) -> None:
        current = self.consent(user_id, client_id, audience)
        if current is None:
            self._conn.execute(
                insert(consents).values(
                    user_id=user_id,
                    client_id=client_id,
                    audience=audience,
                    scope=sorted(scope),
                    created_at=now,
                    updated_at=now,
                )
            )
        else:
            self._conn.execute(
                update(consents)
                .where(
                    consents.c.user_id == user_id, consents.c.client_id == client_id, consents.c.audience == audience
                )
                .values(scope=sorted(current | scope), updated_at=now)
            )
