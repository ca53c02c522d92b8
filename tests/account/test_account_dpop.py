"""The account page with DPoP (RFC 9449) in headless Chromium.

The My Account API requires DPoP-bound tokens (`proof_of_possession.required`), and the page is configured to
bind its tokens (`account_page_dpop`, config.json `"dpop": true`): it keeps a non-extractable WebCrypto key in
IndexedDB and sends a proof with every token request and API call. The whole flow of
`test_account_browser.test_manage_sign_in_methods` runs again in this mode, same-origin and cross-origin, with
and without server nonces; the traffic it made is then checked proof by proof.

The server's clock is frozen (and moved on a minute by that flow) while proofs carry the browser's real time in
`iat`, so these servers accept proofs within five minutes instead of one (`dpop_iat_window_seconds`).
"""

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import jwt
import pytest
from playwright.sync_api import Page, Response, expect
from starlette.testclient import TestClient

from myaccount import admin
from myaccount.account_page import page_config, page_uses_dpop
from myaccount.core import Core
from myaccount.crypto.keys import thumbprint
from myaccount.oauth.dpop import access_token_hash, normalize_htu
from myaccount.settings import Settings
from tests.account.test_account_browser import (
    EMAIL,
    PASSWORD,
    Mailbox,
    Site,
    Tab,
    _expected_console,
    _site,
    browser,
    mailbox,
    tab,
)
from tests.account.test_account_browser import test_manage_sign_in_methods as manage_sign_in_methods

# The browser tests' fixtures, used here by name.
__all__ = ["browser", "mailbox", "tab"]

pytestmark = pytest.mark.browser

DPOP_REQUIRED = {"proof_of_possession": {"mechanism": "dpop", "required": True}}


def dpop_settings(make_settings: Callable[..., Settings], *, nonces: bool) -> Callable[..., Settings]:
    def make(**values: Any) -> Settings:
        return make_settings(**values, account_page_dpop=True, dpop_require_nonce=nonces, dpop_iat_window_seconds=300)

    return make


def require_dpop(core: Core) -> Core:
    admin.update_resource_server(core, core.settings.my_account_audience, DPOP_REQUIRED)
    core.invalidate_apis()
    return core


# --- what went over the wire --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Proof:
    header: dict[str, Any]
    claims: dict[str, Any]

    @property
    def jkt(self) -> str:
        return thumbprint(self.header["jwk"])


def decode_proof(value: str) -> Proof:
    """Verify a DPoP proof's form and signature with the key in its own header (RFC 9449 §4.2, §4.3)."""
    header = jwt.get_unverified_header(value)
    assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256"
    jwk = header["jwk"]
    assert set(jwk) == {"kty", "crv", "x", "y"} and jwk["kty"] == "EC" and jwk["crv"] == "P-256"  # public only
    claims = jwt.decode(value, jwt.PyJWK(jwk).key, algorithms=["ES256"], options={"verify_aud": False})
    assert set(claims) <= {"jti", "htm", "htu", "iat", "ath", "nonce"}
    assert len(claims["jti"]) >= 16 and isinstance(claims["iat"], int)
    return Proof(header, claims)


@dataclass(frozen=True)
class Exchange:
    method: str
    url: str
    status: int
    request_headers: dict[str, str]
    response_headers: dict[str, str]
    form: dict[str, str]

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def proof(self) -> Proof | None:
        value = self.request_headers.get("dpop")
        return decode_proof(value) if value else None

    @property
    def asked_for_nonce(self) -> bool:
        """A 400 (token endpoint) or 401 (API) answer saying: again, with the nonce in DPoP-Nonce."""
        challenge = self.response_headers.get("www-authenticate", "")
        return bool(self.response_headers.get("dpop-nonce")) and (
            (self.status == 401 and 'error="use_dpop_nonce"' in challenge) or (self.status == 400 and not challenge)
        )


