"""Checking that a step runs outside any write transaction: another thread writes while it is about to run."""

import threading
from collections.abc import Callable
from typing import Any

from myaccount.core import Core
from myaccount.store.users import UserStore

__all__ = ["after_another_write"]


def after_another_write(core: Core, user_id: str, step: Callable[..., Any], finished: list[bool]) -> Callable[..., Any]:
    """`step`, run after another thread has written (a user's nickname): `finished` gets whether that write completed
    within 3 s. It cannot while the calling thread holds SQLite's write lock, that is, inside a write transaction;
    bounded, so that a regression fails instead of hanging the suite."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        def write() -> None:
            with core.db.write() as conn:
                UserStore(conn).update(user_id, now=core.clock.now(), nickname="written meanwhile")

        writer = threading.Thread(target=write)
        writer.start()
        writer.join(timeout=3)
        finished.append(not writer.is_alive())
        return step(*args, **kwargs)

    return wrapped
