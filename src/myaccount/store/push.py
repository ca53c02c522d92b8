"""Push challenges and device-proof ids: the tables (on the shared `metadata`) and the store over them.

`store/schema.py` imports this module at its end, so Alembic and `metadata.sorted_tables` see these tables.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Index,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)

from myaccount.store.schema import authentication_methods, metadata
from myaccount.timefmt import as_utc

__all__ = ["PushChallenge", "PushStore", "push_challenges", "push_device_jtis"]

push_challenges = Table(
    "push_challenges",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    # The device that answered; a challenge is for all of the user's devices until one of them does. Indexed:
    # deleting any authentication method looks up the challenges that point at it (ON DELETE SET NULL).
    Column("method_id", ForeignKey("authentication_methods.id", ondelete="SET NULL"), index=True),
    Column("client_id", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # pending | approved | rejected | expired
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True)),
    Column("details", JSON, nullable=False, default=dict),  # what the device shows: client, ip, time
    Column("signature", String(128)),  # the device's ES256 signature over its answer, kept as evidence
    Index("ix_push_challenges_expires_at", "expires_at"),
)

push_device_jtis = Table(
    "push_device_jtis",
    metadata,
    Column("jkt", String(64), primary_key=True),
    Column("jti", String(64), primary_key=True),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)

PENDING = "pending"


@dataclass(frozen=True, slots=True)
class PushChallenge:
    id: str
    user_id: str
    method_id: str | None
    client_id: str
    status: str
    created_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    details: dict[str, Any] = field(default_factory=dict)
    signature: str | None = None


def _challenge(row: Mapping[Any, Any]) -> PushChallenge:
    values = dict(row)
    for name in ("created_at", "expires_at", "answered_at"):
        if values[name] is not None:
            values[name] = as_utc(values[name])
    values["details"] = values["details"] or {}
    return PushChallenge(**values)


class PushStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # enrollment
    def claim_ticket(self, method_id: str, ticket_key: str, **values: Any) -> bool:
        """Replace the ticket on a pending push method, only if it is still there: of two racing enrollments
        with one ticket, exactly one matches the WHERE clause."""
        result = self._conn.execute(
            update(authentication_methods)
            .where(authentication_methods.c.id == method_id, authentication_methods.c.credential_id == ticket_key)
            .values(**values)
        )
        return result.rowcount == 1

    # device proofs
    def use_jti(self, jkt: str, jti: str, *, expires_at: datetime, now: datetime) -> bool:
        """Record a proof's `jti`; False if this device already used it. Expired ids are dropped on the way."""
        self._conn.execute(delete(push_device_jtis).where(push_device_jtis.c.expires_at < now))
        seen = self._conn.execute(
            select(push_device_jtis.c.jti).where(push_device_jtis.c.jkt == jkt, push_device_jtis.c.jti == jti)
        ).first()
        if seen is not None:
            return False
        self._conn.execute(insert(push_device_jtis).values(jkt=jkt, jti=jti, expires_at=expires_at))
        return True

    # challenges
    def add(self, challenge: PushChallenge) -> None:
        values = {f: getattr(challenge, f) for f in PushChallenge.__dataclass_fields__}
        self._conn.execute(insert(push_challenges).values(**values))

    def get(self, challenge_id: str) -> PushChallenge | None:
        row = self._conn.execute(select(push_challenges).where(push_challenges.c.id == challenge_id)).mappings().first()
        return _challenge(row) if row else None

    def pending(self, user_id: str, *, now: datetime) -> list[PushChallenge]:
        query = (
            select(push_challenges)
            .where(
                push_challenges.c.user_id == user_id,
                push_challenges.c.status == PENDING,
                push_challenges.c.expires_at > now,
            )
            .order_by(push_challenges.c.created_at, push_challenges.c.id)
        )
        return [_challenge(r) for r in self._conn.execute(query).mappings()]

    def answer(self, challenge_id: str, *, status: str, method_id: str, signature: str, now: datetime) -> bool:
        """Pending and unexpired to answered, in one conditional UPDATE: of N racing answers one wins."""
        result = self._conn.execute(
            update(push_challenges)
            .where(
                push_challenges.c.id == challenge_id,
                push_challenges.c.status == PENDING,
                push_challenges.c.expires_at > now,
            )
            .values(status=status, method_id=method_id, signature=signature, answered_at=now)
        )
        return result.rowcount == 1

    def expire(self, challenge_id: str, *, now: datetime) -> None:
        self._conn.execute(
            update(push_challenges)
            .where(
                push_challenges.c.id == challenge_id,
                push_challenges.c.status == PENDING,
                push_challenges.c.expires_at <= now,
            )
            .values(status="expired")
        )

    def prune(self, *, before: datetime) -> None:
        self._conn.execute(delete(push_challenges).where(push_challenges.c.expires_at < before))
