"""The account page's "Connected accounts" section end to end in headless Chromium: a second MyAccount is the
upstream provider (`tests.connected`); the page connects an account there through the upstream's hosted login,
lists it, and disconnects it. Screenshots land in build/screenshots/same-origin/."""

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect

from myaccount import connections
from myaccount.core import Core
from myaccount.settings import Settings
from myaccount.store.connected import ConnectionRecord
from myaccount.web.account_page import strings
from tests.account.test_account_browser import (  # noqa: F401  (fixtures)
    Site,
    Tab,
    _expected_console,
    browser,
    mailbox,
    same_origin_site,
    tab,
)
from tests.connected import CONNECTION, PASSWORD, UpstreamTenant, running_upstream
from tests.connected.conftest import migrated_upstream  # noqa: F401  (fixture)

NEW_KEYS = {
    "connected.title",
    "connected.show",
    "connected.lead",
    "connected.empty",
    "connected.none_configured",
    "connected.connect",
    "connected.scopes",
    "connected.since",
    "connected.disconnect",
    "connected.disconnect.title",
    "connected.disconnect.message",
    "connected.disconnect.confirm",
    "connected.disconnected",
    "connected.done",
    "connected.error.state",
    "connected.error.expired",
    "op.connect",
    "op.disconnect",
}


def test_the_strings_file_has_the_connected_accounts_strings() -> None:
    english = strings("en")
    assert NEW_KEYS <= set(english)
    assert english["connected.title"] == "Connected accounts"
    assert "{name}" in english["connected.connect"]


@pytest.fixture
def upstream(
    same_origin_site: Site,  # noqa: F811
    make_settings: Callable[..., Settings],
    make_core: Callable[[Settings], Core],
    tmp_path: Path,
    migrated_upstream: Path,  # noqa: F811
) -> Iterator[UpstreamTenant]:
    callback = f"{same_origin_site.url}/connect/callback"
    with running_upstream(make_settings, make_core, tmp_path, callback=callback, template=migrated_upstream) as tenant:
        yield tenant


@pytest.fixture
def connection(same_origin_site: Site, upstream: UpstreamTenant) -> ConnectionRecord:  # noqa: F811
    return connections.create_connection(same_origin_site.core, upstream.connection_body())


def test_no_connections_configured(tab: Tab, same_origin_site: Site) -> None:  # noqa: F811
    tab.open()
    tab.sign_in()
    expect(tab.page.locator("#connected")).to_contain_text("Connected accounts")
    tab.page.click("#show-connected")  # loaded on demand: the page's start calls only what it shows
    expect(tab.page.locator("#connected-list")).to_have_text("There are no services you can connect an account from.")
    assert _expected_console(tab.problems) == []


def test_connect_list_and_disconnect(
    tab: Tab,  # noqa: F811
    same_origin_site: Site,  # noqa: F811
    upstream: UpstreamTenant,
    connection: ConnectionRecord,
) -> None:
    page = tab.page
    tab.open()
    tab.sign_in()
    section = page.locator("#connected")
    page.click("#show-connected")
    expect(page.locator("#connected-title")).to_be_focused()
    expect(page.locator("#connected-list")).to_have_text("You haven't connected any accounts yet.")
    connect = page.locator(f'[data-connect="{CONNECTION}"]')
    expect(connect).to_have_text(f"Connect {CONNECTION}")
    tab.shot("connected-01-none")

    # Connect: off to the upstream's hosted login (another origin), then back with a connect_code.
    connect.click()
    page.wait_for_url(re.compile(re.escape(upstream.url) + r"/u/login\?"))
    tab.shot("connected-02-upstream-login")
    if not page.input_value("#username"):
        page.fill("#username", "bob@upstream.test")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("#password-form button[type=submit]")
    if "/u/passkey-enroll" in page.url:
        with page.expect_navigation():
            page.click("#passkey-later")
    expect(page.locator("html")).to_have_attribute("data-ready", "signed-in")
    tab.expect_notice("success", f"{CONNECTION} is connected.")
    assert "connect_code" not in page.url and "state=" not in page.url  # the answer left the address bar
    rows = page.locator("#connected-list li.connected-account")
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".method-name")).to_have_text(CONNECTION)
    expect(rows.first).to_contain_text("read:calendar")
    expect(rows.first).to_contain_text("Connected:")
    expect(section.locator("[data-connect]")).to_have_count(0)  # connected already: no button for it
    assert tab.unnamed_controls() == []
    tab.shot("connected-03-listed")

    # Disconnect, after confirming.
    rows.first.locator("[data-action=disconnect]").click()
    expect(tab.dialog()).to_contain_text(f"Disconnect {CONNECTION}?")
    tab.shot("connected-04-confirm")
    tab.dialog().locator(".button.danger").click()
    tab.expect_notice("success", f"{CONNECTION} was disconnected.")
    expect(rows).to_have_count(0)
    expect(page.locator("#connected-list")).to_have_text("You haven't connected any accounts yet.")
    expect(connect).to_be_visible()
    statuses = [(r.request.method, r.status) for r in same_origin_site.api_responses if "connected-accounts" in r.url]
    assert ("POST", 201) in statuses and ("DELETE", 204) in statuses
    assert _expected_console(tab.problems) == []
