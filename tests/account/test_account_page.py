"""The account page's server side: its system application and grant, `/account/config.json`, the HTML shell and
its modules (CSP-friendly, every string translatable), and serving the same page from another origin."""

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from myaccount import admin
from myaccount.account_page import (
    ACCOUNT_PAGE_NAME,
    ensure_account_page_client,
    find_account_page_client,
    page_config,
    page_scope,
)
from myaccount.app import create_app
from myaccount.core import Core
from myaccount.methods.base import MethodType
from myaccount.settings import Settings
from myaccount.store.clients import Client, ClientStore
from myaccount.tenant import MY_ACCOUNT_SCOPES
from myaccount.web.account_page import STATIC_DIR, STRINGS_DIR, negotiate, standalone_app, strings
from tests.support.flows import login_code, new_verifier
from tests.support.tenant import Tenant

TEMPLATE = STATIC_DIR.parent / "templates" / "account.html"
MODULES = sorted(STATIC_DIR.glob("*.js"))


def _page_client(core: Core) -> Client:
    with core.db.read() as conn:
        client = find_account_page_client(ClientStore(conn))
    assert client is not None
    return client


def test_the_page_application_exists_from_the_start(app: object, core: Core) -> None:
    client = _page_client(core)
    origin = core.settings.origin
    assert client.name == ACCOUNT_PAGE_NAME and client.is_system and client.is_first_party
    assert client.app_type == "spa" and client.is_public and client.secret_hash is None
    assert client.grant_types == ["authorization_code", "refresh_token"]
    assert client.callbacks == [f"{origin}/account/"] and client.allowed_logout_urls == [f"{origin}/account/"]
    assert client.allowed_origins == [] and client.web_origins == []  # same origin: no CORS needed
    with core.db.read() as conn:
        grant = ClientStore(conn).grant(client.client_id, core.settings.my_account_audience, "user")
    assert grant is not None and sorted(grant.scope) == sorted(MY_ACCOUNT_SCOPES)


def test_ensuring_again_changes_nothing(app: object, core: Core) -> None:
    first = _page_client(core)
    again = ensure_account_page_client(core)
    create_app(core.settings, core=core)
    with core.db.read() as conn:
        store = ClientStore(conn)
        pages = [c for c in store.all() if c.name == ACCOUNT_PAGE_NAME]
        grants = store.grants(client_id=first.client_id)
    assert again == first and [p.client_id for p in pages] == [first.client_id]
    assert len(grants) == 1


def test_repairs_keep_what_an_administrator_added(app: object, core: Core) -> None:
    client = _page_client(core)
    extra = "https://elsewhere.example/account/"
    admin.update_client(
        core,
        client.client_id,
        {
            "callbacks": [extra],
            "allowed_logout_urls": [],
            "grant_types": ["authorization_code"],
            "web_origins": ["https://elsewhere.example"],
        },
    )
    with core.db.write() as conn:
        store = ClientStore(conn)
        grant = store.grant(client.client_id, core.settings.my_account_audience, "user")
        assert grant is not None
        store.update_grant(grant.id, scope=["read:me:factors"])
    repaired = ensure_account_page_client(core)
    own = f"{core.settings.origin}/account/"
    assert repaired.callbacks == [extra, own] and repaired.allowed_logout_urls == [own]
    assert repaired.grant_types == ["authorization_code", "refresh_token"]
    assert repaired.web_origins == ["https://elsewhere.example"]
    with core.db.read() as conn:
        grant = ClientStore(conn).grant(client.client_id, core.settings.my_account_audience, "user")
    assert grant is not None and sorted(grant.scope) == sorted(MY_ACCOUNT_SCOPES)


def test_a_new_public_url_adds_its_callback(
    core: Core, make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core]
) -> None:
    before = ensure_account_page_client(core)
    moved = make_core(make_settings(public_url="https://id.example.com"))
    after = ensure_account_page_client(moved)
    assert after.client_id == before.client_id
    assert after.callbacks == ["http://localhost/account/", "https://id.example.com/account/"]


def test_config_json(client: TestClient, core: Core) -> None:
    response = client.get("/account/config.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert response.json() == {
        "domain": "localhost",
        "origin": "http://localhost",
        "issuer": "http://localhost/",
        "client_id": _page_client(core).client_id,
        "audience": "http://localhost/me/",
        "scope": "openid profile email offline_access " + " ".join(MY_ACCOUNT_SCOPES),
        "redirect_uri": "http://localhost/account/",
        "tenant_name": "MyAccount",
    }
    assert set(page_scope().split()) >= set(MY_ACCOUNT_SCOPES)


def test_config_json_without_the_application(client: TestClient, core: Core) -> None:
    with core.db.write() as conn:
        ClientStore(conn).delete(_page_client(core).client_id)
    response = client.get("/account/config.json")
    assert response.status_code == 503 and response.json()["error"] == "not_configured"


