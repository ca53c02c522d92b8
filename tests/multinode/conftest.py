"""Two nodes on one PostgreSQL database and one Redis, as the scale-out deployment runs."""

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from myaccount.core import Core, build_core
from myaccount.settings import Settings
from myaccount.store.db import normalize_url
from tests.support.live import free_port
from tests.support.nodes import Node
from tests.support.tenant import Tenant, make_tenant

SECRET = "bXVsdGktbm9kZS10ZXN0LXNlY3JldC1rZXktMzItYnl0ZXMtbG9uZw"


@dataclass
class Cluster:
    nodes: list[Node]
    core: Core  # an in-process view of the same store, for setup and checks
    tenant: Tenant
    origin: str
    env: dict[str, str]


def _fresh_pg_database(worker: str) -> str:
    server = os.environ.get("MYACCOUNT_TEST_PG_SERVER", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"myaccount_multinode_{worker}"
    admin = create_engine(normalize_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(normalize_url(server)).set(database=name).render_as_string(False)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Iterator[Cluster]:
    tmp_path = tmp_path_factory.mktemp("nodes")
    redis_url = os.environ.get("MYACCOUNT_TEST_REDIS_SERVER", "redis://127.0.0.1:6379/14")
    redis.Redis.from_url(redis_url).flushdb()
    database = _fresh_pg_database(worker_id)
    ports = [free_port(), free_port()]
    origin = f"http://localhost:{ports[0]}"
    env = {
        "MYACCOUNT_PUBLIC_URL": origin,
        "MYACCOUNT_DATABASE_URL": database,
        "MYACCOUNT_REDIS_URL": redis_url,
        "MYACCOUNT_SECRET_KEY": SECRET,
        "MYACCOUNT_PURGE_INTERVAL_SECONDS": "0",
        "MYACCOUNT_ACCESS_LOG": "false",
        "MYACCOUNT_RATE_LIMITS__USER_WRITE_CAPACITY": "1000",
        "MYACCOUNT_RATE_LIMITS__CODE_ATTEMPT_CAPACITY": "120",
        "MYACCOUNT_RATE_LIMITS__CODE_ATTEMPT_PER_SECONDS": "3600",
    }
    settings = Settings(
        public_url=origin, database_url=database, redis_url=redis_url, secret_key=SECRET, purge_interval_seconds=0
    )
    core = build_core(settings)
    tenant = make_tenant(core)
    nodes = [Node(port=port, env=env, log_path=tmp_path / f"node{i}.log") for i, port in enumerate(ports)]
    try:
        for node in nodes:
            node.start()
        yield Cluster(nodes=nodes, core=core, tenant=tenant, origin=origin, env=env)
    finally:
        for node in nodes:
            node.stop()
        core.db.dispose()


@pytest.fixture
def user(cluster: Cluster) -> str:
    """A user of its own for each test (the nodes are shared by the module): its email."""
    import secrets

    from myaccount import admin

    email = f"user-{secrets.token_hex(4)}@example.com"
    admin.create_user(cluster.core, email=email, password=cluster.tenant.password)
    return email
