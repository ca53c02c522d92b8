"""Token-bucket rate limits: `MemoryLimiter` and `RedisLimiter`, and the 429 path through the My Account API.

Redis is at MYACCOUNT_TEST_REDIS_URL, else redis://127.0.0.1:6379/15. These tests fail, never skip, when Redis is
not reachable: CI always runs it. Each test keeps its buckets under its own key prefix.
"""

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
import redis
from starlette.testclient import TestClient

from myaccount import admin
from myaccount.app import create_app
from myaccount.core import Core
from myaccount.my_account.wire import password_method_id
from myaccount.policy import rate_limits
from myaccount.policy.rate_limits import Decision, Limiter, MemoryLimiter, RedisLimiter, Rule
from myaccount.settings import RateLimitSettings, Settings
from tests.support.me import Me, me_token
from tests.support.tenant import make_tenant

REDIS_URL = os.environ.get("MYACCOUNT_TEST_REDIS_URL") or "redis://127.0.0.1:6379/15"


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis at {REDIS_URL} is not reachable ({exc}). The rate-limit tests need it: start Redis, or point "
            "MYACCOUNT_TEST_REDIS_URL at one.",
            pytrace=False,
        )
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client: redis.Redis = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A key prefix of this test's own, removed afterwards."""
    own = f"myaccount-test:rl:{uuid.uuid4().hex}:"
    yield own
    for key in redis_client.scan_iter(f"{own}*"):
        redis_client.delete(key)