def test_the_page_signs_in_for_every_my_account_scope(client: TestClient, core: Core, tenant: Tenant) -> None:
    config = client.get("/account/config.json").json()
    verifier = new_verifier()
    code = login_code(
        client,
        client_id=config["client_id"],
        redirect_uri=config["redirect_uri"],
        username=tenant.user.email or "",
        password=tenant.password,
        verifier=verifier,
        scope=config["scope"],
        audience=config["audience"],
    )
    tokens = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": config["client_id"],
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": config["redirect_uri"],
        },
    ).json()
    assert set(tokens["scope"].split()) == set(config["scope"].split())
    assert tokens["refresh_token"] and tokens["id_token"]
    methods = client.get("/me/v1/authentication-methods", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert methods.status_code == 200


def test_the_shell(client: TestClient) -> None:
    for path in ("/account", "/account/"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        csp = response.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        html = response.text
        assert '<html lang="en">' in html
        assert '<script type="module" src="/account/static/app.js"></script>' in html
        assert "<title>Sign-in methods · MyAccount</title>" in html
        embedded = re.search(r'<script type="application/json" id="strings">(.*?)</script>', html, re.S)
        assert embedded and json.loads(embedded.group(1)) == strings("en")
        # Nothing inline a `script-src 'self'` policy would block.
        assert not re.search(r"\son[a-z]+\s*=", html)
        assert not re.search(r"<script(?![^>]*\b(src|type=\"application/json\"))[^>]*>", html)
        assert "style=" not in html


def test_static_files(client: TestClient) -> None:
    for module in MODULES:
        response = client.get(f"/account/static/{module.name}")
        assert response.status_code == 200, module.name
        assert response.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    assert client.get("/account/static/account.css").headers["content-type"].startswith("text/css")
    for icon in (STATIC_DIR / "icons").glob("*.svg"):
        assert client.get(f"/account/static/icons/{icon.name}").headers["content-type"] == "image/svg+xml"
    assert client.get("/account/static/nope.js").status_code == 404


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_modules_build_the_dom_safely(module: Path) -> None:
    source = module.read_text()
    for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert forbidden not in source, f"{module.name} uses {forbidden}"
    assert not re.search(r"\.style\.|setAttribute\(\s*\"style\"", source), "inline styles break style-src 'self'"
    assert not re.search(r"setAttribute\(\s*\"on", source), "inline event handlers break script-src 'self'"


def _literal_keys(source: str) -> set[str]:
    return set(re.findall(r"\bt\(\s*\"([^\"]+)\"", source))


def test_every_string_the_page_shows_is_in_the_strings_file() -> None:
    english = strings("en")
    used: set[str] = set()
    for module in MODULES:
        used |= _literal_keys(module.read_text())
    used |= set(re.findall(r"t\[\"([^\"]+)\"\]", TEMPLATE.read_text()))
    used |= set(re.findall(r"show\(\"([^\"]+)\"\)", (STATIC_DIR / "watchdog.js").read_text()))
    # Keys built at run time.
    enrollable = ["passkey", "totp", "email", "phone", "push-notification", "recovery-code", "password"]
    used |= {f"type.{t.value}" for t in MethodType}
    used |= {f"op.enroll.{t}" for t in enrollable}
    used |= {f"{t}.{part}" for t in ("email", "phone") for part in ("title", "required", "sent", "added")}
    used |= {f"phone.channel.{c}" for c in ("sms", "voice")}
    used |= {f"password.state.{s}" for s in ("met", "unmet", "server")}
    used |= {f"password.type.{k}" for k in ("lowercase", "uppercase", "number", "special")}
    missing = sorted(used - set(english))
    assert missing == []
    assert all(isinstance(v, str) and v.strip() for v in english.values())


def test_every_language_file_has_the_same_keys() -> None:
    english = set(strings("en"))
    for path in STRINGS_DIR.glob("*.json"):
        assert set(json.loads(path.read_text())) == english, path.name


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, "en"), ("", "en"), ("en-GB,en;q=0.8", "en"), ("de-CH, de;q=0.9, en;q=0.5", "en"), ("xx;q=bad", "en")],
)
def test_language_negotiation(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected


def test_the_same_page_from_another_origin(core: Core) -> None:
    config = page_config(core.settings, "some-client-id") | {"redirect_uri": "http://localhost:3000/account/"}
    with TestClient(standalone_app(config), base_url="http://localhost:3000") as other:
        assert other.get("/account/config.json").json() == config
        shell = other.get("/account/")
        assert shell.status_code == 200
        csp = shell.headers["content-security-policy"]
        assert "connect-src 'self' http://localhost;" in csp and "img-src 'self' data: http://localhost;" in csp
        assert other.get("/account/static/app.js").status_code == 200
