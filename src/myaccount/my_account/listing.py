"""`GET /me/v1/authentication-methods`, rendered from the stored rows.

The list is the hottest endpoint. Decoding a user's rows (dates, JSON) and building their wire objects cost
more than the query itself, and gave the same bytes for the same rows every time. So each method's wire JSON is
kept, keyed by the raw row it was rendered from (every column, as the driver returned it): a row that changed in
any way is a different key and is rendered afresh. Nothing can go stale, on one node or many: the query runs on
every request, and the kept bytes are a pure function of the row (and of our public origin, fixed per process).
The password method is rendered from the owner's columns in the same way.
"""

from typing import Any

import orjson
from sqlalchemy.engine import Dialect

from myaccount.methods.base import MethodType
from myaccount.my_account.wire import password_record, to_wire
from myaccount.store.methods import LISTING_ID, LISTING_TYPE, listing_owner, listing_record, listing_rows
from myaccount.store.raw import Connectable

__all__ = ["MethodListing"]

_PASSKEY = MethodType.PASSKEY.value
_PASSWORD = MethodType.PASSWORD.value


class MethodListing:
    def __init__(self, *, origin: str, size: int = 16_384) -> None:
        self._origin = origin
        self._size = size
        self._rendered: dict[tuple[Any, ...], bytes] = {}

    def parts(self, conn: Connectable, user_id: str, type_: str | None = None) -> list[bytes]:
        """The user's methods as the list shows them (passkeys, the password, then the others, each oldest first),
        one JSON object each; [] for an unknown user."""
        rows = listing_rows(conn, user_id)
        if not rows:
            return []
        rendered = self._rendered
        passkeys: list[bytes] = []
        others: list[bytes] = []
        for row in rows:
            if row[LISTING_ID] is None or (type_ is not None and row[LISTING_TYPE] != type_):
                continue
            part = rendered.get(row)
            if part is None:
                part = self._keep(row, to_wire(listing_record(conn.dialect, row), origin=self._origin))
            (passkeys if row[LISTING_TYPE] == _PASSKEY else others).append(part)
        if type_ is None or type_ == _PASSWORD:
            password = self._password(conn.dialect, user_id, rows[0])
            if password is not None:
                passkeys.append(password)
        return passkeys + others

    def _password(self, dialect: Dialect, user_id: str, row: tuple[Any, ...]) -> bytes | None:
        key = (_PASSWORD, user_id, *row[:3])
        part = self._rendered.get(key)
        if part is None:
            owner = listing_owner(dialect, user_id, row)
            wire = None
            if owner.has_password:
                record = password_record(
                    user_id, password_changed_at=owner.password_changed_at, created_at=owner.created_at
                )
                wire = to_wire(record, origin=self._origin)
            part = self._keep(key, wire)
        return part or None  # b"": the user has no password

    def _keep(self, key: tuple[Any, ...], wire: dict[str, Any] | None) -> bytes:
        if len(self._rendered) >= self._size:
            # Drop the oldest tenth; dicts keep insertion order.
            for stale in list(self._rendered)[: max(1, self._size // 10)]:
                self._rendered.pop(stale, None)
        part = orjson.dumps(wire) if wire is not None else b""
        self._rendered[key] = part
        return part
