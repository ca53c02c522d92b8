"""Who may call `/api/v2`: client-credentials tokens for the Management audience, with the scope each endpoint
names. Everything else is a 401 or 403 in the Management error shape."""

from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from myaccount.core import Core
from tests.management import ALL_SCOPES, Api, grant_management, management_token
from tests.support.dpop import DpopKey
from tests.support.me import me_token
from tests.support.tenant import Tenant

ERROR_KEYS = {"statusCode", "error", "message", "errorCode"}
U = "auth0|0123456789abcdef01234567"

# (method, path, body, the scopes any one of which opens it)
ENDPOINTS: list[tuple[str, str, Any, tuple[str, ...]]] = [
    ("GET", "/users", None, ("read:users",)),
    ("GET", "/users-by-email?email=a@example.com", None, ("read:users",)),
    ("POST", "/users", {}, ("create:users",)),
    ("GET", f"/users/{U}", None, ("read:users",)),
    ("PATCH", f"/users/{U}", {"name": "x"}, ("update:users", "update:users_app_metadata")),
    ("DELETE", f"/users/{U}", None, ("delete:users",)),
    ("GET", f"/users/{U}/roles", None, ("read:users", "read:roles")),
    ("POST", f"/users/{U}/roles", {"roles": ["r"]}, ("create:role_members", "update:users")),
    ("DELETE", f"/users/{U}/roles", {"roles": ["r"]}, ("delete:role_members", "update:users")),
    ("GET", f"/users/{U}/logs", None, ("read:logs", "read:logs_users")),
    ("DELETE", f"/users/{U}/authenticators", None, ("delete:guardian_enrollments",)),
    ("GET", f"/users/{U}/authentication-methods", None, ("read:authentication_methods",)),
    ("POST", f"/users/{U}/authentication-methods", {}, ("create:authentication_methods",)),
    ("PUT", f"/users/{U}/authentication-methods", [], ("update:authentication_methods",)),
    ("DELETE", f"/users/{U}/authentication-methods", None, ("delete:authentication_methods",)),
    ("GET", f"/users/{U}/authentication-methods/totp|dev_x", None, ("read:authentication_methods",)),
    ("PATCH", f"/users/{U}/authentication-methods/totp|dev_x", {}, ("update:authentication_methods",)),
    ("DELETE", f"/users/{U}/authentication-methods/totp|dev_x", None, ("delete:authentication_methods",)),
    ("GET", "/guardian/factors", None, ("read:guardian_factors",)),
    ("PUT", "/guardian/factors/otp", {"enabled": True}, ("update:guardian_factors",)),
    ("GET", "/clients", None, ("read:clients",)),
    ("POST", "/clients", {}, ("create:clients",)),
    ("GET", "/clients/x", None, ("read:clients",)),
    ("PATCH", "/clients/x", {}, ("update:clients",)),
    ("DELETE", "/clients/x", None, ("delete:clients",)),
    ("POST", "/clients/x/rotate-secret", None, ("update:client_keys", "update:clients")),
    ("GET", "/resource-servers", None, ("read:resource_servers",)),
    ("POST", "/resource-servers", {}, ("create:resource_servers",)),
    ("GET", "/resource-servers/x", None, ("read:resource_servers",)),
    ("PATCH", "/resource-servers/x", {}, ("update:resource_servers",)),
    ("DELETE", "/resource-servers/x", None, ("delete:resource_servers",)),
    ("GET", "/client-grants", None, ("read:client_grants",)),
    ("POST", "/client-grants", {}, ("create:client_grants",)),
    ("GET", "/client-grants/x", None, ("read:client_grants",)),
    ("PATCH", "/client-grants/x", {}, ("update:client_grants",)),
    ("DELETE", "/client-grants/x", None, ("delete:client_grants",)),
    ("GET", "/roles", None, ("read:roles",)),
    ("POST", "/roles", {}, ("create:roles",)),
    ("GET", "/roles/x", None, ("read:roles",)),
    ("PATCH", "/roles/x", {}, ("update:roles",)),
    ("DELETE", "/roles/x", None, ("delete:roles",)),
    ("GET", "/roles/x/permissions", None, ("read:roles",)),
    ("POST", "/roles/x/permissions", {}, ("update:roles",)),
    ("DELETE", "/roles/x/permissions", {}, ("update:roles",)),
    ("GET", "/logs", None, ("read:logs",)),
    ("GET", "/logs/x", None, ("read:logs",)),
]


