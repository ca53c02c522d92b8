"""The account page end to end in headless Chromium: served by the identity server itself, and from another
origin through CORS. Passkeys come from DevTools virtual authenticators, email codes from a real SMTP server,
TOTP codes from the secret the page shows. Screenshots of each screen land in build/screenshots/."""

import base64
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from playwright.sync_api import Browser, BrowserContext, Page, Response, Route, expect

from myaccount import admin, authenticator
from myaccount.account_page import page_config
from myaccount.app import create_app
from myaccount.clock import FrozenClock
from myaccount.core import Core
from myaccount.methods.totp import totp_at
from myaccount.settings import Settings
from myaccount.store.methods import MethodStore
from myaccount.store.users import UserStore
from myaccount.tenant import MY_ACCOUNT_SCOPES
from myaccount.web.account_page import standalone_app
from tests.support.browser import WebAuthn, chromium, screenshot, segno_rows
from tests.support.live import free_port, serve

pytestmark = pytest.mark.browser

EMAIL = "alice@example.com"
PASSWORD = "correct horse battery staple 9"
NEW_PASSWORD = "Tr0ub4dor&3-horse"


class Mailbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted"

    def code_for(self, address: str) -> str:
        for message in reversed(self.messages):
            if message["To"] == address:
                found = re.search(r"\b(\d{6})\b", message.get_content())
                assert found, message.get_content()
                return found.group(1)
        raise AssertionError(f"no message to {address}")


@dataclass
class Site:
    """The identity server, and where its account page is served (itself, or another origin)."""

    url: str
    page_url: str
    core: Core
    mailbox: Mailbox
    shots: str
    api_responses: list[Response] = field(default_factory=list)

    @property
    def clock(self) -> FrozenClock:
        clock = self.core.clock
        assert isinstance(clock, FrozenClock)
        return clock


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


def _site(
    variant: str,
    make_settings: Callable[..., Settings],
    make_core: Callable[[Settings], Core],
    mailbox: tuple[Mailbox, int],
) -> Iterator[Site]:
    box, smtp_port = mailbox
    port, other_port = free_port(), free_port()
    url, other = f"http://localhost:{port}", f"http://localhost:{other_port}"
    # A page on another origin creates passkeys for RP ID `localhost` too; the server accepts that origin.
    settings = make_settings(public_url=url, smtp_host="127.0.0.1", smtp_port=smtp_port, webauthn_origins=[url, other])
    core = make_core(settings)
    app = create_app(settings, core=core)
    admin.create_user(core, email=EMAIL, password=PASSWORD, email_verified=True, name="Alice Example")
    with serve(app, port):
        if variant == "same-origin":
            yield Site(url, f"{url}/account/", core, box, variant)
            return
        # Any team's copy of the page: its own SPA application, registered for its own origin.
        client, _ = admin.create_client(
            core,
            name="Account page elsewhere",
            app_type="spa",
            callbacks=[f"{other}/account/"],
            allowed_origins=[other],
            web_origins=[other],
            allowed_logout_urls=[f"{other}/account/"],
        )
        admin.create_client_grant(
            core,
            client_id=client.client_id,
            audience=settings.my_account_audience,
            scope=list(MY_ACCOUNT_SCOPES),
            subject_type="user",
        )
        config = page_config(settings, client.client_id) | {"redirect_uri": f"{other}/account/"}
        with serve(standalone_app(config), other_port):
            yield Site(url, f"{other}/account/", core, box, variant)


@pytest.fixture(params=["same-origin", "cross-origin"])
def site(
    request: pytest.FixtureRequest,
    make_settings: Callable[..., Settings],
    make_core: Callable[[Settings], Core],
    mailbox: tuple[Mailbox, int],
) -> Iterator[Site]:
    yield from _site(request.param, make_settings, make_core, mailbox)


@pytest.fixture
def same_origin_site(
    make_settings: Callable[..., Settings],
    make_core: Callable[[Settings], Core],
    mailbox: tuple[Mailbox, int],
) -> Iterator[Site]:
    yield from _site("same-origin", make_settings, make_core, mailbox)


