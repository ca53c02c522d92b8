"""`/api/v2/connections`: create (OIDC discovery against the upstream, or plain OAuth 2.0 endpoints), list, get,
update and delete, through auth0-python's Management client and as raw HTTP for the errors."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from auth0.authentication import GetToken
from auth0.management import Auth0
from auth0.management.errors import BadRequestError, ConflictError, NotFoundError

from myaccount import admin
from myaccount.store.connected import ConnectionStore
from tests.conftest import LiveServer
from tests.connected import CONNECTION, UpstreamTenant
from tests.support.tenant import Tenant, make_tenant

SCOPES = ["read:connections", "create:connections", "update:connections", "delete:connections"]


@pytest.fixture
def tenant(live_server: LiveServer) -> Tenant:
    return make_tenant(live_server.core)


def _token(server: LiveServer, tenant: Tenant) -> str:
    auth = GetToken(server.domain, tenant.m2m.client_id, client_secret=tenant.m2m_secret, protocol="http")
    token: str = auth.client_credentials(server.core.settings.management_audience)["access_token"]
    return token


@pytest.fixture
def token(live_server: LiveServer, tenant: Tenant) -> str:
    admin.create_client_grant(
        live_server.core,
        client_id=tenant.m2m.client_id,
        audience=live_server.core.settings.management_audience,
        scope=SCOPES,
        subject_type="client",
    )
    return _token(live_server, tenant)


@pytest.fixture
def mgmt(live_server: LiveServer, token: str) -> Iterator[Auth0]:
    with httpx.Client(timeout=30) as http:
        yield Auth0(base_url=f"{live_server.url}/api/v2", token=token, max_retries=0, httpx_client=http)


@pytest.fixture
def raw(live_server: LiveServer, token: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{live_server.url}/api/v2", headers={"Authorization": f"Bearer {token}"}) as http:
        yield http


def test_crud_through_the_sdk(mgmt: Auth0, live_server: LiveServer, upstream: UpstreamTenant) -> None:
    body = upstream.connection_body()
    created = mgmt.connections.create(
        name=body["name"], strategy="oidc", options=body["options"], connected_accounts={"active": True}
    )
    assert created.id and created.id.startswith("con_") and created.name == CONNECTION and created.strategy == "oidc"
    options = created.options
    assert options is not None
    dumped: dict[str, Any] = dict(options) if isinstance(options, dict) else options.model_dump(by_alias=True)
    # The endpoints came from the upstream's discovery document; the secret never comes back.
    assert dumped["authorization_endpoint"] == f"{upstream.url}/authorize"
    assert dumped["token_endpoint"] == f"{upstream.url}/oauth/token"
    assert dumped["userinfo_endpoint"] == f"{upstream.url}/userinfo"
    assert dumped["revocation_endpoint"] == f"{upstream.url}/oauth/revoke"
    assert (
        dumped["issuer"] == f"{upstream.url}/"
        and dumped["scope"] == "openid profile email offline_access read:calendar"
    )
    assert "client_secret" not in dumped
    with live_server.core.db.read() as conn:
        stored = ConnectionStore(conn).get(created.id)
    assert stored is not None and stored.client_secret and stored.client_secret.startswith("v1.")
    assert upstream.client_secret not in str(stored)

    listed = list(mgmt.connections.list())
    assert [c.name for c in listed] == [CONNECTION]
    fetched = mgmt.connections.get(created.id)
    assert fetched.name == CONNECTION and fetched.connected_accounts is not None and fetched.connected_accounts.active

    updated = mgmt.connections.update(created.id, display_name="Calendar", connected_accounts={"active": False})
    assert updated.display_name == "Calendar" and updated.connected_accounts is not None
    assert updated.connected_accounts.active is False
    with live_server.core.db.read() as conn:
        again = ConnectionStore(conn).get(created.id)
    assert again is not None and again.client_secret == stored.client_secret  # options untouched: secret kept

    with pytest.raises(ConflictError):
        mgmt.connections.create(name=body["name"], strategy="oidc", options=body["options"])
    mgmt.connections.delete(created.id)
    with pytest.raises(NotFoundError):
        mgmt.connections.get(created.id)
    with pytest.raises(BadRequestError):
        mgmt.connections.create(name="bad name!", strategy="oidc", options=body["options"])


def test_oauth2_connection_and_listing_shapes(raw: httpx.Client) -> None:
    body = {
        "name": "github",
        "strategy": "oauth2",
        "options": {
            "client_id": "gh-client",
            "client_secret": "gh-secret",
            "authorizationURL": "https://github.example/login/oauth/authorize",
            "tokenURL": "https://github.example/login/oauth/access_token",
            "scope": ["repo", "read:user"],
            "pkce_enabled": False,
            "authParams": {"allow_signup": "false"},
        },
    }
    created = raw.post("/connections", json=body)
    assert created.status_code == 201, created.text
    wire = created.json()
    assert wire["options"] == {
        "client_id": "gh-client",
        "authorizationURL": "https://github.example/login/oauth/authorize",
        "tokenURL": "https://github.example/login/oauth/access_token",
        "scope": ["repo", "read:user"],
        "pkce_enabled": False,
        "token_endpoint_auth_method": "client_secret_post",
        "authParams": {"allow_signup": "false"},
    }
    assert wire["connected_accounts"] == {"active": True} and wire["realms"] == ["github"]
    second = raw.post("/connections", json=body | {"name": "gitlab"})
    assert second.status_code == 201
    assert sorted(c["name"] for c in raw.get("/connections").json()) == ["github", "gitlab"]
    page = raw.get("/connections", params={"take": 1}).json()
    assert len(page["connections"]) == 1 and page["next"]
    rest = raw.get("/connections", params={"take": 1, "from": page["next"]}).json()
    assert len(rest["connections"]) == 1 and "next" not in rest
    totals = raw.get("/connections", params={"include_totals": "true", "per_page": 1}).json()
    assert totals["total"] == 2 and totals["limit"] == 1 and len(totals["connections"]) == 1
    assert raw.get("/connections", params={"strategy": "oidc"}).json() == []
    assert [c["name"] for c in raw.get("/connections", params={"name": "gitlab"}).json()] == ["gitlab"]
    projected = raw.get(f"/connections/{wire['id']}", params={"fields": "name,strategy"}).json()
    assert projected == {"name": "github", "strategy": "oauth2"}
    assert raw.delete(f"/connections/{wire['id']}").status_code == 202


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "x", "strategy": "samlp", "options": {}}, "strategy must be one of"),
        ({"name": "x", "strategy": "oauth2"}, "Missing required property: options"),
        ({"name": "x", "strategy": "oauth2", "options": {"client_id": "c", "client_secret": "s"}}, "authorizationURL"),
        (
            {
                "name": "x",
                "strategy": "oauth2",
                "options": {
                    "client_id": "c",
                    "authorizationURL": "https://a/",
                    "tokenURL": "https://t/",
                    "token_endpoint_auth_method": "client_secret_post",
                },
            },
            "client_secret is required",
        ),
        (
            {
                "name": "x",
                "strategy": "oauth2",
                "options": {
                    "client_id": "c",
                    "client_secret": "s",
                    "authorizationURL": "ftp://a/",
                    "tokenURL": "https://t/",
                },
            },
            "absolute http(s) URL",
        ),
        (
            {
                "name": "x",
                "strategy": "oauth2",
                "options": {
                    "client_id": "c",
                    "client_secret": "s",
                    "authorizationURL": "https://a/",
                    "tokenURL": "https://t/",
                    "authParams": {"state": "x"},
                },
            },
            "cannot set state",
        ),
        (
            {
                "name": "x",
                "strategy": "oidc",
                "options": {
                    "client_id": "c",
                    "client_secret": "s",
                    "discovery_url": "http://127.0.0.1:9/.well-known/openid-configuration",
                },
            },
            "could not be fetched",
        ),
        (
            {
                "name": "x",
                "strategy": "oidc",
                "options": {"client_id": "c", "client_secret": "s", "type": "front_channel"},
            },
            "back_channel",
        ),
        ({"name": "x", "strategy": "oauth2", "options": {}, "realms": ["x"]}, "does not support"),
        ({"name": "Username-Password-Authentication", "strategy": "oauth2", "options": {}}, "already exists"),
    ],
)
def test_invalid_connections(raw: httpx.Client, body: dict[str, Any], message: str) -> None:
    response = raw.post("/connections", json=body)
    assert response.status_code in (400, 409), response.text
    error = response.json()
    assert set(error) == {"statusCode", "error", "message", "errorCode"} and message in error["message"], error


def test_not_found_and_scopes(live_server: LiveServer, tenant: Tenant, raw: httpx.Client) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        response = raw.request(method, "/connections/con_missing", json={} if method == "PATCH" else None)
        assert response.status_code == 404 and response.json()["errorCode"] == "inexistent_connection"
    assert raw.patch("/connections/con_missing", json={"name": "renamed"}).status_code == 400
    no_scopes = httpx.get(f"{live_server.url}/api/v2/connections")
    assert no_scopes.status_code == 401