class FakeTime:
    """Stands in for the `time` module inside `rate_limits`, so memory buckets run on a clock the test moves."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    clock = FakeTime(1_000_000.0)
    monkeypatch.setattr(rate_limits, "time", SimpleNamespace(time=clock.time))
    return clock


@pytest.fixture(params=["memory", "redis"])
def limiter(request: pytest.FixtureRequest) -> Limiter:
    if request.param == "memory":
        return MemoryLimiter()
    prefix_: str = request.getfixturevalue("prefix")
    url: str = request.getfixturevalue("redis_url")
    return RedisLimiter(url, prefix=prefix_)


def _takes(limiter: Limiter, rule: Rule, key: str, count: int) -> list[Decision]:
    return [limiter.take(rule, key) for _ in range(count)]


# Both limiters


def test_capacity_is_exact_then_refused(limiter: Limiter) -> None:
    rule = Rule("capacity", 10, 10**7)  # refill so slow it never adds a token during the test
    decisions = _takes(limiter, rule, "alice", 12)
    assert [d.allowed for d in decisions] == [True] * 10 + [False] * 2
    assert [d.remaining for d in decisions] == [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0]
    assert all(d.limit == 10 for d in decisions)
    assert all(d.retry_after == 0 for d in decisions[:10])
    assert all(d.retry_after >= 1 for d in decisions[10:])


def test_keys_and_rules_have_their_own_buckets(limiter: Limiter) -> None:
    write = Rule("write", 2, 10**7)
    read = Rule("read", 2, 10**7)
    assert [d.allowed for d in _takes(limiter, write, "alice", 3)] == [True, True, False]
    assert limiter.take(write, "bob").allowed
    assert limiter.take(read, "alice").allowed
    assert not limiter.take(write, "alice").allowed


def test_reset_refills_every_bucket(limiter: Limiter) -> None:
    rule = Rule("reset", 1, 10**7)
    assert limiter.take(rule, "alice").allowed
    assert not limiter.take(rule, "alice").allowed
    limiter.reset()
    assert limiter.take(rule, "alice").allowed


def test_concurrent_takes_in_one_process_never_overshoot(limiter: Limiter) -> None:
    rule = Rule("threads", 100, 10**7)
    barrier = threading.Barrier(8)

    def hammer(_: int) -> int:
        barrier.wait(timeout=30)
        return sum(limiter.take(rule, "shared").allowed for _ in range(40))

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert sum(pool.map(hammer, range(8))) == 100


def test_disabled_rule() -> None:
    assert not Rule("off", 0, 60).enabled
    assert Rule("on", 1, 60).enabled


# MemoryLimiter, on a clock the test moves


def test_memory_headers_and_refill(fake_time: FakeTime) -> None:
    limiter = MemoryLimiter()
    rule = Rule("refill", 4, 8)  # one token every 2 s
    start = fake_time.now
    first = limiter.take(rule, "alice")
    assert first == Decision(allowed=True, limit=4, remaining=3, reset=int(start) + 2, retry_after=0)
    rest = _takes(limiter, rule, "alice", 3)
    assert [d.remaining for d in rest] == [2, 1, 0]
    assert rest[-1].reset == int(start) + 8  # empty: full again in 4 tokens x 2 s
    refused = limiter.take(rule, "alice")
    assert refused == Decision(allowed=False, limit=4, remaining=0, reset=int(start) + 8, retry_after=2)

    fake_time.now = start + 1  # half a token
    half = limiter.take(rule, "alice")
    assert not half.allowed and half.retry_after == 1 and half.reset == int(start) + 8

    fake_time.now = start + 2  # one token
    assert limiter.take(rule, "alice") == Decision(True, 4, 0, int(start) + 10, 0)

    fake_time.now = start + 1000  # long idle: full, never more than the capacity
    assert [d.allowed for d in _takes(limiter, rule, "alice", 5)] == [True, True, True, True, False]


def test_memory_bounds_its_keys(fake_time: FakeTime) -> None:
    limiter = MemoryLimiter(max_keys=10)
    rule = Rule("many", 5, 60)
    for index in range(10):
        limiter.take(rule, f"user{index}")
    fake_time.now += 60  # every bucket is full again, so it carries no information
    limiter.take(rule, "newcomer")
    assert len(limiter._buckets) <= 10
    # A bucket that still holds information survives the sweep.
    exhausted = MemoryLimiter(max_keys=3)
    _takes(exhausted, rule, "heavy", 5)
    for index in range(5):
        exhausted.take(rule, f"light{index}")
    assert not exhausted.take(rule, "heavy").allowed


# RedisLimiter


def test_redis_headers_refill_and_expiry(redis_client: redis.Redis, redis_url: str, prefix: str) -> None:
    limiter = RedisLimiter(redis_url, prefix=prefix)
    assert limiter.ping()
    rule = Rule("headers", 4, 8)  # one token every 2 s, on the Redis server's clock
    now, _ = redis_client.time()
    first = limiter.take(rule, "alice")
    assert first.allowed and first.limit == 4 and first.remaining == 3 and first.retry_after == 0
    assert now + 1 <= first.reset <= now + 3
    ttl = redis_client.pttl(f"{prefix}headers:alice")
    assert 0 < ttl <= 8000 + 1000  # an idle bucket expires once it would be full again

    rest = _takes(limiter, rule, "alice", 3)
    assert [d.remaining for d in rest] == [2, 1, 0] and all(d.allowed for d in rest)
    refused = limiter.take(rule, "alice")
    assert not refused.allowed and refused.remaining == 0 and refused.limit == 4
    assert refused.retry_after == 2
    assert now + 7 <= refused.reset <= now + 10


def test_redis_refills_over_time(redis_url: str, prefix: str) -> None:
    limiter = RedisLimiter(redis_url, prefix=prefix)
    rule = Rule("refill", 2, 0.5)  # one token every 0.25 s
    assert [d.allowed for d in _takes(limiter, rule, "alice", 3)] == [True, True, False]
    threading.Event().wait(0.6)
    assert limiter.take(rule, "alice").allowed


def test_redis_unreachable_is_an_error() -> None:
    limiter = RedisLimiter("redis://127.0.0.1:1/0")
    with pytest.raises(redis.ConnectionError):
        limiter.take(Rule("x", 1, 1), "alice")


_HAMMER = """
import sys, time
import redis
from myaccount.policy.rate_limits import RedisLimiter, Rule