@dataclass
class Tab:
    """One browser tab on the account page, with what it logged."""

    page: Page
    context: BrowserContext
    webauthn: WebAuthn
    site: Site
    problems: list[str]

    def shot(self, name: str) -> Path:
        # A modal dims only the viewport: show just that, not the whole page around it.
        modal = self.page.locator("dialog[open]").count() > 0
        return screenshot(self.page, name, folder=self.site.shots, full_page=not modal)

    # navigation and sign-in
    def open(self) -> None:
        self.page.goto(self.site.page_url)
        expect(self.page.locator("html")).to_have_attribute("data-ready", re.compile("."))

    def hosted_login(self, password: str = PASSWORD) -> None:
        page = self.page
        page.wait_for_url(re.compile(r".*/u/login\?"))
        page.fill("#password", password)
        if not page.input_value("#username"):
            page.fill("#username", EMAIL)
        with page.expect_navigation():
            page.click("#password-form button[type=submit]")
        if "/u/passkey-enroll" in page.url:  # the hosted login's own passkey offer: not now
            with page.expect_navigation():
                page.click("#passkey-later")
        expect(page.locator("html")).to_have_attribute("data-ready", "signed-in")

    def sign_in(self) -> None:
        self.page.click("#sign-in")
        self.hosted_login()

    # reading the page
    def rows(self, list_id: str) -> list[str]:
        return [n.strip() for n in self.page.locator(f"#{list_id} .method-name").all_inner_texts()]

    def row(self, name: str) -> Any:
        return self.page.locator("li.method", has=self.page.locator(".method-name", has_text=re.compile(f"^{name}$")))

    def expect_notice(self, kind: str, text: str | re.Pattern[str]) -> None:
        expect(self.page.locator(f".notice.{kind}")).to_contain_text(text)

    def dismiss_notice(self) -> None:
        self.page.locator(".notice .dismiss").click()

    def dialog(self) -> Any:
        return self.page.locator("dialog[open]")

    def unnamed_controls(self) -> list[str]:
        """Visible controls a screen reader could not name (no label, text, aria-label or alt)."""
        found: list[str] = self.page.evaluate(
            """() => [...document.querySelectorAll("button, input, select, textarea, a[href], [role=img], img")]
                .filter((el) => el.getClientRects().length > 0)
                .filter((el) => {
                    if (el.tagName === "IMG" && el.getAttribute("alt") !== null) return false;
                    const by = el.getAttribute("aria-labelledby");
                    const name = el.getAttribute("aria-label")
                        || (by && document.getElementById(by)?.textContent)
                        || (el.labels && el.labels.length && el.labels[0].textContent)
                        || (el.tagName !== "INPUT" && el.textContent.trim());
                    return !name;
                })
                .map((el) => el.outerHTML.slice(0, 120))"""
        )
        return found

    def active(self, attribute: str = "textContent") -> Any:
        return self.page.evaluate(f"document.activeElement && document.activeElement.{attribute}")


@pytest.fixture
def tab(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Tab]:
    site: Site = request.getfixturevalue("site" if "site" in request.fixturenames else "same_origin_site")
    context = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if "Content Security Policy" in message.text or message.type == "error" and "favicon" not in message.text
            else None
        ),
    )
    page.on("response", lambda response: site.api_responses.append(response) if "/me/v1/" in response.url else None)
    tab = Tab(page, context, WebAuthn(context, page), site, problems)
    try:
        yield tab
    finally:
        context.close()


def _expected_console(problems: list[str]) -> list[str]:
    # Failed API calls are logged by Chromium as "Failed to load resource"; those the test provoked are expected.
    return [p for p in problems if "Failed to load resource" not in p]


