"""Signing keys as stored: the private part sealed, a lifecycle state, and the times that drive rotation."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from myaccount.store.schema import signing_keys
from myaccount.timefmt import as_utc

__all__ = ["KeyRecord", "KeyStore"]


@dataclass(frozen=True, slots=True)
class KeyRecord:
    kid: str
    alg: str
    private_key: str  # sealed PEM
    public_jwk: dict[str, Any]
    state: str  # next | current | previous | revoked
    created_at: datetime
    activated_at: datetime | None
    retired_at: datetime | None
    revoked_at: datetime | None


class KeyStore:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def all(self) -> list[KeyRecord]:
        rows = self._conn.execute(select(signing_keys).order_by(signing_keys.c.created_at)).mappings()
        out = []
        for row in rows:
            data = dict(row)
            for key in ("created_at", "activated_at", "retired_at", "revoked_at"):
                if data[key] is not None:
                    data[key] = as_utc(data[key])
            out.append(KeyRecord(**data))
        return out

    def add(self, record: KeyRecord) -> None:
        values = {f: getattr(record, f) for f in KeyRecord.__dataclass_fields__}
        self._conn.execute(insert(signing_keys).values(**values))

    def set_state(self, kid: str, state: str, **times: datetime) -> None:
        self._conn.execute(update(signing_keys).where(signing_keys.c.kid == kid).values(state=state, **times))
