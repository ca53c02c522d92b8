"""Auth0's SPA SDK (@auth0/auth0-spa-js, from npm) with DPoP, in headless Chromium, against a live server.

A test page on its own origin loads the SDK's ES module build and `node/spa.js`, an application written as the
SDK's users write them: `new Auth0Client({useDpop: true, useRefreshTokens: true, ...})`, `loginWithRedirect()`,
`handleRedirectCallback()`, then `client.myAccount.getAuthenticationMethods()`. The server requires DPoP for the
My Account API and nonces everywhere (`dpop_require_nonce`), so the SDK has to retry both at the token endpoint
(400 `use_dpop_nonce`) and at the API (401 with `WWW-Authenticate: DPoP error="use_dpop_nonce"`, which the SDK's
Fetcher handles, `src/fetcher.ts`). A recorder in front of the server shows what reached it.

The SDK is installed from `node/package-lock.json` with `npm ci` when it is missing; without node and npm this
test fails rather than skips.
"""

import fcntl
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from playwright.sync_api import Browser, expect
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from myaccount import admin
from myaccount.app import create_app
from myaccount.core import Core
from myaccount.crypto.keys import thumbprint
from myaccount.oauth.dpop import access_token_hash, normalize_htu
from myaccount.settings import Settings
from tests.account.test_account_dpop import DPOP_REQUIRED, Proof, decode_proof
from tests.support.browser import chromium
from tests.support.live import free_port, serve

pytestmark = pytest.mark.browser

NODE_DIR = Path(__file__).parent / "node"
PACKAGE = "@auth0/auth0-spa-js"
SDK_BUNDLE = NODE_DIR / "node_modules" / PACKAGE / "dist" / "auth0-spa-js.production.esm.js"
EMAIL = "sdk-user@example.com"
PASSWORD = "correct horse battery staple 9"
SCOPE = "openid profile email offline_access read:me:authentication_methods"


def _locked_version() -> str:
    lock = json.loads((NODE_DIR / "package-lock.json").read_text())
    return str(lock["packages"][f"node_modules/{PACKAGE}"]["version"])


def _installed_version() -> str | None:
    manifest = NODE_DIR / "node_modules" / PACKAGE / "package.json"
    return str(json.loads(manifest.read_text())["version"]) if manifest.is_file() else None


@pytest.fixture(scope="module")
def spa_sdk() -> Path:
    """The SDK's browser build, installed with `npm ci` (from the lock file) unless already there."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.fail("node and npm are needed to install Auth0's SPA SDK for this test (apt-get install nodejs npm)")
    with (NODE_DIR / ".npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers: one installs, the others wait and find it installed
        if _installed_version() != _locked_version() or not SDK_BUNDLE.is_file():
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, capture_output=True, text=True, timeout=600
            )
            if done.returncode != 0:
                pytest.fail(f"npm ci failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    assert _installed_version() == _locked_version() and SDK_BUNDLE.is_file()
    return SDK_BUNDLE


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@dataclass(frozen=True)
class Seen:
    """One request as it reached the identity server, and the status and headers it got."""

    method: str
    path: str
    query: dict[str, str]
    request_headers: Headers
    status: int
    response_headers: Headers

    @property
    def proof(self) -> Proof | None:
        value = self.request_headers.get("dpop")
        return decode_proof(value) if value else None


class Recorder:
    """ASGI middleware in front of the server: every request and its answer, for the test to check."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[Seen] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
                self.seen.append(
                    Seen(
                        scope["method"],
                        scope["path"],
                        query,
                        Headers(scope=scope),
                        message["status"],
                        Headers(raw=message["headers"]),
                    )
                )
            await send(message)

        await self.app(scope, receive, recording)

    def requests(self, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if (s.method, s.path) == (method, path)]


def _spa_app(sdk: Path, config: dict[str, str]) -> Starlette:
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>SPA SDK with DPoP</title>'
        '<script type="module" src="./spa.js"></script></head><body><main><h1>SPA SDK with DPoP</h1>'
        '<button id="login" type="button" disabled>Log in</button><pre id="result" aria-live="polite"></pre>'
        "</main></body></html>"
    )

    async def index(request: Request) -> Response:
        return HTMLResponse(page)

    async def script(request: Request) -> Response:
        return FileResponse(NODE_DIR / "spa.js", media_type="text/javascript")

    async def bundle(request: Request) -> Response:
        return FileResponse(sdk, media_type="text/javascript")

    async def settings(request: Request) -> Response:
        return JSONResponse(config)

    return Starlette(
        routes=[
            Route("/", index),
            Route("/spa.js", script),
            Route("/sdk.js", bundle),
            Route("/config.json", settings),
        ]
    )


