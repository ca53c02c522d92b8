"""Token-bucket rate limits: in process memory for one node, in Redis when several nodes share a tenant.

A bucket holds `capacity` tokens and refills evenly over `per_seconds`; each request takes one. The answer carries
what the `x-ratelimit-*` headers need. The Redis bucket is one Lua script, so a check-and-take is atomic across
nodes and the limit is exact however many processes share it.
"""

import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Decision", "Limiter", "MemoryLimiter", "RedisLimiter", "Rule"]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    capacity: int
    per_seconds: float

    @property
    def enabled(self) -> bool:
        return self.capacity > 0


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # unix seconds when the bucket is full again
    retry_after: int  # seconds until one token is available (0 when allowed)


class Limiter(Protocol):
    def take(self, rule: Rule, key: str, *, cost: int = 1) -> Decision:
        """Take `cost` tokens if the bucket has them. `cost=0` only looks: allowed while a token is left."""
        ...

    def reset(self) -> None: ...


def _decision(rule: Rule, tokens: float, allowed: bool, now: float) -> Decision:
    rate = rule.capacity / rule.per_seconds
    full_in = (rule.capacity - tokens) / rate
    retry = 0 if allowed else max(1, math.ceil((1 - tokens) / rate))
    return Decision(allowed, rule.capacity, max(0, int(tokens)), int(math.ceil(now + full_in)), retry)


class MemoryLimiter:
    def __init__(self, *, max_keys: int = 200_000) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def take(self, rule: Rule, key: str, *, cost: int = 1) -> Decision:
        now = time.time()
        bucket_key = f"{rule.name}:{key}"
        rate = rule.capacity / rule.per_seconds
        with self._lock:
            tokens, stamp = self._buckets.get(bucket_key, (float(rule.capacity), now))
            tokens = min(float(rule.capacity), tokens + (now - stamp) * rate)
            allowed = tokens >= max(cost, 1)
            if allowed:
                tokens -= cost
            if len(self._buckets) >= self._max_keys and bucket_key not in self._buckets:
                # Full buckets carry no information: drop them to bound memory.
                self._buckets = {k: v for k, v in self._buckets.items() if v[0] < rule.capacity - 1}
            self._buckets[bucket_key] = (tokens, now)
        return _decision(rule, tokens, allowed, now)

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()


_LUA = """
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens = tonumber(state[1]) or capacity
local stamp = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + (now - stamp) * rate)
local allowed = 0
if tokens >= math.max(cost, 1) then
  tokens = tokens - cost
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'stamp', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return {allowed, tostring(tokens), tostring(now)}
"""


class RedisLimiter:
    """Buckets in Redis, timed by the Redis server's clock so that nodes with skewed clocks agree."""

    def __init__(self, url: str, *, prefix: str = "myaccount:rl:") -> None:
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._redis.register_script(_LUA)
        self._prefix = prefix

    def take(self, rule: Rule, key: str, *, cost: int = 1) -> Decision:
        rate = rule.capacity / rule.per_seconds
        allowed, tokens, now = self._script(keys=[f"{self._prefix}{rule.name}:{key}"], args=[rule.capacity, rate, cost])
        return _decision(rule, float(tokens), bool(int(allowed)), float(now))

    def reset(self) -> None:
        for key in self._redis.scan_iter(f"{self._prefix}*"):
            self._redis.delete(key)

    def ping(self) -> bool:
        return bool(self._redis.ping())
