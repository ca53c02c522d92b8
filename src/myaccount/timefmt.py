"""Timestamps on the wire: ISO 8601 in UTC with milliseconds, as Auth0 sends them (Swift's decoder needs them)."""

from datetime import UTC, datetime

__all__ = ["as_utc", "iso_ms", "unix"]


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
