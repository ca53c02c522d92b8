import copy
import json
from pathlib import Path
from typing import Any

import pytest

from myaccount import admin
from myaccount.audit import Caller
from myaccount.core import Core
from myaccount.oauth.errors import InvalidClient
from myaccount.oauth.token_endpoint import token_request
from myaccount.store.clients import ClientStore
from myaccount.store.roles import RoleStore
from myaccount.store.users import UserStore
from myaccount.tenant import MY_ACCOUNT_SCOPES
from myaccount.tenant_file import ApplyReport, TenantFileError, apply, load

API = "https://api.example.test/"
M2M_SECRET = "m2m-secret-0123456789abcdef"


def tenant_doc() -> dict[str, Any]:
    return {
        "resource_servers": [
            {
                "identifier": API,
                "name": "Example API",
                "scopes": [{"value": "read:things", "description": "Read things"}, "write:things"],
                "subject_type_authorization": {"user": {"policy": "require_client_grant"}},
            }
        ],
        "clients": [
            {
                "client_id": "account-page-client",
                "name": "Account page",
                "app_type": "spa",
                "callbacks": ["##PUBLIC_URL##/account/callback"],
                "allowed_origins": ["##PUBLIC_URL##"],
                "web_origins": ["##PUBLIC_URL##/"],
            },
            {
                "client_id": "backend-m2m-client",
                "client_secret": M2M_SECRET,
                "name": "Backend",
                "app_type": "non_interactive",
            },
        ],
        "client_grants": [
            {
                "client_id": "account-page-client",
                "audience": "##PUBLIC_URL##/me/",
                "scope": sorted(MY_ACCOUNT_SCOPES),
                "subject_type": "user",
            },
            {"client_id": "backend-m2m-client", "audience": API, "scope": ["read:things"]},
        ],
        "roles": [
            {
                "name": "editor",
                "description": "Edits things",
                "permissions": [{"resource_server_identifier": API, "permission_name": "write:things"}],
            }
        ],
        "users": [
            {
                "user_id": "auth0|alice0001",
                "email": "Alice@Example.com",
                "password": "correct horse battery staple 1",
                "email_verified": True,
                "name": "Alice",
                "roles": ["editor"],
            },
            {"email": "bob@example.com", "password": "correct horse battery staple 2"},
        ],
    }


def counts(report: ApplyReport) -> dict[str, tuple[int, int, int]]:
    return {kind: (c.created, c.updated, c.unchanged) for kind, c in report.counts.items()}


def problems(core: Core, doc: dict[str, Any]) -> list[str]:
    with pytest.raises(TenantFileError) as caught:
        apply(core, doc)
    return caught.value.problems


def client_credentials(core: Core, secret: str) -> dict[str, object]:
    """The token endpoint's own code path, without HTTP (the serve tests cover HTTP)."""
    params = {"grant_type": "client_credentials", "client_id": "backend-m2m-client", "client_secret": secret}
    return token_request(core, params | {"audience": API}, basic=None, caller=Caller())


def test_apply_creates_everything_and_a_second_apply_changes_nothing(core: Core) -> None:
    first = apply(core, tenant_doc())
    assert counts(first) == {
        "resource_servers": (1, 0, 0),
        "clients": (2, 0, 0),
        "client_grants": (2, 0, 0),
        "roles": (1, 0, 0),
        "users": (2, 0, 0),
    }
    assert first.client_secrets == {}  # the one confidential client had its secret in the file
    second = apply(core, tenant_doc())
    assert not second.changed
    assert counts(second) == {
        "resource_servers": (0, 0, 1),
        "clients": (0, 0, 2),
        "client_grants": (0, 0, 2),
        "roles": (0, 0, 1),
        "users": (0, 0, 2),
    }
    with core.db.read() as conn:
        clients = ClientStore(conn)
        spa = clients.get("account-page-client")
        assert spa is not None and spa.is_public
        assert spa.callbacks == ["http://localhost/account/callback"]
        assert spa.web_origins == ["http://localhost"]  # normalised to an origin, and still "unchanged" above
        grant = clients.grant("account-page-client", core.settings.my_account_audience, "user")
        assert grant is not None and set(grant.scope) == set(MY_ACCOUNT_SCOPES)
        api = clients.resource_server(API)
        assert api is not None and api.policy("user") == "require_client_grant"
        assert api.scopes[1] == {"value": "write:things", "description": "write:things"}
        alice = UserStore(conn).get("auth0|alice0001")
        assert alice is not None and alice.email == "alice@example.com" and alice.email_verified
        assert core.passwords.verify(alice.password_hash, "correct horse battery staple 1")
        roles = RoleStore(conn)
        editor = roles.by_name("editor")
        assert editor is not None
        assert UserStore(conn).role_ids(alice.id) == [editor.id]
        assert roles.permissions(editor.id) == [(API, "write:things")]
        assert UserStore(conn).permissions(alice.id, API) == {"write:things"}


