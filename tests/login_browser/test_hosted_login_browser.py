"""Hosted login in real headless Chromium with a WebAuthn virtual authenticator (DevTools protocol)."""

import re
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import BrowserContext, Page

from myaccount.clock import FrozenClock
from myaccount.oauth.pkce import challenge_for
from myaccount.store.methods import MethodStore
from myaccount.store.tenant import TenantSettingsStore
from myaccount.store.users import UserStore
from tests.conftest import LiveServer
from tests.support.browser import VIRTUAL_AAGUID, WebAuthn, screenshot
from tests.support.factors import totp_now
from tests.support.smtp import Mailbox
from tests.support.tenant import Tenant

pytestmark = pytest.mark.browser
APP = "http://localhost:3000"


def _authorize(page: Page, server: LiveServer, site: Tenant, **extra: str) -> str:
    verifier = secrets.token_urlsafe(48)
    query = {
        "response_type": "code",
        "client_id": site.spa.client_id,
        "redirect_uri": site.redirect_uri,
        "scope": "openid profile email",
        "state": "st",
        "code_challenge": challenge_for(verifier),
        "code_challenge_method": "S256",
        **extra,
    }
    page.goto(f"{server.url}/authorize?{urlencode(query)}")
    return verifier


def _back_at_app(page: Page) -> str:
    page.wait_for_url(f"{APP}/**", timeout=15_000)
    query = parse_qs(urlsplit(page.url).query)
    assert query["state"] == ["st"], page.url
    return query["code"][0]


def _password_login(page: Page) -> None:
    page.fill("#username", "alice@example.com")
    page.fill("#password", "correct horse battery staple 9")
    page.click("#password-form button[type=submit]")


def test_sign_up_with_a_passkey_then_sign_in_by_autofill(
    page: Page, context: BrowserContext, server: LiveServer, site: Tenant
) -> None:
    authenticator = WebAuthn(context, page).add_authenticator(synced=True)
    _authorize(page, server, site, screen_hint="signup")
    page.wait_for_selector("#signup-email")
    screenshot(page, "signup", folder="login")
    page.fill("#signup-email", "dave@example.com")
    page.fill("#signup-name", "Dave")
    page.click("#signup-button")
    _back_at_app(page)
    assert len(authenticator.credentials()) == 1
    with server.core.db.read() as conn:
        dave = UserStore(conn).by_email("dave@example.com")
        assert dave is not None and dave.password_hash is None
        passkey = MethodStore(conn).list(dave.id, type_="passkey")[0]
    assert passkey.data["aaguid"] == VIRTUAL_AAGUID
    assert passkey.data["credential_device_type"] == "multi_device"
    # A new browser session: the login page starts a conditional-mediation request on load (autofill); the
    # virtual authenticator answers it with the discoverable credential, with no button pressed.
    context.clear_cookies()
    _authorize(page, server, site)
    _back_at_app(page)
    with server.core.db.read() as conn:
        used = MethodStore(conn).get(dave.id, passkey.id)
    assert used is not None and used.last_auth_at is not None
    assert used.data["sign_count"] >= passkey.data["sign_count"]


def test_sign_in_with_passkey_button(page: Page, context: BrowserContext, server: LiveServer, site: Tenant) -> None:
    WebAuthn(context, page).add_authenticator()
    _authorize(page, server, site, screen_hint="signup")
    page.fill("#signup-email", "erin@example.com")
    page.click("#signup-button")
    _back_at_app(page)
    context.clear_cookies()
    # A browser without passkey autofill: the button is the way in.
    page.add_init_script("PublicKeyCredential.isConditionalMediationAvailable = async () => false;")
    _authorize(page, server, site)
    page.wait_for_selector("#passkey-button")
    screenshot(page, "login", folder="login")
    page.click("#passkey-button")
    _back_at_app(page)
    with server.core.db.read() as conn:
        erin = UserStore(conn).by_email("erin@example.com")
        assert erin is not None
        assert all(m.last_auth_at is not None for m in MethodStore(conn).list(erin.id, type_="passkey"))


def test_password_then_totp_challenge(page: Page, server: LiveServer, site: Tenant) -> None:
    import json

    from myaccount.store.methods import MethodRecord

    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    core = server.core
    with core.db.write() as conn:
        TenantSettingsStore(conn).set("mfa_policy", "when_enrolled")
        sealed = core.sealer.seal(json.dumps({"secret": secret, "last_step": None}).encode(), purpose="method-secret")
        MethodStore(conn).add(
            MethodRecord(
                id="totp|dev_browsertotp00001",
                user_id=site.user.id,
                type="totp",
                name=None,
                confirmed=True,
                created_at=core.clock.now(),
                secret=sealed,
            )
        )
    _authorize(page, server, site)
    _password_login(page)
    page.wait_for_selector("#code")
    screenshot(page, "mfa-totp", folder="login")
    page.fill("#code", "000000")
    page.click("#mfa-form button[value=verify]")
    assert "wrong" in page.inner_text("#flow-error")
    assert isinstance(core.clock, FrozenClock)
    page.fill("#code", totp_now(secret, core.clock))
    page.click("#mfa-form button[value=verify]")
    page.wait_for_selector("#passkey-later")
    page.click("#passkey-later")
    _back_at_app(page)


def test_password_then_progressive_passkey_enrollment(
    page: Page, context: BrowserContext, server: LiveServer, site: Tenant
) -> None:
    authenticator = WebAuthn(context, page).add_authenticator()
    _authorize(page, server, site)
    _password_login(page)
    page.wait_for_selector("#passkey-create")
    screenshot(page, "passkey-offer", folder="login")
    page.click("#passkey-create")
    _back_at_app(page)
    assert len(authenticator.credentials()) == 1
    with server.core.db.read() as conn:
        assert MethodStore(conn).count(site.user.id, type_="passkey") == 1


def test_email_code_challenge_from_real_smtp(page: Page, server: LiveServer, site: Tenant, mailbox: Mailbox) -> None:
    from myaccount.store.methods import MethodRecord

    core = server.core
    with core.db.write() as conn:
        TenantSettingsStore(conn).set("mfa_policy", "always")
        MethodStore(conn).add(
            MethodRecord(
                id="email|dev_browseremail0001",
                user_id=site.user.id,
                type="email",
                name=None,
                confirmed=True,
                created_at=core.clock.now(),
                data={"email": "alice@example.com"},
            )
        )
    _authorize(page, server, site)
    _password_login(page)
    page.wait_for_selector("#code")
    assert re.search(r"a\*\*\*@example\.com", page.inner_text("main"))
    page.fill("#code", mailbox.code_for("alice@example.com"))
    page.click("#mfa-form button[value=verify]")
    page.wait_for_selector("#passkey-never")
    page.click("#passkey-never")
    _back_at_app(page)
