"""Audit events: every token issued, login, enrollment, change and failure, queryable like Auth0's tenant logs."""

import itertools
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select

from myaccount.ids import alnum
from myaccount.store.raw import Connectable, RawStatement, sqlalchemy_connection
from myaccount.store.schema import audit_events
from myaccount.timefmt import as_utc

__all__ = ["AuditEvent", "AuditStore"]

_SEQUENCE = itertools.count()
_COLUMNS = ("id", "at", "type", "outcome", "user_id", "client_id", "ip", "user_agent", "description", "details")
# Every write records an event: built once, run on the cursor (store/raw.py).
_INSERT = RawStatement(insert(audit_events).values({name: bindparam(name) for name in _COLUMNS}))


@dataclass(frozen=True, slots=True)
class AuditEvent:
    type: str
    outcome: str = "success"
    user_id: str | None = None
    client_id: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None
    id: str | None = None


class AuditStore:
    def __init__(self, conn: Connectable) -> None:
        self._conn = conn

    @property
    def _sa(self) -> Connection:
        return sqlalchemy_connection(self._conn)

    def record(self, event: AuditEvent, *, now: datetime) -> str:
        # Sortable ids: time, then a per-process sequence (order within a millisecond), then randomness so that
        # nodes never collide (Auth0 log ids also sort by time).
        event_id = f"{int(now.timestamp() * 1000):015d}{next(_SEQUENCE) % 1_000_000:06d}{alnum(10)}"
        _INSERT.execute(
            self._conn,
            {
                "id": event_id,
                "at": now,
                "type": event.type,
                "outcome": event.outcome,
                "user_id": event.user_id,
                "client_id": event.client_id,
                "ip": event.ip,
                "user_agent": event.user_agent,
                "description": event.description,
                "details": event.details,
            },
        )
        return event_id

    def query(
        self,
        *,
        user_id: str | None = None,
        type_: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[AuditEvent]:
        query = select(audit_events).order_by(audit_events.c.id.desc())
        if user_id:
            query = query.where(audit_events.c.user_id == user_id)
        if type_:
            query = query.where(audit_events.c.type == type_)
        if since:
            query = query.where(audit_events.c.at >= since)
        if until:
            query = query.where(audit_events.c.at < until)
        rows = self._sa.execute(query.offset(offset).limit(limit)).mappings()
        return [AuditEvent(**{**dict(r), "at": as_utc(r["at"])}) for r in rows]
