"""Signing-key changes reach every node at once: a Redis channel carries "keys changed", and each process
reloads its key ring when told. Without Redis, rings reload on their own every few seconds and immediately
on an unknown kid (oauth/keyring.py), which covers one machine's workers."""

import asyncio
import logging

from starlette.concurrency import run_in_threadpool

from myaccount.oauth.keyring import KeyRing

__all__ = ["CHANNEL", "listen", "publish"]

CHANNEL = "myaccount:signing-keys"  # with the default prefix
log = logging.getLogger("myaccount.keys")


def publish(redis_url: str, event: str, *, prefix: str = "myaccount:") -> None:
    import redis

    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.publish(_channel(prefix), event)
    finally:
        client.close()


def _channel(prefix: str) -> str:
    return f"{prefix}signing-keys"


async def listen(redis_url: str, keyring: KeyRing, *, prefix: str = "myaccount:") -> None:
    """Reload the ring on every message; reconnect after failures (never gives up, never raises)."""
    import redis.asyncio as aioredis

    while True:
        client = aioredis.Redis.from_url(redis_url)
        try:
            pubsub = client.pubsub()
            await pubsub.subscribe(_channel(prefix))
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    await run_in_threadpool(keyring.load)
        except asyncio.CancelledError:
            await client.aclose()
            raise
        except Exception:
            log.warning("signing-key channel lost; reconnecting", exc_info=True)
            await asyncio.sleep(1.0)
        finally:
            await client.aclose()
