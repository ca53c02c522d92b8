"""Helpers for the connected-accounts tests: a second MyAccount as the upstream provider, an application of ours
that may use the Token Vault, a browser that walks the connect flow across both servers, and the contract check.

Everything runs over real HTTP: our server and the upstream each listen on a port (`tests.support.live`), the
upstream on `127.0.0.1` and ours on `localhost`, so their cookies never mix in the browser's jar.
"""

import re
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx

from myaccount import admin
from myaccount.app import create_app
from myaccount.core import Core
from myaccount.oauth.grants.token_vault import GRANT_TYPE, REFRESH_TOKEN_TYPE, REQUESTED_TOKEN_TYPE
from myaccount.oauth.pkce import challenge_for
from myaccount.settings import Settings
from myaccount.store.db import Database
from myaccount.store.migrate import upgrade
from myaccount.store.users import User
from myaccount.tenant import MY_ACCOUNT_SCOPES
from tests.support.contract import ResponseLike, load_contract
from tests.support.live import free_port, serve

__all__ = [
    "ALL_ME_SCOPES",
    "APP_REDIRECT",
    "CONNECTION",
    "GRANT_TYPE",
    "PASSWORD",
    "REALM",
    "REFRESH_TOKEN_TYPE",
    "REQUESTED_TOKEN_TYPE",
    "UPSTREAM_API",
    "App",
    "Browser",
    "Finished",
    "UpstreamTenant",
    "check",
    "check_error",
    "make_app",
    "make_upstream",
    "pkce_pair",
    "running_upstream",
    "upstream_template",
]

CONNECTION = "upstream-oidc"
UPSTREAM_API = "https://calendar.upstream.test/"
APP_REDIRECT = "https://app.example.test/connected"
REALM = "Username-Password-Authentication"
PASSWORD = "correct horse battery staple 9"
ALL_ME_SCOPES = " ".join(MY_ACCOUNT_SCOPES)
UPSTREAM_TOKEN_LIFETIME = 600


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    return verifier, challenge_for(verifier)


@dataclass(frozen=True)
class UpstreamTenant:
    """The provider: a user to sign in as, our registration there, and an API with refresh tokens."""

    url: str
    core: Core
    user: User
    client_id: str
    client_secret: str

    @property
    def discovery_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"

    def connection_body(self, **options: Any) -> dict[str, Any]:
        """What an administrator posts to `/api/v2/connections` to add this provider."""
        return {
            "name": CONNECTION,
            "strategy": "oidc",
            "options": {
                "discovery_url": self.discovery_url,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "scope": "openid profile email offline_access read:calendar",
                "authParams": {"audience": UPSTREAM_API},
            }
            | options,
        }


def make_upstream(core: Core, url: str, *, callback: str) -> UpstreamTenant:
    user = admin.create_user(core, email="bob@upstream.test", password=PASSWORD, email_verified=True, name="Bob")
    client, secret = admin.create_client(
        core,
        name="Downstream MyAccount",
        app_type="regular_web",
        callbacks=[callback],
        grant_types=["authorization_code", "refresh_token"],
    )
    assert secret is not None
    admin.create_resource_server(
        core,
        identifier=UPSTREAM_API,
        name="Calendar",
        scopes=["read:calendar"],
        allow_offline_access=True,
        token_lifetime=UPSTREAM_TOKEN_LIFETIME,
    )
    return UpstreamTenant(url=url, core=core, user=user, client_id=client.client_id, client_secret=secret)


def upstream_template(directory: Path) -> Path:
    """A migrated, empty SQLite database for upstreams to copy (migrating each one from scratch is slow)."""
    path = directory / "upstream-template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    return path


@contextmanager
def running_upstream(
    make_settings: Callable[..., Settings],
    make_core: Callable[[Settings], Core],
    directory: Path,
    *,
    callback: str,
    template: Path | None = None,
) -> Iterator[UpstreamTenant]:
    """A second MyAccount on `127.0.0.1`, its store a SQLite file in `directory` whatever database ours uses."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    database = directory / "upstream.db"
    if template is not None:
        shutil.copyfile(template, database)
    settings = make_settings(public_url=url, database_url=f"sqlite:///{database}")
    core = make_core(settings)
    tenant = make_upstream(core, url, callback=callback)
    with serve(create_app(settings, core=core), port):
        yield tenant


@dataclass(frozen=True)
class App:
    """Our application that connects accounts and exchanges tokens, and our user who uses it."""

    url: str
    core: Core
    client_id: str
    client_secret: str
    user: User

    def tokens(
        self, *, scope: str = f"openid offline_access {ALL_ME_SCOPES}", username: str = "alice@example.com"
    ) -> dict[str, Any]:
        """A My Account access token (and a refresh token) for the user, by password-realm."""
        response = httpx.post(
            f"{self.url}/oauth/token",
            data={
                "grant_type": "http://auth0.com/oauth/grant-type/password-realm",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "username": username,
                "password": PASSWORD,
                "realm": REALM,
                "audience": self.core.settings.my_account_audience,
                "scope": scope,
            },
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def api(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/me/v1", headers={"Authorization": f"Bearer {token}"})

    def exchange(self, subject_token: str, **overrides: str) -> httpx.Response:
        """RFC 8693 token exchange for the connection's access token, as auth0-server-python sends it."""
        params = {
            "grant_type": GRANT_TYPE,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "subject_token": subject_token,
            "subject_token_type": REFRESH_TOKEN_TYPE,
            "requested_token_type": REQUESTED_TOKEN_TYPE,
            "connection": CONNECTION,
        } | overrides
        return httpx.post(f"{self.url}/oauth/token", data={k: v for k, v in params.items() if v})