class Traffic:
    """The page's calls to the token endpoint and the My Account API, as Chromium made them."""

    def __init__(self, page: Page) -> None:
        self._responses: list[Response] = []
        page.on("response", self._seen)

    def _seen(self, response: Response) -> None:
        path = urlsplit(response.url).path
        if path == "/oauth/token" or path.startswith("/me/v1/"):
            self._responses.append(response)

    def clear(self) -> None:
        self._responses.clear()

    def exchanges(self) -> list[Exchange]:
        out = []
        for response in self._responses:
            request = response.request
            form = {k: v[0] for k, v in parse_qs(request.post_data or "").items()} if request.method == "POST" else {}
            out.append(
                Exchange(
                    request.method, request.url, response.status, request.all_headers(), response.all_headers(), form
                )
            )
        return out


def check_api_call(exchange: Exchange) -> Proof:
    """An API call made the DPoP way: `Authorization: DPoP`, a proof for this request and this token."""
    scheme, _, token = exchange.request_headers.get("authorization", "").partition(" ")
    assert scheme == "DPoP", exchange
    proof = exchange.proof
    assert proof is not None, exchange
    assert proof.claims["htm"] == exchange.method
    assert proof.claims["htu"] == normalize_htu(exchange.url) and "?" not in proof.claims["htu"]
    assert proof.claims["ath"] == access_token_hash(token)
    cnf = jwt.decode(token, options={"verify_signature": False})["cnf"]
    assert cnf == {"jkt": proof.jkt}  # the token is bound to the very key that signed the proof
    return proof


def check_nonce_retries(exchanges: list[Exchange]) -> int:
    """Each answer asking for a nonce is followed by the same request with that nonce; returns how many."""
    retried = 0
    for index, exchange in enumerate(exchanges):
        if not exchange.asked_for_nonce:
            continue
        first = exchange.proof
        assert first is not None and "nonce" not in first.claims, exchange
        again = next(
            e
            for e in exchanges[index + 1 :]
            if (e.method, e.url, e.form) == (exchange.method, exchange.url, exchange.form)
        )
        second = again.proof
        assert second is not None and second.claims.get("nonce") and second.claims["jti"] != first.claims["jti"]
        assert not again.asked_for_nonce, again
        retried += 1
    return retried


@dataclass(frozen=True)
class StoredKey:
    extractable: bool
    usages: list[str]
    algorithm: str
    curve: str
    jwk: dict[str, str]


def stored_key(page: Page, client_id: str) -> StoredKey | None:
    """The page's DPoP key pair as IndexedDB holds it: the private half must be non-extractable."""
    found: dict[str, Any] | None = page.evaluate(
        """async (name) => {
            const db = await new Promise((resolve, reject) => {
                const request = indexedDB.open("myaccount.account");
                request.onsuccess = () => resolve(request.result);
                request.onerror = () => reject(request.error);
            });
            try {
                if (!db.objectStoreNames.contains("dpop-keys")) return null;
                const pair = await new Promise((resolve, reject) => {
                    const request = db.transaction("dpop-keys").objectStore("dpop-keys").get(name);
                    request.onsuccess = () => resolve(request.result);
                    request.onerror = () => reject(request.error);
                });
                if (!pair) return null;
                const { crv, kty, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
                let exported = false;
                try {
                    await crypto.subtle.exportKey("jwk", pair.privateKey);
                    exported = true;
                } catch (error) {
                    exported = false;
                }
                return {
                    extractable: pair.privateKey.extractable || exported,
                    usages: pair.privateKey.usages,
                    algorithm: pair.privateKey.algorithm.name,
                    curve: pair.privateKey.algorithm.namedCurve,
                    jwk: { crv, kty, x, y },
                };
            } finally {
                db.close();
            }
        }""",
        f"dpop:{client_id}",
    )
    return StoredKey(**found) if found else None


def session_tokens(page: Page) -> dict[str, Any]:
    tokens: dict[str, Any] = json.loads(page.evaluate("sessionStorage.getItem('myaccount.account.tokens')"))
    return tokens


def page_client_id(page: Page, site: Site) -> str:
    config: dict[str, Any] = page.evaluate("(url) => fetch(url).then((r) => r.json())", f"{site.page_url}config.json")
    assert config["dpop"] is True
    return str(config["client_id"])