def _call(client: TestClient, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    return client.request(method, f"/api/v2{path}", **kwargs)


@pytest.fixture
def granted(tenant: Tenant, core: Core) -> Tenant:
    grant_management(core, tenant)
    return tenant


@pytest.mark.parametrize(("method", "path", "body", "scopes"), ENDPOINTS, ids=lambda v: str(v)[:40])
def test_each_endpoint_needs_its_scope(
    client: TestClient, granted: Tenant, core: Core, method: str, path: str, body: Any, scopes: tuple[str, ...]
) -> None:
    others = [s for s in ALL_SCOPES if s not in scopes]
    token = management_token(client, granted, core, others)
    response = _call(client, method, path, body, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 403, response.text
    assert response.json() == {
        "statusCode": 403,
        "error": "Forbidden",
        "message": f"Insufficient scope, expected any of: {', '.join(scopes)}",
        "errorCode": "insufficient_scope",
    }
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    allowed = management_token(client, granted, core, [s for s in scopes if s in ALL_SCOPES] or others)
    if any(s in ALL_SCOPES for s in scopes):
        opened = _call(client, method, path, body, {"Authorization": f"Bearer {allowed}"})
        assert opened.status_code not in (401, 403, 500), opened.text


def test_every_route_is_in_the_scope_table() -> None:
    from starlette.routing import Route

    from myaccount.web.management import routes

    listed = {(m, p.split("?")[0]) for m, p, _, _ in ENDPOINTS}
    for route in routes:
        assert isinstance(route, Route)
        if "{rest:path}" in route.path or route.path == "/api/v2":
            continue
        for method in (route.methods or set()) - {"HEAD"}:
            assert any(m == method and _same(route.path, "/api/v2" + p) for m, p in listed), (method, route.path)


def _same(pattern: str, path: str) -> bool:
    import re

    regex = re.sub(r"\{[a-z_]+(:path)?\}", lambda m: ".+" if m.group(1) else "[^/]+", pattern)
    return re.fullmatch(regex, path) is not None


def test_missing_and_malformed_tokens(client: TestClient) -> None:
    missing = client.get("/api/v2/users")
    assert missing.status_code == 401
    assert set(missing.json()) == ERROR_KEYS and missing.json()["errorCode"] == "invalid_token"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert missing.headers["content-type"].startswith("application/json")
    for header in ("Bearer", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz", "Bearer " + "a" * 9000):
        refused = client.get("/api/v2/users", headers={"Authorization": header})
        assert refused.status_code == 401, header
        assert refused.json()["statusCode"] == 401 and refused.json()["error"] == "Unauthorized"


def test_my_account_token_is_refused(client: TestClient, tenant: Tenant, core: Core) -> None:
    token = me_token(client, tenant, core)
    for path in ("/users", f"/users/{tenant.user.id}/authentication-methods", "/guardian/factors"):
        refused = client.get(f"/api/v2{path}", headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
        assert refused.json()["errorCode"] == "invalid_token"


def test_users_cannot_get_a_management_token(client: TestClient, granted: Tenant, core: Core) -> None:
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "http://auth0.com/oauth/grant-type/password-realm",
            "client_id": granted.web.client_id,
            "client_secret": granted.web_secret,
            "username": "alice@example.com",
            "password": granted.password,
            "realm": "Username-Password-Authentication",
            "audience": core.settings.management_audience,
            "scope": "read:users",
        },
    )
    assert response.status_code in (400, 403), response.text
    assert "access_token" not in response.json()


def test_other_api_token_and_client_without_grant(client: TestClient, tenant: Tenant, core: Core) -> None:
    other = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": tenant.m2m.client_id,
            "client_secret": tenant.m2m_secret,
            "audience": tenant.api,
        },
    ).json()["access_token"]
    assert client.get("/api/v2/users", headers={"Authorization": f"Bearer {other}"}).status_code == 401
    # No client grant to the Management API yet: no token at all.
    denied = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": tenant.m2m.client_id,
            "client_secret": tenant.m2m_secret,
            "audience": core.settings.management_audience,
        },
    )
    assert denied.status_code == 403


def test_metadata_only_scope(client: TestClient, granted: Tenant, core: Core) -> None:
    api = Api(client, management_token(client, granted, core, ["update:users_app_metadata"]))
    user = f"/users/{granted.user.id}"
    assert api.patch(user, {"app_metadata": {"plan": "gold"}}).status_code == 200
    refused = api.patch(user, {"app_metadata": {"plan": "gold"}, "email": "eve@example.com"})
    assert refused.status_code == 403
    assert refused.json()["message"] == "Insufficient scope, expected any of: update:users"


