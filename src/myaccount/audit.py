"""Writing audit events from use cases: one call, with the request facts carried in a `Caller`."""

from dataclasses import dataclass
from typing import Any

from myaccount.clock import Clock
from myaccount.observability import observe_event
from myaccount.store.audit import AuditEvent, AuditStore
from myaccount.store.raw import Connectable

__all__ = ["Caller", "record"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, as far as the network tells: for audit events and rate limits."""

    ip: str | None = None
    user_agent: str | None = None
    dpop_jkt: str | None = None  # the key of a verified DPoP proof sent with the request (RFC 9449)


def record(
    conn: Connectable,
    clock: Clock,
    type_: str,
    *,
    caller: Caller,
    outcome: str = "success",
    user_id: str | None = None,
    client_id: str | None = None,
    description: str = "",
    **details: Any,
) -> None:
    observe_event(type_, outcome, details.get("method_type"))
    AuditStore(conn).record(
        AuditEvent(
            type=type_,
            outcome=outcome,
            user_id=user_id,
            client_id=client_id,
            ip=caller.ip,
            user_agent=(caller.user_agent or "")[:500] or None,
            description=description,
            details=details,
        ),
        now=clock.now(),
    )