def make_app(core: Core, url: str) -> App:
    user = admin.create_user(core, email="alice@example.com", password=PASSWORD, email_verified=True, name="Alice")
    client, secret = admin.create_client(
        core,
        name="Calendar assistant",
        app_type="regular_web",
        callbacks=[APP_REDIRECT, f"{APP_REDIRECT}/other"],
        grant_types=[
            "authorization_code",
            "refresh_token",
            "http://auth0.com/oauth/grant-type/password-realm",
            GRANT_TYPE,
        ],
    )
    assert secret is not None
    admin.create_client_grant(
        core,
        client_id=client.client_id,
        audience=core.settings.my_account_audience,
        scope=list(MY_ACCOUNT_SCOPES),
        subject_type="user",
    )
    return App(url=url, core=core, client_id=client.client_id, client_secret=secret, user=user)


@dataclass(frozen=True)
class Finished:
    """Where the connect flow left the browser: the app's redirect URI and its query parameters."""

    location: str
    query: dict[str, str]


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class Browser:
    """A user agent for the connect flow: follows redirects across both servers, signs in at the upstream's hosted
    login, and stops at the app's redirect URI (which no server here answers)."""

    def __init__(self, *, verify: Any = True) -> None:
        self.http = httpx.Client(follow_redirects=False, timeout=30, verify=verify)

    def close(self) -> None:
        self.http.close()

    def get(self, url: str, **params: str) -> httpx.Response:
        return self.http.get(url, params=params or None)

    def to_upstream(self, connect_uri: str, ticket: str) -> httpx.Response:
        """Open the connect_uri: our server spends the ticket and redirects to the upstream's /authorize."""
        return self.get(connect_uri, ticket=ticket)

    def sign_in(self, authorize_url: str, *, username: str = "bob@upstream.test", password: str = PASSWORD) -> str:
        """Sign in at the upstream; returns the URL the upstream sends the browser back to (our callback)."""
        response = self.http.get(authorize_url)
        assert response.status_code == 302, response.text
        location = urljoin(authorize_url, response.headers["location"])
        if "/u/login" not in location:
            return location  # already signed in at the upstream
        page = self.http.get(location)
        assert page.status_code == 200, page.text
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match, "the upstream login page has no CSRF token"
        posted = self.http.post(
            location, data={"csrf_token": match.group(1), "username": username, "password": password}
        )
        while posted.status_code in (302, 303) and "/u/passkey-enroll" in posted.headers.get("location", ""):
            offer = urljoin(location, posted.headers["location"])
            page = self.http.get(offer)
            match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert match
            posted = self.http.post(offer, data={"csrf_token": match.group(1), "action": "later"})
        assert posted.status_code in (302, 303), posted.text
        return urljoin(location, posted.headers["location"])

    def back(self, callback_url: str) -> httpx.Response:
        """Arrive at our callback (from the upstream)."""
        return self.http.get(callback_url)

    def connect(self, connect_uri: str, ticket: str) -> Finished:
        """The whole browser leg: connect_uri → upstream login → our callback → the app's redirect URI."""
        hop = self.to_upstream(connect_uri, ticket)
        assert hop.status_code == 302, hop.text
        callback = self.sign_in(hop.headers["location"])
        done = self.back(callback)
        assert done.status_code == 302, done.text
        location = done.headers["location"]
        return Finished(location, _query(location))


def check(response: ResponseLike, path: str, method: str) -> Any:
    """The response is one the My Account OpenAPI document allows for `method path`: a documented status, the
    body valid against its schema, and the rate-limit headers on 2xx. Returns the parsed body.

    (`tests.support.contract.check` also demands a `Location` naming an authentication method on every 201,
    which the connected-accounts operations do not document, so this applies the same checks without it.)
    """
    contract = load_contract()
    status = response.status_code
    pointer, documented = contract.response(path, method, status)
    what = f"{method.upper()} {path} -> {status}"
    if 200 <= status < 300:
        for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
            assert name in response.headers, f"{what}: {name} is missing"
    schema = contract.schema_pointer(pointer, documented)
    if schema is None:
        assert not response.content, f"{what}: no body is documented, got {response.content[:200]!r}"
        return None
    assert response.headers.get("content-type", "").split(";")[0] == "application/json", what
    import json

    body = json.loads(response.content)
    contract.validate(body, schema, what=f"the body of {what}")
    return body


def check_error(response: ResponseLike, status: int, path: str, method: str, *, pointer: str | None = None) -> Any:
    """An error with the documented status and body; with `pointer`, naming that field in validation_errors."""
    assert response.status_code == status, response.content
    body = check(response, path, method)
    if pointer is not None:
        assert [e.get("pointer") for e in body.get("validation_errors", [])] == [pointer], body
    return body
