"""Fixtures: our server (`live_server`), a second MyAccount as the upstream provider, the connection between them.

Both servers share the test's `FrozenClock`, so advancing it expires the upstream's tokens for both sides. The
upstream keeps its store in a SQLite file of its own (its store is not under test), whichever database ours uses.
"""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from myaccount import connections
from myaccount.core import Core
from myaccount.settings import Settings
from myaccount.store.connected import ConnectionRecord
from tests.conftest import LiveServer
from tests.connected import App, Browser, UpstreamTenant, make_app, running_upstream, upstream_template


@pytest.fixture(scope="session")
def migrated_upstream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return upstream_template(tmp_path_factory.mktemp("upstream"))


@pytest.fixture
def upstream(
    live_server: LiveServer,
    make_settings: Callable[..., Settings],
    make_core: Callable[[Settings], Core],
    tmp_path: Path,
    migrated_upstream: Path,
) -> Iterator[UpstreamTenant]:
    callback = f"{live_server.url}/connect/callback"
    with running_upstream(make_settings, make_core, tmp_path, callback=callback, template=migrated_upstream) as tenant:
        yield tenant


@pytest.fixture
def our_app(live_server: LiveServer) -> App:
    return make_app(live_server.core, live_server.url)


@pytest.fixture
def connection(live_server: LiveServer, upstream: UpstreamTenant) -> ConnectionRecord:
    return connections.create_connection(live_server.core, upstream.connection_body())


@pytest.fixture
def browser() -> Iterator[Browser]:
    agent = Browser()
    yield agent
    agent.close()