def test_manage_sign_in_methods(tab: Tab, site: Site) -> None:
    page = tab.page
    tab.open()
    expect(page.locator("#sign-in")).to_be_visible()
    tab.shot("01-signed-out")
    page.click("#sign-in")
    page.wait_for_url(re.compile(r".*/u/login\?"))
    tab.shot("02-hosted-login")
    tab.hosted_login()
    expect(page.locator("#session-user")).to_have_text(EMAIL)
    assert tab.rows("other-list") == ["Password"]
    expect(page.locator("#passkey-list")).to_have_text("You don't have any passkeys yet.")
    tab.shot("03-signed-in")
    assert tab.unnamed_controls() == []

    # Two passkeys, from two devices.
    laptop = tab.webauthn.add_authenticator()
    page.click("#add-passkey")
    tab.expect_notice("success", "Passkey added")
    assert len(tab.rows("passkey-list")) == 1
    page.click("#add-passkey")  # the same device again: excludeCredentials makes the browser refuse
    tab.expect_notice("error", "This device already has a passkey for your account")
    tab.shot("04-passkey-already-on-device")
    laptop.remove()
    site.clock.advance(minutes=1)  # the server's clock is frozen; let the second passkey be the newer one
    tab.webauthn.add_authenticator(synced=True)
    page.click("#add-passkey")
    tab.expect_notice("success", "Passkey added")
    assert len(tab.rows("passkey-list")) == 2
    passkeys = page.locator("#passkey-list li.method")
    expect(passkeys.nth(0)).to_contain_text("This device only")
    expect(passkeys.nth(1)).to_contain_text("Synced")
    expect(passkeys.nth(0)).to_contain_text(re.compile(r"Created in:\s*HeadlessChrome \d+"))
    expect(passkeys.nth(0)).to_contain_text("Not used yet")
    tab.shot("05-two-passkeys")

    # Rename the first one, with the keyboard.
    passkeys.nth(0).locator("[data-action=rename]").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".rename-input")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("Work laptop")
    tab.shot("06-rename")
    page.keyboard.press("Enter")
    tab.expect_notice("success", "Renamed to Work laptop.")
    assert tab.rows("passkey-list") == ["Work laptop", "Passkey"]
    assert tab.active() == "Rename"  # focus went back to the renamed method's button
    expect(tab.row("Work laptop").locator("[data-action=rename]")).to_be_focused()

    # Delete the other one, after confirming.
    tab.row("Passkey").locator("[data-action=delete]").click()
    expect(tab.dialog()).to_contain_text("Remove Passkey?")
    assert tab.active() == "Cancel"  # the safe choice has focus
    tab.shot("07-confirm-delete")
    tab.dialog().locator(".button.danger").click()
    tab.expect_notice("success", "Passkey was removed.")
    assert tab.rows("passkey-list") == ["Work laptop"]

    # The password can go (a passkey remains); the last passkey cannot: 409, explained.
    tab.row("Password").locator("[data-action=delete]").click()
    tab.dialog().locator(".button.danger").click()
    tab.expect_notice("success", "Password was removed.")
    tab.row("Work laptop").locator("[data-action=delete]").click()
    tab.dialog().locator(".button.danger").click()
    tab.expect_notice("error", "Work laptop is your last way to sign in, so it can't be removed.")
    expect(page.locator(".notice.error")).to_contain_text("Can't remove your last way in")
    assert tab.active() == "Can't remove your last way in"  # focus on the message, read out by screen readers
    tab.shot("08-last-way-in")
    assert tab.rows("passkey-list") == ["Work laptop"]

    # An authenticator app: QR code and setup key, a wrong code first, then the right one.
    page.click("[data-enroll=totp]")
    dialog = tab.dialog()
    expect(dialog.locator("svg.qr")).to_be_visible()
    secret = dialog.locator("code.secret").get_attribute("data-secret")
    assert secret and re.fullmatch(r"[A-Z2-7]{16,}", secret)
    assert dialog.locator("code.secret").inner_text().replace(" ", "") == secret
    dialog.get_by_label("Code from the app").fill("000000")
    dialog.get_by_role("button", name="Verify").click()
    expect(dialog.locator(".field-error")).to_contain_text(re.compile(r"code is (wrong|invalid)"))
    expect(dialog.get_by_label("Code from the app")).to_have_attribute("aria-invalid", "true")
    tab.shot("09-totp-wrong-code")
    assert tab.unnamed_controls() == []
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    dialog.get_by_label("Code from the app").fill(totp_at(key, int(site.clock.now().timestamp())))
    dialog.get_by_role("button", name="Verify").click()
    tab.expect_notice("success", "Authenticator app added.")

    # Email: an address, the code from the mail server, verified.
    page.click("[data-enroll=email]")
    dialog = tab.dialog()
    dialog.get_by_label("Email address").fill("alice.work@example.com")
    dialog.get_by_role("button", name="Send code").click()
    expect(dialog).to_contain_text("We sent a code to alice.work@example.com")
    tab.shot("10-email-code")
    dialog.get_by_label("Verification code").fill(site.mailbox.code_for("alice.work@example.com"))
    dialog.get_by_role("button", name="Verify").click()
    tab.expect_notice("success", "Email address added: alice.work@example.com.")

    # A recovery code: shown once, downloaded, confirmed.
    page.click("[data-enroll=recovery-code]")
    dialog = tab.dialog()
    code = dialog.locator("#recovery-code").get_attribute("data-code")
    assert code and len(code) >= 16
    tab.shot("11-recovery-code")
    with page.expect_download() as download:
        dialog.get_by_role("button", name="Download").click()
    saved = Path(download.value.path()).read_text()
    assert code in saved and EMAIL in saved
    dialog.get_by_role("button", name="Done").click()
    expect(dialog.locator(".field-error")).to_contain_text("Save the code first")
    dialog.get_by_label("I've saved my recovery code").check()
    dialog.get_by_role("button", name="Done").click()
    tab.expect_notice("success", "Recovery code saved.")

    # A password again, with the policy as a live checklist.
    page.click("[data-enroll=password]")
    dialog = tab.dialog()
    expect(dialog.locator("h2")).to_have_text("Set a password")
    dialog.get_by_label("New password", exact=True).fill("aaa123")
    expect(dialog.locator("[data-rule=min_length]")).to_have_attribute("data-state", "unmet")
    expect(dialog.locator("[data-rule=identical]")).to_have_attribute("data-state", "unmet")
    expect(dialog.locator("[data-rule=sequential]")).to_have_attribute("data-state", "unmet")
    expect(dialog.locator("[data-rule=dictionary]")).to_have_attribute("data-state", "server")
    dialog.get_by_role("button", name="Save password").click()
    expect(dialog.locator(".field-error").first).to_contain_text("doesn't meet all the requirements")
    tab.shot("12-password-policy")
    assert tab.unnamed_controls() == []
    dialog.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    for rule in ("min_length", "character_types", "identical", "sequential", "profile"):
        expect(dialog.locator(f"[data-rule={rule}]")).to_have_attribute("data-state", "met")
    dialog.get_by_role("button", name="Save password").click()
    tab.expect_notice("success", "Your password is set.")

    tab.dismiss_notice()
    assert tab.rows("passkey-list") == ["Work laptop"]
    assert tab.rows("other-list") == ["Authenticator app", "alice.work@example.com", "Recovery code", "Password"]
    expect(page.locator("#other-list .badge.ok")).to_have_count(3)
    page.evaluate("window.scrollTo(0, 0)")
    tab.shot("13-account-page")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: one column, actions under each method
    tab.shot("14-account-page-narrow")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 1100, "height": 900})
    page.emulate_media(color_scheme="dark")
    tab.shot("15-account-page-dark")
    page.emulate_media(color_scheme="light")
    assert tab.unnamed_controls() == []
    with site.core.db.read() as conn:
        user = UserStore(conn).by_email(EMAIL)
        assert user is not None
        stored = {(m.type, m.name, m.confirmed) for m in MethodStore(conn).list(user.id)}
    assert {("passkey", "Work laptop", True), ("totp", None, True), ("recovery-code", None, True)} <= stored
    assert any(t == "email" and c for t, _, c in stored)

    # Sign out, then back in with the new password.
    with page.expect_navigation(url=site.page_url):
        page.click("#sign-out")
    expect(page.locator("#sign-in")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
    page.click("#sign-in")
    tab.hosted_login(NEW_PASSWORD)
    assert tab.rows("passkey-list") == ["Work laptop"]

    if site.page_url.startswith(site.url):
        assert all("access-control-allow-origin" not in r.headers for r in site.api_responses)
    else:  # every API call crossed origins, and CORS let the page read Location on enrollment
        page_origin = site.page_url.rsplit("/account/", 1)[0]
        assert site.api_responses
        assert all(r.headers.get("access-control-allow-origin") == page_origin for r in site.api_responses)
        enrollments = [r for r in site.api_responses if r.status == 202]
        assert enrollments and all(
            "Location" in r.headers.get("access-control-expose-headers", "") for r in enrollments
        )
    assert _expected_console(tab.problems) == []


def test_recent_login_is_asked_for_and_the_operation_resumes(tab: Tab, same_origin_site: Site) -> None:
    site, page = same_origin_site, tab.page
    tab.open()
    tab.sign_in()
    # Later: the access token has expired (by the server's clock) and the login is no longer recent.
    site.clock.advance(minutes=16)
    page.click("[data-enroll=password]")
    expect(tab.dialog()).to_contain_text("To change your password, you need to have signed in within the last")
    expect(page.locator("#reauth-continue")).to_be_focused()
    tab.shot("reauth-01-confirm")
    with page.expect_navigation():
        page.click("#reauth-continue")
    page.wait_for_url(re.compile(r".*/u/login\?"))  # prompt=login: the session alone is not enough
    expect(page.locator("#username")).to_have_value(EMAIL)  # login_hint
    tab.shot("reauth-02-login")
    tab.hosted_login()
    # Back on the page, the operation carries on where it stopped.
    dialog = tab.dialog()
    expect(dialog.locator("h2")).to_have_text("Change your password")
    expect(page.locator(".notice.info")).to_contain_text("Continuing: change your password.")
    tab.shot("reauth-03-resumed")
    dialog.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    dialog.get_by_role("button", name="Save password").click()
    tab.expect_notice("success", "Your password was changed.")
    with site.core.db.read() as conn:
        user = UserStore(conn).by_email(EMAIL)
    assert user is not None and site.core.passwords.verify(user.password_hash, NEW_PASSWORD)
    statuses = [r.status for r in site.api_responses]
    assert 401 in statuses and 403 in statuses  # expired token refreshed, then recent login required
    assert _expected_console(tab.problems) == []


def _fake_answer(status: int | None, body: dict[str, Any], headers: dict[str, str]) -> Callable[[Route], None]:
    """A route handler answering POSTs with an API error (or no answer at all), letting other requests through."""

    def answer(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
        elif status is None:
            route.abort("connectionrefused")
        else:
            problem = {"type": f"https://auth0.com/api-errors/A0E-{status}-0001", "status": status, "title": "x"}
            route.fulfill(status=status, json=problem | body, headers=headers)

    return answer


def test_every_api_error_gets_a_clear_message(tab: Tab, same_origin_site: Site) -> None:
    page = tab.page
    tab.open()
    tab.sign_in()
    cases: list[tuple[int | None, dict[str, Any], dict[str, str], str, str]] = [
        (
            400,
            {"detail": "Bad input.", "validation_errors": [{"detail": "type is wrong.", "pointer": "/type"}]},
            {},
            "That didn't work",
            "type is wrong.",
        ),
        (403, {"type": "https://auth0.com/api-errors/A0E-403-0002"}, {}, "Missing permission", "Sign out and in"),
        (403, {"type": "https://auth0.com/api-errors/A0E-403-0001"}, {}, "Not allowed", "not allowed"),
        (404, {}, {}, "Not found", "doesn't exist any more"),
        (409, {"detail": "Conflict."}, {}, "Can't remove your last way in", "without a way to sign in"),
        (413, {}, {}, "Request refused", "HTTP 413"),
        (415, {}, {}, "Request refused", "HTTP 415"),
        (429, {}, {"retry-after": "30"}, "Too many attempts", "Wait 30 seconds"),
        (500, {}, {}, "Server problem", "HTTP 500"),
        (503, {}, {}, "Server problem", "HTTP 503"),
        (None, {}, {}, "No connection", "couldn't reach the server"),
    ]
    for status, body, headers, title, message in cases:
        page.route("**/me/v1/authentication-methods", _fake_answer(status, body, headers))
        page.click("[data-enroll=totp]")
        notice = page.locator(".notice.error")
        expect(notice).to_contain_text(title)
        expect(notice).to_contain_text(message)
        retry = notice.get_by_role("button", name="Try again")
        expect(retry).to_have_count(1 if status in (None, 429, 500, 503) else 0)
        if status == 429:
            tab.shot("errors-429")
        page.unroute("**/me/v1/authentication-methods")
        tab.dismiss_notice()
    # The page keeps working after all that.
    page.click("[data-enroll=totp]")
    expect(tab.dialog().locator("svg.qr")).to_be_visible()
    page.keyboard.press("Escape")  # closes the dialog, focus returns to the button
    expect(page.locator("[data-enroll=totp]")).to_be_focused()
    expect(page.locator(".notice.info")).to_contain_text("Setup wasn't finished")
    expect(page.locator("#other-list")).to_contain_text("Setup not finished")


def test_broken_configuration_shows_a_message(tab: Tab, same_origin_site: Site) -> None:
    page = tab.page
    page.route("**/account/config.json", lambda route: route.fulfill(status=500, body="oops"))
    tab.open()
    expect(page.locator("#app")).to_contain_text("This page can't start")
    expect(page.locator("html")).to_have_attribute("data-ready", "failed")


def test_sign_in_errors_are_explained(tab: Tab, same_origin_site: Site) -> None:
    page = tab.page
    page.goto(f"{same_origin_site.page_url}?error=access_denied&error_description=Nope&state=forged")
    expect(page.locator(".notice.error")).to_contain_text("didn't match a sign-in started here")
    expect(page.locator("#sign-in")).to_be_visible()
    assert "error=" not in page.url  # the response is not left in the address bar


def _svg_modules(svg_path: str, border: int = 4) -> set[tuple[int, int]]:
    return {(int(x) - border, int(y) - border) for x, y in re.findall(r"M(\d+),(\d+)", svg_path)}


def test_phone_and_push(tab: Tab, same_origin_site: Site, tmp_path: Path) -> None:
    site, page = same_origin_site, tab.page
    tab.open()
    tab.sign_in()

    # A phone number; with no SMS provider configured, codes go to the development outbox.
    page.click("[data-enroll=phone]")
    dialog = tab.dialog()
    dialog.get_by_label("Phone number").fill("+15551234567")
    dialog.get_by_label("Voice call").check()
    dialog.get_by_role("button", name="Send code").click()
    expect(dialog).to_contain_text("We sent a code to +15551234567")
    code = site.core.outbox.latest_code("+15551234567")
    assert code
    dialog.get_by_label("Verification code").fill(code)
    dialog.get_by_role("button", name="Verify").click()
    tab.expect_notice("success", "Phone number added: +15551234567.")
    expect(tab.row(r"\+15551234567")).to_contain_text("Codes by: Voice call")

    # Push: the QR code carries the enrollment URI; until the device enrolls, Check says it is pending.
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/me/v1/authentication-methods")
    ) as started:
        page.click("[data-enroll=push-notification]")
    uri = started.value.json()["barcode_uri"]
    dialog = tab.dialog()
    drawn = _svg_modules(dialog.locator("svg.qr path").get_attribute("d") or "")
    matches = []
    for mask in range(8):
        _, rows = segno_rows(uri, mask=mask)
        matches.append({(x, y) for y, row in enumerate(rows) for x, module in enumerate(row) if module == "1"} == drawn)
    assert any(matches), "the QR code on the page does not encode the enrollment URI"
    dialog.get_by_role("button", name="Check").click()
    expect(dialog.locator("p.field-error")).to_contain_text("pending")
    tab.shot("push-pending")
    state = tmp_path / "devices.json"
    assert authenticator.main(["enroll", uri, "--state", str(state), "--name", "Test phone"]) == 0
    dialog.get_by_role("button", name="Check").click()
    tab.expect_notice("success", "Push notifications are set up.")
    assert "Test phone" in tab.rows("other-list")  # the name the device gave itself
    expect(tab.row("Test phone")).to_contain_text("Push notifications")
    assert _expected_console(tab.problems) == []
