"""Data lifecycle: expired codes, refresh tokens, sessions, transactions and auth_sessions are purged on a
schedule, so the store holds only what can still be used (and audit events, which are kept)."""

import asyncio
import logging
import random
from datetime import timedelta

from starlette.concurrency import run_in_threadpool

from myaccount.core import Core
from myaccount.store.connected import ConnectRequestStore
from myaccount.store.grants import GrantStore
from myaccount.store.push import PushStore
from myaccount.store.sessions import SessionStore

__all__ = ["checkpoint_forever", "purge_expired", "purge_forever"]

log = logging.getLogger("myaccount.lifecycle")


def purge_expired(core: Core) -> int:
    """Delete what has expired. Idempotent, so several workers or nodes may run it at once."""
    now = core.clock.now()
    with core.db.write() as conn:
        removed = GrantStore(conn).purge(now=now) + SessionStore(conn).purge(now=now)
        # Answered or expired push challenges are kept a day as evidence, then go.
        PushStore(conn).prune(before=now - timedelta(days=1))
        removed += ConnectRequestStore(conn).purge(before=now - timedelta(days=1))
    if removed:
        log.info("purged %d expired rows", removed)
    return removed


async def purge_forever(core: Core, interval: float) -> None:
    # Jitter spreads the work when many workers start together.
    await asyncio.sleep(random.uniform(0, interval))  # noqa: S311 - scheduling, not security
    while True:
        try:
            await run_in_threadpool(purge_expired, core)
        except Exception:
            log.exception("purge failed")
        await asyncio.sleep(interval)


async def checkpoint_forever(core: Core, interval: float = 1.0) -> None:
    """SQLite only: checkpoint the WAL in a worker thread, so that no request commit pays for it (store/db.py)."""
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(core.db.checkpoint)
        except Exception:
            log.exception("WAL checkpoint failed")
