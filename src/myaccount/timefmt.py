"""Timestamps on the wire: ISO 8601 in UTC with milliseconds, as Auth0 sends them (Swift's decoder needs them)."""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["as_utc", "iso_ms", "unix", "utc_fields"]


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value.tzinfo is UTC:
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_ms(value: datetime) -> str:
    # isoformat is C; for a UTC value it ends in "+00:00", which becomes "Z".
    if value.tzinfo is not UTC:
        value = as_utc(value)
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"


def unix(value: datetime) -> int:
    return int(as_utc(value).timestamp())


def utc_fields(row: Mapping[Any, Any], *names: str) -> dict[str, Any]:
    """A stored row as a dict, its timestamp columns `names` in UTC (those that are set)."""
    data = dict(row)
    for name in names:
        if data.get(name) is not None:
            data[name] = as_utc(data[name])
    return data