def test_a_client_from_the_file_gets_a_token(core: Core) -> None:
    apply(core, tenant_doc())
    body = client_credentials(core, M2M_SECRET)
    assert isinstance(body["access_token"], str)
    claims = core.tokens.verify_access_token(body["access_token"], audience=API)
    assert claims.subject == "backend-m2m-client@clients"
    assert claims.scopes == {"read:things"}


def test_changed_fields_are_updated_and_the_rest_left_alone(core: Core) -> None:
    apply(core, tenant_doc())
    doc = tenant_doc()
    doc["clients"][0]["callbacks"].append("http://localhost:3000/callback")
    doc["clients"][1]["client_secret"] = "a-new-secret-for-the-backend"
    doc["client_grants"][1]["scope"] = ["read:things", "write:things"]
    doc["roles"][0]["permissions"] = [{"resource_server_identifier": API, "permission_name": "read:things"}]
    doc["resource_servers"][0]["name"] = "Renamed API"
    del doc["users"][0]["name"]  # absent: left as it is
    report = apply(core, doc)
    assert counts(report) == {
        "resource_servers": (0, 1, 0),
        "clients": (0, 2, 0),
        "client_grants": (0, 1, 1),
        "roles": (0, 1, 0),
        "users": (0, 0, 2),
    }
    with core.db.read() as conn:
        spa = ClientStore(conn).get("account-page-client")
        assert spa is not None and spa.callbacks[-1] == "http://localhost:3000/callback"
        grant = ClientStore(conn).grant("backend-m2m-client", API, "client")
        assert grant is not None and sorted(grant.scope) == ["read:things", "write:things"]
        editor = RoleStore(conn).by_name("editor")
        assert editor is not None and RoleStore(conn).permissions(editor.id) == [(API, "read:things")]
        alice = UserStore(conn).get("auth0|alice0001")
        assert alice is not None and alice.name == "Alice"
    with pytest.raises(InvalidClient):
        client_credentials(core, M2M_SECRET)
    assert client_credentials(core, "a-new-secret-for-the-backend")["token_type"] == "Bearer"
    assert not apply(core, doc).changed


def test_passwords_are_set_at_creation_unless_password_update(core: Core) -> None:
    apply(core, tenant_doc())
    doc = tenant_doc()
    doc["users"][1]["password"] = "another password entirely 3"
    assert counts(apply(core, doc))["users"] == (0, 0, 2)
    with core.db.read() as conn:
        bob = UserStore(conn).by_email("bob@example.com")
    assert bob is not None and core.passwords.verify(bob.password_hash, "correct horse battery staple 2")

    doc["users"][1]["password_update"] = True
    assert counts(apply(core, doc))["users"] == (0, 1, 1)
    with core.db.read() as conn:
        bob = UserStore(conn).by_email("bob@example.com")
    assert bob is not None and core.passwords.verify(bob.password_hash, "another password entirely 3")
    assert counts(apply(core, doc))["users"] == (0, 0, 2)


def test_users_are_matched_by_email_and_roles_are_only_added(core: Core) -> None:
    carol = admin.create_user(core, email="carol@example.com", password=None)
    role = admin.create_role(core, name="auditor")
    admin.assign_roles(core, carol.id, [role.id])
    doc = tenant_doc()
    doc["users"] = [{"email": "CAROL@example.com", "nickname": "caz", "roles": ["editor"]}]
    report = apply(core, doc)
    assert counts(report)["users"] == (0, 1, 0)
    with core.db.read() as conn:
        users, roles = UserStore(conn), RoleStore(conn)
        stored = users.get(carol.id)
        assert stored is not None and stored.nickname == "caz"
        names = {r.name for rid in users.role_ids(carol.id) if (r := roles.get(rid))}
    assert names == {"auditor", "editor"}


def test_dry_run_counts_but_writes_nothing(core: Core) -> None:
    report = apply(core, tenant_doc(), dry_run=True)
    assert counts(report)["clients"] == (2, 0, 0)
    with core.db.read() as conn:
        assert ClientStore(conn).get("backend-m2m-client") is None
        assert UserStore(conn).by_email("bob@example.com") is None


def test_generated_secret_is_reported_once(core: Core) -> None:
    doc = {"clients": [{"client_id": "web-app-client", "name": "Web", "app_type": "regular_web"}]}
    first = apply(core, doc)
    secret = first.client_secrets["web-app-client"]
    with core.db.read() as conn:
        stored = ClientStore(conn).get("web-app-client")
    assert stored is not None and stored.secret_hash == core.fingerprint(secret, purpose="client-secret")
    second = apply(core, doc)
    assert second.client_secrets == {} and not second.changed


def test_nothing_is_written_when_any_object_is_invalid(core: Core) -> None:
    doc = tenant_doc()
    doc["client_grants"][1]["scope"] = ["read:things", "delete:things"]
    assert problems(core, doc) == [f"client_grants[1].scope: not defined by {API}: delete:things"]
    with core.db.read() as conn:
        assert ClientStore(conn).resource_server(API) is None
        assert ClientStore(conn).get("account-page-client") is None
        assert UserStore(conn).by_email("bob@example.com") is None


