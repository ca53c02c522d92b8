"""Timestamps on the wire: ISO 8601 in UTC with milliseconds, as Auth0 sends them (Swift's decoder needs them)."""

from datetime import UTC, datetime

__all__ = ["as_utc", "iso_ms", "unix"]


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_ms(value: datetime) -> str:
    value = as_utc(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def unix(value: datetime) -> int:
    return int(as_utc(value).timestamp())
