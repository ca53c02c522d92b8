"""Roles and their permissions (RBAC)."""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select, update

from myaccount.store.schema import role_permissions, roles

__all__ = ["Role", "RoleStore"]


@dataclass(frozen=True, slots=True)
class Role:
    id: str
    name: str
    description: str


class RoleStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, role_id: str) -> Role | None:
        row = self._conn.execute(select(roles).where(roles.c.id == role_id)).mappings().first()
        return Role(**row) if row else None

    def by_name(self, name: str) -> Role | None:
        row = self._conn.execute(select(roles).where(roles.c.name == name)).mappings().first()
        return Role(**row) if row else None

    def all(self) -> list[Role]:
        return [Role(**r) for r in self._conn.execute(select(roles).order_by(roles.c.name)).mappings()]

    def create(self, role: Role) -> Role:
        self._conn.execute(insert(roles).values(id=role.id, name=role.name, description=role.description))
        return role

    def update(self, role_id: str, **values: str) -> None:
        self._conn.execute(update(roles).where(roles.c.id == role_id).values(**values))

    def delete(self, role_id: str) -> bool:
        return self._conn.execute(delete(roles).where(roles.c.id == role_id)).rowcount > 0

    def permissions(self, role_id: str) -> list[tuple[str, str]]:
        query = select(role_permissions.c.resource_server_identifier, role_permissions.c.permission_name).where(
            role_permissions.c.role_id == role_id
        )
        return [(a, p) for a, p in self._conn.execute(query)]

    def add_permissions(self, role_id: str, permissions: Iterable[tuple[str, str]]) -> None:
        existing = set(self.permissions(role_id))
        for audience, name in permissions:
            if (audience, name) not in existing:
                self._conn.execute(
                    insert(role_permissions).values(
                        role_id=role_id, resource_server_identifier=audience, permission_name=name
                    )
                )

    def remove_permissions(self, role_id: str, permissions: Iterable[tuple[str, str]]) -> None:
        for audience, name in permissions:
            self._conn.execute(
                delete(role_permissions).where(
                    role_permissions.c.role_id == role_id,
                    role_permissions.c.resource_server_identifier == audience,
                    role_permissions.c.permission_name == name,
                )
            )
