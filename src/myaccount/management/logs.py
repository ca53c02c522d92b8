"""Tenant logs (`GET /logs`, `GET /logs/{id}`, `GET /users/{id}/logs`): the audit events in Auth0's log shape,
and the record of each Management API call (`sapi` / `fapi`).

Most events are stored under Auth0's log codes already (`s`, `fp`, `seccft`, …); My Account's own events are
named `my_account.*` and shown under the nearest Guardian code where one exists (`gd_start_enroll`,
`gd_enrollment_complete`, `gd_unenroll`), or under their own name otherwise. Searching by `type` matches the shown
code. The search syntax is a subset of Auth0's: `field:value` / `field:"value"` terms joined by spaces or AND,
over `user_id`, `type`, `client_id`, `ip`, and `date:[FROM TO TO]` (ISO dates or times, `*` for open).
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select

from myaccount.audit import Caller, record
from myaccount.core import Core
from myaccount.management.errors import Invalid, Missing
from myaccount.store.schema import audit_events
from myaccount.timefmt import as_utc, iso_ms

__all__ = ["LogQuery", "get_log", "list_logs", "parse_search", "record_call", "to_wire"]

SHOWN_TYPES = {
    "my_account.enrollment_started": "gd_start_enroll",
    "my_account.enrollment_verified": "gd_enrollment_complete",
    "my_account.method_deleted": "gd_unenroll",
}
_TOP_LEVEL = ("audience", "scope", "connection")
_FIELDS = {"user_id", "type", "client_id", "ip", "date"}
_TERM = re.compile(r'\s*(?:AND\s+)?([a-z_]+):(?:"((?:[^"\\]|\\.)*)"|\[([^\]]*)\]|([^\s"\[\]]+))\s*')


@dataclass(frozen=True, slots=True)
class LogQuery:
    user_id: str | None = None
    type: str | None = None
    client_id: str | None = None
    ip: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def to_wire(row: Any) -> dict[str, Any]:
    details = dict(row.details or {})
    body: dict[str, Any] = {
        "log_id": row.id,
        "date": iso_ms(as_utc(row.at)),
        "type": SHOWN_TYPES.get(row.type, row.type),
        "description": row.description,
        "client_id": row.client_id,
        "ip": row.ip,
        "user_agent": row.user_agent,
        "user_id": row.user_id,
        "details": details,
    }
    for key in _TOP_LEVEL:
        if isinstance(details.get(key), str):
            body[key] = details[key]
    return {key: value for key, value in body.items() if value is not None}


def _moment(text: str, *, end: bool) -> datetime | None:
    text = text.strip()
    if text == "*":
        return None
    try:
        if len(text) == 10:
            day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
            return day + timedelta(days=1) if end else day
        moment = as_utc(datetime.fromisoformat(text))
        return moment + timedelta(microseconds=1) if end else moment
    except OverflowError as exc:
        if end:
            return None  # an end past the last representable moment bounds nothing
        raise Invalid(f"'{text}' is out of range.", code="invalid_query_string") from exc
    except ValueError as exc:
        raise Invalid(f"'{text}' is not an ISO 8601 date or time.", code="invalid_query_string") from exc


def parse_search(q: str | None) -> LogQuery:
    if q is None or not q.strip():
        return LogQuery()
    values: dict[str, Any] = {}
    position = 0
    while position < len(q):
        found = _TERM.match(q, position)
        if found is None or found.end() == position:
            raise Invalid(f"Cannot parse the search at: {q[position : position + 40]!r}", code="invalid_query_string")
        position = found.end()
        name, quoted, bracket, bare = found.groups()
        if name not in _FIELDS:
            raise Invalid(f"Searching logs by {name} is not supported.", code="invalid_query_string")
        if name == "date":
            low, sep, high = (bracket or "").partition(" TO ")
            if not sep:
                raise Invalid("Search dates as date:[2024-01-01 TO 2024-01-31].", code="invalid_query_string")
            values["since"], values["until"] = _moment(low, end=False), _moment(high, end=True)
        else:
            values[name] = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else (bare or bracket or "")
    return LogQuery(**values)


def _filtered(query: Select[Any], search: LogQuery) -> Select[Any]:
    c = audit_events.c
    if search.user_id:
        query = query.where(c.user_id == search.user_id)
    if search.type:
        stored = [k for k, v in SHOWN_TYPES.items() if v == search.type]
        stored += [] if search.type in SHOWN_TYPES else [search.type]
        query = query.where(c.type.in_(stored))
    if search.client_id:
        query = query.where(c.client_id == search.client_id)
    if search.ip:
        query = query.where(c.ip == search.ip)
    if search.since:
        query = query.where(c.at >= search.since)
    if search.until:
        query = query.where(c.at < search.until)
    return query


def list_logs(
    core: Core,
    search: LogQuery,
    *,
    offset: int,
    limit: int,
    ascending: bool = False,
    after: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Matching events, newest first unless `ascending`; `after` is a checkpoint (a log_id): only later events,
    oldest first, as Auth0's `from`/`take` returns them. Log ids sort by time."""
    c = audit_events.c
    query = _filtered(select(audit_events), search)
    count = _filtered(select(func.count()).select_from(audit_events), search)
    if after is not None:
        query = query.where(c.id > after)
        ascending = True
    query = query.order_by(c.id.asc() if ascending else c.id.desc()).offset(offset).limit(limit)
    with core.db.read() as conn:
        rows = list(conn.execute(query))
        total = int(conn.execute(count).scalar_one())
    return [to_wire(r) for r in rows], total


def _printable(text: str, limit: int = 2000) -> str:
    """Request text as it may be stored: without NUL (PostgreSQL refuses it) and bounded."""
    return text.replace("\x00", "\\0")[:limit]


def get_log(core: Core, log_id: str) -> dict[str, Any]:
    with core.db.read() as conn:
        row = conn.execute(select(audit_events).where(audit_events.c.id == log_id)).first()
    if row is None:
        raise Missing("The log event does not exist.", code="inexistent_log")
    return to_wire(row)


def record_call(
    core: Core,
    *,
    caller: Caller,
    client_id: str,
    description: str,
    method: str,
    path: str,
    status: int,
    user_id: str | None = None,
    message: str | None = None,
) -> None:
    """One `sapi` (success) or `fapi` (failure) event per Management API write. Bodies are never logged: they can
    carry passwords and secrets."""
    response: dict[str, Any] = {"statusCode": status}
    if message:
        response["body"] = {"message": _printable(message)}
    path = _printable(path)
    with core.db.write() as conn:
        record(
            conn,
            core.clock,
            "sapi" if status < 400 else "fapi",
            caller=caller,
            outcome="success" if status < 400 else "failure",
            user_id=user_id,
            client_id=client_id,
            description=description,
            request={"method": method.lower(), "path": path, "channel": "api"},
            response=response,
        )