def test_error_shapes(client: TestClient, granted: Tenant, core: Core) -> None:
    api = Api(client, management_token(client, granted, core))
    headers = api.headers
    cases = [
        (api.get("/users/auth0|nobody"), 404, "inexistent_user"),
        (api.get("/clients/nope"), 404, "inexistent_client"),
        (api.get("/resource-servers/nope"), 404, "inexistent_resource_server"),
        (api.get("/client-grants/nope"), 404, "inexistent_client_grant"),
        (api.get("/roles/nope"), 404, "inexistent_role"),
        (api.get("/logs/nope"), 404, "inexistent_log"),
        (api.put("/guardian/factors/yubikey", {"enabled": True}), 404, "inexistent_factor"),
        (api.get(f"/users/{granted.user.id}/authentication-methods/totp|dev_nope"), 404, None),
        (api.patch(f"/users/{granted.user.id}", {"blocked": "yes"}), 400, "invalid_body"),
        (api.patch(f"/users/{granted.user.id}", {"colour": "blue"}), 400, "invalid_body"),
        (api.post("/users", {"email": "x@example.com", "password": "p"}), 400, "invalid_body"),
        (api.get("/users", per_page="1000"), 400, "invalid_query_string"),
        (api.get("/users", page="-1"), 400, "invalid_query_string"),
        (api.get("/users", include_totals="maybe"), 400, "invalid_query_string"),
        (api.get("/users", q="name:*bob*"), 400, "invalid_query_string"),
        (api.get("/logs", q="colour:blue"), 400, "invalid_query_string"),
        (api.get("/nope"), 404, "inexistent_route"),
        (client.put("/api/v2/users", headers=headers), 405, "method_not_allowed"),
        (client.post("/api/v2/users", headers=headers, content=b"{not json"), 400, "invalid_body"),
        (
            client.post("/api/v2/users", headers={**headers, "content-type": "text/plain"}, content=b"{}"),
            415,
            "unsupported_media_type",
        ),
        (
            client.post(
                "/api/v2/users",
                headers={**headers, "content-type": "application/json"},
                content=b'{"a": "' + b"x" * 70_000 + b'"}',
            ),
            413,
            "payload_too_large",
        ),
        (client.post("/api/v2/users", headers=headers), 400, "invalid_body"),
    ]
    for response, status, code in cases:
        assert response.status_code == status, (response.request.url, response.text)
        body = response.json()
        assert set(body) == ERROR_KEYS, body
        assert body["statusCode"] == status and isinstance(body["message"], str) and body["message"]
        if code:
            assert body["errorCode"] == code, body


BAD_BODIES: list[Any] = [
    None,
    [],
    "text",
    17,
    {"email": 5},
    {"name": None, "scopes": "x"},
    {"scopes": [1, 2]},
    {"scopes": [{"value": 3}]},
    {"subject_type_authorization": {"user": "allow_all"}},
    {"subject_type_authorization": {"robot": {"policy": "deny_all"}}},
    {"token_lifetime": "long"},
    {"permissions": [{"resource_server_identifier": 1}]},
    {"roles": "rol_x"},
    {"type": "passkey", "key_id": "***", "public_key": "AAAA"},
    {"type": ["totp"]},
    {"enabled": "yes"},
    {"scope": [None]},
    {"client_id": {"a": 1}, "audience": []},
    {"grant_types": "client_credentials"},
    {"callbacks": ["not a url"]},
    {"app_type": "mainframe", "name": "x"},
    {"user_metadata": [], "app_metadata": "x"},
]


def test_bad_bodies_are_400s_never_500s(client: TestClient, granted: Tenant, core: Core) -> None:
    api = Api(client, management_token(client, granted, core))
    grant = api.get("/client-grants").json()[0]["id"]
    targets = [
        ("POST", "/users"),
        ("PATCH", f"/users/{granted.user.id}"),
        ("POST", f"/users/{granted.user.id}/authentication-methods"),
        ("PUT", f"/users/{granted.user.id}/authentication-methods"),
        ("POST", f"/users/{granted.user.id}/roles"),
        ("PUT", "/guardian/factors/otp"),
        ("POST", "/clients"),
        ("PATCH", f"/clients/{granted.web.client_id}"),
        ("POST", "/resource-servers"),
        ("PATCH", f"/resource-servers/{granted.api}"),
        ("POST", "/client-grants"),
        ("PATCH", f"/client-grants/{grant}"),
        ("POST", "/roles"),
    ]
    for method, path in targets:
        for body in BAD_BODIES:
            if method == "PUT" and body == []:
                continue  # an empty list is a valid PUT: no phone, email or totp methods
            response = _call(client, method, path, body, api.headers)
            assert response.status_code in (400, 404, 409), (method, path, body, response.text)
            assert set(response.json()) == ERROR_KEYS