url, prefix, ready, attempts = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
limiter = RedisLimiter(url, prefix=prefix)
rule = Rule("exact", 100, 10**7)
client = redis.Redis.from_url(url)
client.incr(ready)
deadline = time.monotonic() + 30
while int(client.get(ready) or 0) < 2:  # both processes start together
    if time.monotonic() > deadline:
        sys.exit("the other process never became ready")
    time.sleep(0.0005)
allowed = sum(limiter.take(rule, "shared").allowed for _ in range(attempts))
print(allowed)
"""


def test_redis_limit_is_exact_across_two_processes(redis_url: str, prefix: str) -> None:
    """Two OS processes hammer one bucket of 100 (150 attempts each): exactly 100 pass, not roughly 100."""
    ready = f"{prefix}ready"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _HAMMER, redis_url, prefix, ready, "150"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results: list[int] = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        results.append(int(out.strip()))
    assert all(0 <= r <= 100 for r in results)
    assert sum(results) == 100, results


# Through the API: 429 with headers


Build = Callable[..., tuple[TestClient, Core]]


@pytest.fixture
def build(make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core]) -> Iterator[Build]:
    with ExitStack() as stack:

        def make(**overrides: Any) -> tuple[TestClient, Core]:
            settings = make_settings(**overrides)
            core = make_core(settings)
            app = create_app(settings, core=core)
            client = stack.enter_context(TestClient(app, base_url="http://localhost", follow_redirects=False))
            return client, core

        yield make


WRITES = RateLimitSettings(user_write_capacity=3, user_write_per_seconds=3600)


def _password_path(me: Me) -> str:
    return f"/authentication-methods/{quote(me.methods()[0]['id'], safe='')}"


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_write_limit_429_with_headers(build: Build, backend: str, request: pytest.FixtureRequest) -> None:
    redis_url = request.getfixturevalue("redis_url") if backend == "redis" else None
    client, core = build(rate_limits=WRITES, redis_url=redis_url)
    assert isinstance(core.limiter, RedisLimiter if backend == "redis" else MemoryLimiter)
    tenant = make_tenant(core)
    me = Me(client, me_token(client, tenant, core))
    path = _password_path(me)
    before = int(time.time())
    allowed = [me.patch(path, {}) for _ in range(3)]
    assert [r.status_code for r in allowed] == [200, 200, 200]
    assert [r.headers["x-ratelimit-limit"] for r in allowed] == ["3", "3", "3"]
    assert [r.headers["x-ratelimit-remaining"] for r in allowed] == ["2", "1", "0"]
    assert before + 1199 <= int(allowed[0].headers["x-ratelimit-reset"]) <= int(time.time()) + 1201
    limited = me.patch(path, {})
    assert limited.status_code == 429
    assert limited.headers["content-type"] == "application/json"
    assert limited.json() == {
        "type": "https://auth0.com/api-errors/A0E-429-0001",
        "status": 429,
        "title": "Too Many Requests",
        "detail": "Too many requests. Retry later.",
    }
    assert limited.headers["x-ratelimit-limit"] == "3" and limited.headers["x-ratelimit-remaining"] == "0"
    assert 1 <= int(limited.headers["retry-after"]) <= 1200  # one token every 3600 / 3 s
    assert before + 3599 <= int(limited.headers["x-ratelimit-reset"]) <= int(time.time()) + 3601
    # Reads are a separate family: not limited by default.
    assert me.get("/factors").status_code == 200
    if redis_url is not None:
        with redis.Redis.from_url(redis_url) as shared:
            prefix = core.settings.redis_prefix
            assert shared.exists(f"{prefix}rl:me-write:{tenant.user.id}") == 1


def test_nodes_sharing_redis_share_the_bucket(build: Build, redis_url: str) -> None:
    """Two nodes, one database, one Redis: 3 writes in all, wherever they land."""
    node_a, core_a = build(rate_limits=WRITES, redis_url=redis_url, redis_prefix="shared-test:")
    node_b, core_b = build(rate_limits=WRITES, redis_url=redis_url, redis_prefix="shared-test:")
    core_a.limiter.reset()
    tenant = make_tenant(core_a)
    token = me_token(node_a, tenant, core_a)
    a, b = Me(node_a, token), Me(node_b, token)
    path = _password_path(a)
    assert [m.patch(path, {}).status_code for m in (a, b, a)] == [200, 200, 200]
    assert b.patch(path, {}).status_code == 429
    assert a.patch(path, {}).status_code == 429


def test_nodes_without_redis_count_separately(build: Build) -> None:
    """The contrast: memory buckets are per process, so two nodes allow twice the limit."""
    node_a, core_a = build(rate_limits=WRITES, redis_url=None)
    node_b, _ = build(rate_limits=WRITES, redis_url=None)
    tenant = make_tenant(core_a)
    token = me_token(node_a, tenant, core_a)
    a, b = Me(node_a, token), Me(node_b, token)
    path = _password_path(a)
    assert [a.patch(path, {}).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert [b.patch(path, {}).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_code_attempt_limit(build: Build) -> None:
    limits = RateLimitSettings(user_write_capacity=50, code_attempt_capacity=2, code_attempt_per_seconds=3600)
    client, core = build(rate_limits=limits)
    tenant = make_tenant(core)
    me = Me(client, me_token(client, tenant, core))
    started = me.enroll({"type": "totp"})
    assert started.status_code == 202
    wrong = {"auth_session": started.json()["auth_session"], "otp_code": "000000"}
    statuses = [me.verify(started.headers["location"], wrong).status_code for _ in range(3)]
    assert statuses == [400, 400, 429]
    limited = me.verify(started.headers["location"], wrong)
    assert limited.headers["x-ratelimit-limit"] == "2" and int(limited.headers["retry-after"]) >= 1
    # Enrolling is a write, not a code attempt: still allowed.
    assert me.enroll({"type": "recovery-code"}).status_code == 202


def test_read_and_tenant_limits(build: Build) -> None:
    limits = RateLimitSettings(
        user_read_capacity=3, user_read_per_seconds=3600, tenant_capacity=4, tenant_per_seconds=3600
    )
    client, core = build(rate_limits=limits, redis_url=None)  # the tenant bucket is one key: keep it private
    tenant = make_tenant(core)
    admin.create_user(core, email="bob@example.com", password="bob password 1234")
    alice = Me(client, me_token(client, tenant, core))
    bob = Me(client, me_token(client, tenant, core, username="bob@example.com", password="bob password 1234"))
    alice_password = f"/authentication-methods/{quote(password_method_id(tenant.user), safe='')}"

    reads = [alice.get("/factors") for _ in range(2)]  # tenant 4 -> 2, alice 3 -> 1
    assert [r.status_code for r in reads] == [200, 200]
    assert [(r.headers["x-ratelimit-limit"], r.headers["x-ratelimit-remaining"]) for r in reads] == [
        ("3", "2"),  # tenant 3 left, alice 2: the tighter bucket is the one shown
        ("3", "1"),
    ]
    first = bob.get("/factors")  # tenant 2 -> 1, bob 3 -> 2: the tenant bucket is the tighter
    assert first.status_code == 200
    assert (first.headers["x-ratelimit-limit"], first.headers["x-ratelimit-remaining"]) == ("4", "1")
    assert bob.get("/factors").status_code == 200  # tenant 1 -> 0
    # Bob has read twice of his 3, Alice twice of hers: what stops them now is the tenant-wide bucket.
    assert bob.get("/factors").status_code == 429
    assert alice.get("/factors").status_code == 429
    assert alice.patch(alice_password, {}).status_code == 429
