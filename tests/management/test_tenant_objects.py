"""Clients, resource servers and roles through `/api/v2`, and what their changes do to tokens: a rotated secret,
a deleted API's grants and permissions, the fixed policies of the system APIs."""

import pytest
from starlette.testclient import TestClient

from myaccount import admin
from myaccount.core import Core
from myaccount.store.clients import ClientStore
from myaccount.store.users import UserStore
from tests.management import Api, grant_management, management_token
from tests.support.tenant import Tenant


@pytest.fixture
def api(client: TestClient, tenant: Tenant, core: Core) -> Api:
    grant_management(core, tenant)
    return Api(client, management_token(client, tenant, core))


def _client_credentials(client: TestClient, client_id: str, secret: str, audience: str) -> int:
    return client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "audience": audience,
        },
    ).status_code


def test_clients(api: Api, client: TestClient, tenant: Tenant) -> None:
    created = api.post(
        "/clients",
        {"name": "Reports", "app_type": "non_interactive", "description": "Nightly reports", "oidc_conformant": True},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    client_id, secret = body["client_id"], body["client_secret"]
    assert body["grant_types"] == ["client_credentials"] and body["token_endpoint_auth_method"] == "client_secret_post"
    assert "client_secret" not in api.get(f"/clients/{client_id}").json()
    grant = {"client_id": client_id, "audience": tenant.api, "scope": ["read:things"]}
    assert api.post("/client-grants", grant).status_code == 201
    assert _client_credentials(client, client_id, secret, tenant.api) == 200

    rotated = api.post(f"/clients/{client_id}/rotate-secret").json()
    assert rotated["client_secret"] != secret
    assert _client_credentials(client, client_id, secret, tenant.api) == 401
    assert _client_credentials(client, client_id, rotated["client_secret"], tenant.api) == 200

    updated = api.patch(f"/clients/{client_id}", {"name": "Reporting", "callbacks": ["https://r.example.test/cb"]})
    assert updated.json()["name"] == "Reporting" and "client_secret" not in updated.json()
    assert api.patch(f"/clients/{client_id}", {"logo_uri": "https://x"}).json()["errorCode"] == (
        "operation_not_supported"
    )
    assert api.post("/clients", {"app_type": "spa"}).status_code == 400
    assert [c["client_id"] for c in api.get("/clients", app_type="non_interactive").json()] == [
        tenant.m2m.client_id,
        client_id,
    ]
    paged = api.get("/clients", include_totals="true", per_page="1").json()
    assert paged["limit"] == 1 and len(paged["clients"]) == 1 and paged["total"] >= 4

    assert api.delete(f"/clients/{client_id}").status_code == 204
    assert api.get("/client-grants", client_id=client_id).json() == []
    assert api.delete(f"/clients/{client_id}").status_code == 404
    assert _client_credentials(client, client_id, rotated["client_secret"], tenant.api) == 401


def test_deleting_an_api_removes_its_grants_and_permissions(api: Api, tenant: Tenant, core: Core) -> None:
    role = api.post("/roles", {"name": "Readers"}).json()
    permission = {"resource_server_identifier": tenant.api, "permission_name": "read:things"}
    assert api.post(f"/roles/{role['id']}/permissions", {"permissions": [permission]}).status_code == 201
    assert api.get("/client-grants", audience=tenant.api).json()
    assert api.delete(f"/resource-servers/{tenant.api}").status_code == 204
    assert api.get("/client-grants", audience=tenant.api).json() == []
    assert api.get(f"/roles/{role['id']}/permissions").json() == []
    with core.db.read() as conn:
        assert ClientStore(conn).resource_server(tenant.api) is None


def test_system_api_policies_are_fixed(api: Api, core: Core) -> None:
    management = api.get(f"/resource-servers/{core.settings.management_audience}").json()
    assert management["is_system"] is True
    assert management["subject_type_authorization"] == {
        "user": {"policy": "deny_all"},
        "client": {"policy": "require_client_grant"},
    }
    opened = api.patch(
        f"/resource-servers/{management['id']}", {"subject_type_authorization": {"user": {"policy": "allow_all"}}}
    )
    assert opened.status_code == 400
    renamed = api.patch(f"/resource-servers/{management['id']}", {"name": "Tenant administration"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Tenant administration"
    my_account = api.get(f"/resource-servers/{core.settings.my_account_audience}").json()
    assert my_account["subject_type_authorization"]["client"] == {"policy": "deny_all"}
    assert api.patch(f"/resource-servers/{my_account['id']}", {"allow_offline_access": False}).status_code == 400
    assert api.delete(f"/resource-servers/{my_account['id']}").json()["errorCode"] == "operation_not_supported"
    assert (
        api.post("/resource-servers", {"identifier": "https://x.example.test/", "signing_alg": "HS256"}).json()[
            "errorCode"
        ]
        == "operation_not_supported"
    )
    assert api.post("/resource-servers", {"name": "no identifier"}).status_code == 400


def test_roles_and_user_roles(api: Api, tenant: Tenant, core: Core) -> None:
    readers = api.post("/roles", {"name": "Readers", "description": "Read"}).json()
    writers = api.post("/roles", {"name": "Writers"}).json()
    assert api.post("/roles", {"name": "Readers"}).status_code == 409
    assert api.patch(f"/roles/{writers['id']}", {"name": "Readers"}).status_code == 409
    assert api.patch(f"/roles/{writers['id']}", {"name": "Editors", "description": "Edit"}).json() == {
        "id": writers["id"],
        "name": "Editors",
        "description": "Edit",
    }
    assert [r["name"] for r in api.get("/roles", name_filter="edit").json()] == ["Editors"]
    listed = api.get("/roles", include_totals="true").json()
    assert listed["total"] == 2 and listed["start"] == 0

    perms = {
        "permissions": [
            {"resource_server_identifier": tenant.api, "permission_name": "read:things"},
            {"resource_server_identifier": tenant.api, "permission_name": "write:things"},
        ]
    }
    assert api.post(f"/roles/{readers['id']}/permissions", perms).status_code == 201
    undefined = {"permissions": [{"resource_server_identifier": tenant.api, "permission_name": "fly"}]}
    assert api.post(f"/roles/{readers['id']}/permissions", undefined).status_code == 400
    drop = {"permissions": [perms["permissions"][1]]}
    assert api.delete(f"/roles/{readers['id']}/permissions", drop).status_code == 204
    assert [p["permission_name"] for p in api.get(f"/roles/{readers['id']}/permissions").json()] == ["read:things"]

    user_roles = f"/users/{tenant.user.id}/roles"
    assert api.post(user_roles, {"roles": [readers["id"], writers["id"]]}).status_code == 204
    assert [r["name"] for r in api.get(user_roles).json()] == ["Editors", "Readers"]
    with core.db.read() as conn:
        assert UserStore(conn).permissions(tenant.user.id, tenant.api) == {"read:things"}
    assert api.post(user_roles, {"roles": ["rol_nope"]}).json()["errorCode"] == "inexistent_role"
    assert api.post("/users/auth0|nobody/roles", {"roles": [readers["id"]]}).json()["errorCode"] == "inexistent_user"
    assert api.delete(user_roles, {"roles": [writers["id"]]}).status_code == 204
    assert [r["name"] for r in api.get(user_roles).json()] == ["Readers"]
    assert api.delete(f"/roles/{readers['id']}").status_code == 204
    assert api.get(user_roles).json() == []
    assert api.get(f"/roles/{readers['id']}/permissions").status_code == 404


def test_the_cli_and_the_api_share_one_code_path(api: Api, core: Core) -> None:
    """A user made by `admin` (the CLI's layer) is the API's user; one blocked through the API is blocked for
    `admin` too, and the API's validation is `admin`'s."""
    made = admin.create_user(core, email="cli@example.com", password="correct horse battery staple 9")
    assert api.get(f"/users/{made.id}").json()["email"] == "cli@example.com"
    assert api.patch(f"/users/{made.id}", {"blocked": True}).status_code == 200
    with core.db.read() as conn:
        stored = UserStore(conn).get(made.id)
    assert stored is not None and stored.blocked
    with pytest.raises(admin.Conflict):
        admin.create_user(core, email="cli@example.com", password=None)
    bad_callback = api.post("/clients", {"name": "x", "callbacks": ["https://*.example.test/cb"]}).json()
    with pytest.raises(admin.AdminError) as direct:
        admin.create_client(core, name="x", callbacks=["https://*.example.test/cb"])
    assert bad_callback["message"] == str(direct.value)