# --- the site, with DPoP required ---------------------------------------------------------------------------
@pytest.fixture(
    params=[("same-origin", False), ("same-origin", True), ("cross-origin", True)],
    ids=["same-origin", "same-origin-nonce", "cross-origin-nonce"],
)
def site(
    request: pytest.FixtureRequest,
    make_settings: Callable[..., Settings],
    make_core: Callable[[Settings], Core],
    mailbox: tuple[Mailbox, int],
) -> Iterator[Site]:
    variant, nonces = request.param
    settings = dpop_settings(make_settings, nonces=nonces)
    for made in _site(variant, settings, lambda s: require_dpop(make_core(s)), mailbox):
        made.shots = f"dpop-{request.node.callspec.id}"
        yield made


def test_manage_sign_in_methods_with_dpop(tab: Tab, site: Site) -> None:
    nonces = site.core.settings.dpop_require_nonce
    api = site.core.api(site.core.settings.my_account_audience)
    assert api is not None and api.proof_of_possession == DPOP_REQUIRED["proof_of_possession"]
    traffic = Traffic(tab.page)

    manage_sign_in_methods(tab, site)  # everything the page does, now with DPoP-bound tokens

    exchanges = traffic.exchanges()
    calls = [e for e in exchanges if e.path.startswith("/me/v1/")]
    token_requests = [e for e in exchanges if e.path == "/oauth/token"]
    assert len(calls) > 20 and len(token_requests) >= 2
    api_keys = {check_api_call(call).jkt for call in calls}
    token_proofs = [e.proof for e in token_requests]
    assert all(p is not None and p.claims["htu"] == f"{site.url}/oauth/token" for p in token_proofs)
    assert all(p is not None and "ath" not in p.claims for p in token_proofs)
    # Sign-out dropped the key: the second sign-in bound its tokens to a new one.
    assert len(api_keys) == 2
    assert {p.jkt for p in token_proofs if p is not None} == api_keys
    assert all(("nonce" in e.proof.claims) == nonces for e in calls if e.proof and e.status != 401)
    if nonces:
        # The first proof of each sign-in had no nonce: 400 use_dpop_nonce, then the same request with it.
        assert check_nonce_retries(token_requests) == 2
        assert sum(e.status == 400 for e in token_requests) == 2
    else:
        assert all(e.status == 200 for e in token_requests)
        assert all("dpop-nonce" not in e.response_headers for e in exchanges)

    # The key: non-extractable, in IndexedDB, and the one the current tokens are bound to.
    client_id = page_client_id(tab.page, site)
    key = stored_key(tab.page, client_id)
    assert key is not None and key.extractable is False and key.usages == ["sign"]
    assert (key.algorithm, key.curve) == ("ECDSA", "P-256")
    tokens = session_tokens(tab.page)
    assert tokens["token_type"] == "DPoP"
    access = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert access["cnf"] == {"jkt": thumbprint(key.jwk)} and thumbprint(key.jwk) in api_keys

    # The API refuses the same token without a proof.
    bearer = httpx.get(
        f"{site.url}/me/v1/authentication-methods", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert bearer.status_code == 401 and bearer.headers["www-authenticate"].startswith("DPoP ")

    if nonces:
        # A reload forgets the nonces (kept in memory only): the API asks for one, and each call is tried again.
        traffic.clear()
        tab.open()
        expect(tab.page.locator("html")).to_have_attribute("data-ready", "signed-in")
        reloaded = [e for e in traffic.exchanges() if e.path.startswith("/me/v1/")]
        assert check_nonce_retries(reloaded) >= 1
        assert [e.status for e in reloaded].count(200) == 2  # methods and factors
        for call in reloaded:
            check_api_call(call)
    assert _expected_console(tab.problems) == []


@pytest.fixture
def same_origin_site(
    make_settings: Callable[..., Settings],
    make_core: Callable[[Settings], Core],
    mailbox: tuple[Mailbox, int],
) -> Iterator[Site]:
    settings = dpop_settings(make_settings, nonces=True)
    for made in _site("same-origin", settings, lambda s: require_dpop(make_core(s)), mailbox):
        made.shots = "dpop-refresh"
        yield made


def test_expired_token_is_refreshed_with_a_proof(tab: Tab, same_origin_site: Site) -> None:
    site, page = same_origin_site, tab.page
    traffic = Traffic(page)
    tab.open()
    tab.sign_in()
    tokens = session_tokens(page)
    # Later: the access token has expired. On the next load the page refreshes it, with a proof of the same key
    # (the refresh token is bound to it, RFC 9449 §5), asked again for a nonce after the reload.
    page.evaluate(
        "sessionStorage.setItem('myaccount.account.tokens', JSON.stringify({...JSON.parse("
        "sessionStorage.getItem('myaccount.account.tokens')), expires_at: 0}))"
    )
    traffic.clear()
    tab.open()
    expect(page.locator("html")).to_have_attribute("data-ready", "signed-in")
    exchanges = traffic.exchanges()
    refreshes = [e for e in exchanges if e.form.get("grant_type") == "refresh_token"]
    assert [e.status for e in refreshes] == [400, 200]
    assert check_nonce_retries(refreshes) == 1
    first_call = next(e for e in exchanges if e.path.startswith("/me/v1/"))
    assert exchanges.index(refreshes[-1]) < exchanges.index(first_call)
    refreshed = session_tokens(page)
    assert refreshed["access_token"] != tokens["access_token"]
    assert refreshed["refresh_token"] != tokens["refresh_token"]  # rotated
    proofs = {e.proof.jkt for e in exchanges if e.proof is not None}
    assert len(proofs) == 1
    for call in (e for e in exchanges if e.path.startswith("/me/v1/")):
        assert check_api_call(call).jkt in proofs
    # Without a proof of that key, the refresh token is worthless.
    stolen = httpx.post(
        f"{site.url}/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refreshed["refresh_token"],
            "client_id": page_client_id(page, site),
        },
    )
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_dpop_proof"
    assert _expected_console(tab.problems) == []


