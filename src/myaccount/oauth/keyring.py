"""The signing-key ring: which key signs, which keys verify, and what `/.well-known/jwks.json` publishes.

Lifecycle (as Auth0's signing keys): a `next` key is published before it is used; rotation makes it `current`,
the old current becomes `previous` and stays published and accepted for `overlap` (so the tokens it signed live
out their lifetime), and a fresh `next` is made. A `revoked` key is neither published nor accepted, at once.

Every node keeps the ring in memory and reloads it from the store every few seconds, and at once when it meets
a kid it does not know, so a rotation or revocation on one node is seen by all.
"""

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jwt.algorithms import RSAAlgorithm

from myaccount.clock import Clock
from myaccount.crypto.keys import KeyMaterial, generate_rsa, load_private_pem
from myaccount.crypto.sealing import Sealer
from myaccount.store.db import Database
from myaccount.store.keys import KeyRecord, KeyStore

__all__ = ["KeyRing", "VerificationKey"]

_PURPOSE = "signing-key"


@dataclass(frozen=True, slots=True)
class VerificationKey:
    kid: str
    alg: str
    key: Any  # a cryptography public key object


class KeyRing:
    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        clock: Clock,
        *,
        overlap: timedelta,
        refresh_seconds: float = 5.0,
        generate: Callable[[], KeyMaterial] = generate_rsa,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self._generate = generate
        self._on_change = on_change
        self._db = db
        self._sealer = sealer
        self._clock = clock
        self._overlap = overlap
        self._refresh_seconds = refresh_seconds
        self._loaded_at = 0.0
        self._last_forced = 0.0
        self._signing: KeyMaterial | None = None
        self._verify: dict[str, VerificationKey] = {}
        self._published: list[dict[str, Any]] = []
        self.generation = 0  # bumps whenever the set of accepted keys changes; verification caches watch it

    # lifecycle
    def ensure(self) -> None:
        """First start: a current key and a next key."""
        with self._db.write() as conn:
            store = KeyStore(conn)
            states = {r.state for r in store.all()}
            now = self._clock.now()
            if "current" not in states:
                store.add(self._record(self._generate(), "current", now=now, activated_at=now))
            if "next" not in states:
                store.add(self._record(self._generate(), "next", now=now))
        self.load()

    def rotate(self) -> str:
        """Promote `next` to `current`, retire `current` to `previous`, publish a fresh `next`. Returns the new kid."""
        now = self._clock.now()
        fresh = self._generate()
        with self._db.write() as conn:
            store = KeyStore(conn)
            records = store.all()
            for record in records:
                if record.state == "current":
                    store.set_state(record.kid, "previous", retired_at=now)
            promoted = next((r for r in records if r.state == "next"), None)
            if promoted is None:
                promoted = self._record(self._generate(), "next", now=now)
                store.add(promoted)
            store.set_state(promoted.kid, "current", activated_at=now)
            store.add(self._record(fresh, "next", now=now))
        self.load()
        self._changed("rotated")
        return promoted.kid

    def revoke(self, kid: str) -> None:
        """Stop publishing and accepting a key now. The current key cannot be revoked: rotate first."""
        with self._db.write() as conn:
            store = KeyStore(conn)
            record = next((r for r in store.all() if r.kid == kid), None)
            if record is None:
                raise KeyError(kid)
            if record.state == "current":
                raise ValueError("rotate before revoking the current signing key")
            store.set_state(kid, "revoked", revoked_at=self._clock.now())
        self.load()
        self._changed("revoked")

    def _changed(self, event: str) -> None:
        if self._on_change is not None:
            try:
                self._on_change(event)
            except Exception:
                logging.getLogger("myaccount.keys").warning("could not announce a signing-key change", exc_info=True)

    def records(self) -> list[KeyRecord]:
        with self._db.read() as conn:
            return KeyStore(conn).all()

    def _record(
        self, material: KeyMaterial, state: str, *, now: datetime, activated_at: datetime | None = None
    ) -> KeyRecord:
        sealed = self._sealer.seal(material.private_pem(), purpose=_PURPOSE)
        return KeyRecord(
            kid=material.kid,
            alg=material.alg,
            private_key=sealed,
            public_jwk=material.public_jwk,
            state=state,
            created_at=now,
            activated_at=activated_at,
            retired_at=None,
            revoked_at=None,
        )

    # in-memory view
    def load(self) -> None:
        records = self.records()
        now = self._clock.now()
        verify: dict[str, VerificationKey] = {}
        published: list[dict[str, Any]] = []
        signing = self._signing
        for record in records:
            if record.state == "revoked":
                continue
            if record.state == "previous" and record.retired_at and record.retired_at + self._overlap < now:
                continue
            key = RSAAlgorithm.from_jwk(json.dumps(record.public_jwk))
            verify[record.kid] = VerificationKey(kid=record.kid, alg=record.alg, key=key)
            published.append(record.public_jwk)
            if record.state == "current" and (signing is None or signing.kid != record.kid):
                pem = self._sealer.open(record.private_key, purpose=_PURPOSE)
                signing = load_private_pem(pem, alg=record.alg)
        if set(verify) != set(self._verify):
            self.generation += 1
        self._signing = signing
        self._verify = verify
        self._published = published
        self._loaded_at = time.monotonic()

    def maybe_reload(self) -> None:
        if time.monotonic() - self._loaded_at > self._refresh_seconds:
            self.load()

    @property
    def signing_key(self) -> KeyMaterial:
        if self._signing is None:
            raise RuntimeError("the key ring has not been loaded")
        return self._signing

    def verification_key(self, kid: str) -> VerificationKey | None:
        key = self._verify.get(kid)
        if key is None and time.monotonic() - self._last_forced > 1.0:
            # An unknown kid may come from a rotation on another node: look once, at most once a second.
            self._last_forced = time.monotonic()
            self.load()
            key = self._verify.get(kid)
        return key

    def accepts(self, kid: str) -> bool:
        return kid in self._verify

    def jwks(self) -> dict[str, Any]:
        return {"keys": list(self._published)}