def test_unknown_keys_and_wrong_types_are_named_by_path(core: Core) -> None:
    doc: dict[str, Any] = tenant_doc()
    doc["client"] = []
    doc["clients"][1]["grant_type"] = ["client_credentials"]
    doc["clients"][0]["callbacks"] = "http://localhost/cb"
    doc["users"][1]["email_verified"] = "yes"
    del doc["roles"][0]["name"]
    found = problems(core, doc)
    assert "client: unknown top-level key (did you mean clients?)" in found
    assert "clients[1].grant_type: unknown field (did you mean grant_types?)" in found
    assert "clients[0].callbacks: expected a list" in found
    assert "users[1].email_verified: expected true or false" in found
    assert "roles[0].name: required" in found


def test_admin_rules_and_references_are_checked_before_writing(core: Core) -> None:
    doc = tenant_doc()
    doc["clients"][0]["callbacks"] = ["not a url"]
    doc["clients"][0]["client_secret"] = "a-secret-for-a-public-client"
    doc["client_grants"].append({"client_id": "nobody-client", "audience": "https://nowhere.test/"})
    doc["roles"][0]["permissions"].append({"resource_server_identifier": API, "permission_name": "fly:things"})
    doc["users"][0]["roles"] = ["ghost"]
    doc["users"][1]["email"] = "not-an-email"
    found = problems(core, doc)
    assert found == [
        "clients[0]: callbacks: 'not a url' is not an absolute URL",
        "client_grants[2].client_id: no client nobody-client in the file or the tenant",
        "client_grants[2].audience: no API https://nowhere.test/ in the file or the tenant",
        f"roles[0].permissions[1]: fly:things is not defined by {API}",
        "users[0].roles[0]: no role named ghost in the file or the tenant",
        "users[1]: 'not-an-email' is not a valid email address",
    ]


def test_duplicates_and_conflicting_users_are_refused(core: Core) -> None:
    admin.create_user(core, email="dave@example.com", password=None, user_id="auth0|dave0001")
    doc = tenant_doc()
    doc["clients"].append(copy.deepcopy(doc["clients"][0]))
    doc["users"].append({"email": "ALICE@example.com"})
    assert problems(core, doc) == [
        "clients[2]: a second entry for client account-page-client",
        "users[2]: a second entry for user alice@example.com",
    ]
    doc = tenant_doc()
    doc["users"].append({"user_id": "auth0|someone-else", "email": "dave@example.com"})
    assert problems(core, doc) == ["users[2].email: dave@example.com belongs to another user, auth0|dave0001"]


def test_system_apis_take_a_policy_but_not_new_scopes(core: Core) -> None:
    my_account = core.settings.my_account_audience
    doc: dict[str, Any] = {"resource_servers": [{"identifier": "##PUBLIC_URL##/me/", "scopes": ["read:me:x"]}]}
    assert problems(core, doc) == ["resource_servers[0].scopes: cannot be changed on a system API"]
    doc = {
        "resource_servers": [
            {"identifier": my_account, "subject_type_authorization": {"client": {"policy": "require_client_grant"}}}
        ]
    }
    assert problems(core, doc) == [
        "resource_servers[0].subject_type_authorization.client: fixed at deny_all for My Account"
    ]
    doc = {
        "resource_servers": [
            {"identifier": my_account, "subject_type_authorization": {"user": {"policy": "allow_all"}}}
        ]
    }
    assert counts(apply(core, doc))["resource_servers"] == (0, 1, 0)
    with core.db.read() as conn:
        api = ClientStore(conn).resource_server(my_account)
    assert api is not None and api.policy("user") == "allow_all" and api.policy("client") == "deny_all"
    assert counts(apply(core, doc))["resource_servers"] == (0, 0, 1)


def test_load_reads_json_and_toml_alike(tmp_path: Path) -> None:
    as_json = tmp_path / "tenant.json"
    as_json.write_text(json.dumps({"clients": [{"client_id": "backend-m2m-client", "name": "Backend"}]}))
    as_toml = tmp_path / "tenant.TOML"
    as_toml.write_text('[[clients]]\nclient_id = "backend-m2m-client"\nname = "Backend"\n')
    assert load(as_json) == load(as_toml) == {"clients": [{"client_id": "backend-m2m-client", "name": "Backend"}]}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("t.json", '{"clients": [}', "t.json:1:14: invalid JSON"),
        ("t.toml", "[[clients]\n", "t.toml: invalid TOML"),
        ("t.json", "[]", "t.json: the top level must be an object"),
        ("t.yaml", "clients: []", "t.yaml: a tenant file ends in .json or .toml"),
    ],
    ids=["json", "toml", "not-an-object", "extension"],
)
def test_load_names_the_file_and_what_is_wrong(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(TenantFileError) as caught:
        load(path)
    assert str(caught.value).startswith(str(tmp_path / message))


def test_load_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TenantFileError, match="cannot be read"):
        load(tmp_path / "absent.json")


def test_the_readme_example_applies_cleanly_twice(core: Core) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    example = json.loads(readme.split("```json\n", 1)[1].split("```", 1)[0])
    first = apply(core, example)
    assert all(c.created and not c.updated and not c.unchanged for c in first.counts.values())
    assert not apply(core, example).changed