def test_config_json_says_when_to_use_dpop(
    make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core]
) -> None:
    core = make_core(make_settings())
    assert "dpop" not in page_config(core.settings, "cid") and not page_uses_dpop(core)
    require_dpop(core)
    assert page_uses_dpop(core)  # an API that requires DPoP: the page has to bind its tokens
    assert page_config(core.settings, "cid", dpop=page_uses_dpop(core))["dpop"] is True
    flagged = make_core(make_settings(account_page_dpop=True))
    assert page_uses_dpop(flagged) and page_config(flagged.settings, "cid")["dpop"] is True


def test_unsupported_browser_falls_back_to_bearer_and_explains(tab: Tab, same_origin_site: Site) -> None:
    """A browser without IndexedDB cannot keep a key: the page asks for a plain token, which this API refuses."""
    page = tab.page
    page.add_init_script("Object.defineProperty(window, 'indexedDB', { value: undefined })")
    traffic = Traffic(page)
    tab.open()
    page.click("#sign-in")
    page.wait_for_url(re.compile(r".*/u/login\?"))
    assert "dpop_jkt" not in page.url
    page.fill("#username", EMAIL)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("#password-form button[type=submit]")
    if "/u/passkey-enroll" in page.url:
        with page.expect_navigation():
            page.click("#passkey-later")
    expect(page.locator("html")).to_have_attribute("data-ready", "signed-out")
    notice = page.locator(".notice.error")
    expect(notice).to_contain_text("The sign-in request was refused.")
    expect(notice).to_contain_text("accepts only DPoP-bound tokens")
    token_requests = [e for e in traffic.exchanges() if e.path == "/oauth/token"]
    assert len(token_requests) == 1 and token_requests[0].proof is None and token_requests[0].status == 400


def test_config_turns_dpop_on_when_the_api_requires_it(core: Core, client: TestClient) -> None:

    assert "dpop" not in client.get("/account/config.json").json()
    admin.update_resource_server(
        core, core.settings.my_account_audience, {"proof_of_possession": {"mechanism": "dpop", "required": True}}
    )
    assert client.get("/account/config.json").json()["dpop"] is True
