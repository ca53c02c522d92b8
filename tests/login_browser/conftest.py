from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from myaccount.app import create_app
from myaccount.core import Core
from myaccount.settings import Settings
from tests.conftest import LiveServer
from tests.support.browser import chromium
from tests.support.live import free_port, serve
from tests.support.smtp import Mailbox, smtp_server
from tests.support.tenant import Tenant, make_tenant

APP = "http://localhost:3000"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def mailbox_server(
    make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core]
) -> Iterator[tuple[LiveServer, Mailbox]]:
    with smtp_server() as (mailbox, smtp_port):
        port = free_port()
        url = f"http://localhost:{port}"
        settings = make_settings(
            public_url=url, smtp_host="127.0.0.1", smtp_port=smtp_port, smtp_sender="MyAccount <no-reply@localhost>"
        )
        core = make_core(settings)
        app = create_app(settings, core=core)
        with serve(app, port):
            yield LiveServer(url, core, app), mailbox


@pytest.fixture
def server(mailbox_server: tuple[LiveServer, Mailbox]) -> LiveServer:
    return mailbox_server[0]


@pytest.fixture
def mailbox(mailbox_server: tuple[LiveServer, Mailbox]) -> Mailbox:
    return mailbox_server[1]


@pytest.fixture
def site(server: LiveServer) -> Tenant:
    return make_tenant(server.core)


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context()
    # The application's callback: nothing listens on port 3000, so answer it here and keep the URL.
    ctx.route(
        f"{APP}/**",
        lambda route: route.fulfill(status=200, body="<p id=app>back at the app</p>", content_type="text/html"),
    )
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