def test_awkward_input_is_refused_cleanly(client: TestClient, granted: Tenant, core: Core) -> None:
    """Values that would trip the database (NUL, over-long ids, far dates) are 400s and 404s, on both backends."""
    api = Api(client, management_token(client, granted, core))
    long_id = "auth0|" + "a" * 5000
    responses = [
        (api.get("/users/auth0|a%00b"), 400),
        (api.patch("/users/auth0|a%00b", {"name": "x"}), 400),
        (api.delete("/roles/a%00b"), 400),
        (api.get("/users", connection="github", include_totals="true"), 200),
        (api.get("/users", q='email:"a\x00@example.com"'), 400),
        (api.post("/users", {"email": "nul@example.com", "password": "x\x00y", "connection": DATABASE}), 400),
        (api.patch(f"/users/{granted.user.id}", {"user_metadata": {"k\x00": 1}}), 400),
        (api.get(f"/users/{long_id}"), 404),
        (api.patch(f"/users/{long_id}", {"name": "x"}), 404),
        (api.delete(f"/users/{long_id}/authentication-methods/{'m' * 3000}"), 404),
        (
            api.post(
                "/users", {"email": "id@example.com", "password": "p", "connection": DATABASE, "user_id": "u" * 95}
            ),
            400,
        ),
        (api.get("/logs", q="date:[9999-12-31T23:59:59.999999+00:00 TO 9999-12-31T23:59:59.999999+00:00]"), 200),
        (api.get("/logs", q="date:[0001-01-01 TO 9999-12-31]"), 200),
        (api.get("/resource-servers/" + "x" * 3000), 404),
        (api.get("/logs", **{"from": "z" * 500, "take": "10"}), 200),
    ]
    for response, status in responses:
        assert response.status_code == status, (response.request.url, response.text)
    unnamed = api.post("/resource-servers", {"identifier": "https://api.example.test/" + "p" * 400})
    assert unnamed.status_code == 201 and len(unnamed.json()["name"]) == 200


DATABASE = "Username-Password-Authentication"


def test_dpop_bound_management_token(client: TestClient, granted: Tenant, core: Core) -> None:
    """A DPoP-bound token (`cnf.jkt`) goes with its proof; presented as a plain Bearer token it is refused. The
    token endpoint does not bind client-credentials tokens today, so the token is minted directly."""
    key = DpopKey()
    token = core.tokens.access_token(
        subject=f"{granted.m2m.client_id}@clients",
        audience=core.settings.management_audience,
        client_id=granted.m2m.client_id,
        scope="read:guardian_factors",
        ttl=timedelta(minutes=5),
        extra={"gty": "client-credentials", "cnf": {"jkt": key.jkt}},
    ).token
    as_bearer = client.get("/api/v2/guardian/factors", headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401 and as_bearer.json()["errorCode"] == "invalid_token"
    now = core.clock.now().timestamp()
    proof = key.proof("GET", "http://localhost/api/v2/guardian/factors", access_token=token, iat=now)
    with_proof = client.get("/api/v2/guardian/factors", headers={"Authorization": f"DPoP {token}", "DPoP": proof})
    assert with_proof.status_code == 200, with_proof.text
    wrong_key = DpopKey().proof("GET", "http://localhost/api/v2/guardian/factors", access_token=token, iat=now)
    refused = client.get("/api/v2/guardian/factors", headers={"Authorization": f"DPoP {token}", "DPoP": wrong_key})
    assert refused.status_code == 401 and set(refused.json()) == ERROR_KEYS


def test_user_token_for_the_management_audience_is_refused(client: TestClient, granted: Tenant, core: Core) -> None:
    """Even if a user token for the Management audience existed (the API's user policy forbids issuing one), it
    would not be let in: only client-credentials tokens are."""
    token = core.tokens.access_token(
        subject=granted.user.id,
        audience=core.settings.management_audience,
        client_id=granted.web.client_id,
        scope=" ".join(ALL_SCOPES),
        ttl=timedelta(minutes=5),
    ).token
    refused = client.get("/api/v2/users", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert refused.json()["message"] == "The Management API accepts client-credentials tokens only."
