import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from myaccount.app import create_app
from myaccount.clock import FrozenClock
from myaccount.core import Core, build_core
from myaccount.crypto.keys import KeyMaterial, generate_rsa
from myaccount.crypto.passwords import PasswordHashing
from myaccount.settings import Settings
from tests.support.databases import DatabasePool
from tests.support.live import free_port, serve
from tests.support.tenant import Tenant, make_tenant

TEST_SECRET = "dGVzdC1zZWNyZXQta2V5LWZvci1teWFjY291bnQtdGVzdHMtb25seQ"


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[DatabasePool]:
    pool = DatabasePool(tmp_path_factory.mktemp("db"), worker_id)
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def key_pool() -> Callable[[], KeyMaterial]:
    """RSA generation takes ~60 ms; tests draw from a pool made once (still real keys, real signatures)."""
    keys = [generate_rsa() for _ in range(8)]
    cycle = itertools.cycle(keys)
    return lambda: next(cycle)


@pytest.fixture(scope="session")
def fast_passwords() -> PasswordHashing:
    # Real argon2id with small parameters; the production parameters have their own test.
    return PasswordHashing(memory_cost=1024, time_cost=1)


@pytest.fixture
def clock() -> FrozenClock:
    # Real "now", frozen: tokens also verify in third-party libraries that read the system time.
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def database_url(databases: DatabasePool) -> str:
    return databases.fresh()


@pytest.fixture
def make_settings(database_url: str, tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "public_url": "http://localhost",
            "database_url": database_url,
            "secret_key": TEST_SECRET,
            "environment": "test",
            "redis_url": os.environ.get("MYACCOUNT_TEST_REDIS_URL"),
            # Each test its own Redis keys: rate-limit buckets must not carry over between tests or workers.
            "redis_prefix": f"test:{uuid.uuid4().hex}:",
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def make_core(
    clock: FrozenClock, key_pool: Callable[[], KeyMaterial], fast_passwords: PasswordHashing
) -> Iterator[Callable[[Settings], Core]]:
    built: list[Core] = []

    def make(settings: Settings) -> Core:
        core = build_core(settings, clock=clock, passwords=fast_passwords, generate_key=key_pool)
        built.append(core)
        return core

    yield make
    for core in built:
        core.db.dispose()


@pytest.fixture
def core(settings: Settings, make_core: Callable[[Settings], Core]) -> Core:
    return make_core(settings)


@pytest.fixture
def app(settings: Settings, core: Core) -> Starlette:
    return create_app(settings, core=core)


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://localhost", follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def tenant(core: Core) -> Tenant:
    return make_tenant(core)


class LiveServer:
    def __init__(self, url: str, core: Core, app: Starlette) -> None:
        self.url = url
        self.core = core
        self.app = app

    @property
    def domain(self) -> str:
        return self.url.split("://", 1)[1]


@pytest.fixture
def live_server(make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core]) -> Iterator[LiveServer]:
    port = free_port()
    url = f"http://localhost:{port}"
    settings = make_settings(public_url=url)
    core = make_core(settings)
    app = create_app(settings, core=core)
    with serve(app, port):
        yield LiveServer(url, core, app)


@pytest.fixture
def live_tenant(live_server: LiveServer) -> Tenant:
    return make_tenant(live_server.core)