def test_spa_sdk_calls_my_account_with_dpop_and_a_nonce_retry(
    spa_sdk: Path,
    browser: Browser,
    make_settings: Callable[..., Settings],
    make_core: Callable[[Settings], Core],
) -> None:
    port, spa_port = free_port(), free_port()
    url, spa = f"http://localhost:{port}", f"http://localhost:{spa_port}"
    settings = make_settings(public_url=url, dpop_require_nonce=True)
    core = make_core(settings)
    admin.update_resource_server(core, settings.my_account_audience, DPOP_REQUIRED)
    admin.create_user(core, email=EMAIL, password=PASSWORD, email_verified=True)
    client, _ = admin.create_client(
        core,
        name="SPA on the SDK",
        app_type="spa",
        callbacks=[f"{spa}/"],
        allowed_origins=[spa],
        web_origins=[spa],
        allowed_logout_urls=[f"{spa}/"],
    )
    admin.create_client_grant(
        core,
        client_id=client.client_id,
        audience=settings.my_account_audience,
        scope=["read:me:authentication_methods"],
        subject_type="user",
    )
    server = Recorder(create_app(settings, core=core))
    config = {
        "domain": url,
        "client_id": client.client_id,
        "audience": settings.my_account_audience,
        "scope": SCOPE,
        "redirect_uri": f"{spa}/",
    }
    context = browser.new_context()
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        with serve(server, port), serve(_spa_app(spa_sdk, config), spa_port):
            page.goto(f"{spa}/")
            expect(page.locator("html")).to_have_attribute("data-state", "ready")
            page.click("#login")
            page.wait_for_url(re.compile(r".*/u/login\?"))
            page.fill("#username", EMAIL)
            page.fill("#password", PASSWORD)
            with page.expect_navigation():
                page.click("#password-form button[type=submit]")
            if "/u/passkey-enroll" in page.url:  # the hosted login's passkey offer: not now
                with page.expect_navigation():
                    page.click("#passkey-later")
            expect(page.locator("html")).to_have_attribute("data-state", re.compile("done|error"), timeout=20_000)
            outcome = page.locator("#result").text_content() or ""
            assert page.locator("html").get_attribute("data-state") == "done", outcome
    finally:
        context.close()
    result: dict[str, Any] = json.loads(outcome)
    assert [m["type"] for m in result["methods"]] == ["password"]
    assert result["token_type"] == "DPoP"
    token = result["access_token"]
    jkt = jwt.decode(token, options={"verify_signature": False})["cnf"]["jkt"]

    # /authorize named the key (dpop_jkt, RFC 9449 §10); the code exchange asked for a nonce and got it.
    (authorize,) = server.requests("GET", "/authorize")
    assert authorize.query["dpop_jkt"] == jkt
    exchanges = server.requests("POST", "/oauth/token")
    assert [s.status for s in exchanges] == [400, 200]
    first, second = (s.proof for s in exchanges)
    assert first is not None and second is not None and first.jkt == second.jkt == jkt
    assert "nonce" not in first.claims and second.claims["nonce"] == exchanges[0].response_headers["dpop-nonce"]

    # The API: the first call has no nonce for it yet (the SDK keeps one per API), gets 401 use_dpop_nonce with
    # a DPoP-Nonce, and the SDK's Fetcher tries once more with that nonce.
    calls = server.requests("GET", "/me/v1/authentication-methods")
    assert [s.status for s in calls] == [401, 200]
    refused, answered = calls
    assert 'error="use_dpop_nonce"' in refused.response_headers["www-authenticate"]
    assert refused.response_headers["www-authenticate"].startswith("DPoP ")
    for call in calls:
        assert call.request_headers["authorization"] == f"DPoP {token}"
        proof = call.proof
        assert proof is not None and proof.jkt == jkt
        assert proof.claims["htm"] == "GET" and proof.claims["ath"] == access_token_hash(token)
        assert normalize_htu(proof.claims["htu"]) == f"{url}/me/v1/authentication-methods"
    assert refused.proof is not None and "nonce" not in refused.proof.claims
    assert answered.proof is not None and answered.proof.claims["nonce"] == refused.response_headers["dpop-nonce"]
    assert thumbprint(answered.proof.header["jwk"]) == jkt
    assert urlsplit(answered.request_headers["origin"]).netloc == f"localhost:{spa_port}"  # cross-origin, via CORS
    assert problems == []
