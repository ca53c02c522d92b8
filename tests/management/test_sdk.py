"""Auth0's own Python SDK (`auth0-python`, the Fern-generated `auth0.management.Auth0`) against a running MyAccount:
users, authentication methods, Guardian factors, client grants, resource servers, roles and logs."""

import base64
import json
from collections.abc import Iterator

import httpx
import pytest
from auth0.authentication import GetToken
from auth0.authentication.exceptions import Auth0Error
from auth0.management import Auth0
from auth0.management.errors import BadRequestError, ConflictError, NotFoundError
from auth0.management.types import PermissionRequestPayload, SetUserAuthenticationMethods

from myaccount.methods.totp import Totp, totp_at
from myaccount.store.methods import MethodStore
from tests.conftest import LiveServer
from tests.management import credential, grant_management
from tests.support.tenant import PASSWORD, Tenant

DATABASE = "Username-Password-Authentication"


@pytest.fixture
def mgmt(live_server: LiveServer, live_tenant: Tenant) -> Iterator[Auth0]:
    grant_management(live_server.core, live_tenant)
    auth = GetToken(
        live_server.domain, live_tenant.m2m.client_id, client_secret=live_tenant.m2m_secret, protocol="http"
    )
    token = auth.client_credentials(live_server.core.settings.management_audience)["access_token"]
    with httpx.Client(timeout=30) as http:
        yield Auth0(base_url=f"{live_server.url}/api/v2", token=token, max_retries=0, httpx_client=http)


def _login(server: LiveServer, tenant: Tenant, username: str, password: str) -> dict[str, str]:
    auth = GetToken(server.domain, tenant.web.client_id, client_secret=tenant.web_secret, protocol="http")
    tokens: dict[str, str] = auth.login(
        username=username,
        password=password,
        realm=DATABASE,
        audience=server.core.settings.my_account_audience,
        scope="openid offline_access read:me:factors create:me:authentication_methods",
    )
    return tokens


def test_users(mgmt: Auth0, live_server: LiveServer, live_tenant: Tenant) -> None:
    created = mgmt.users.create(
        connection=DATABASE, email="Bob@Example.com", password=PASSWORD, name="Bob", user_metadata={"lang": "en"}
    )
    assert created.user_id and created.user_id.startswith("auth0|")
    assert created.email == "bob@example.com" and created.email_verified is False
    assert created.identities and created.identities[0].connection == DATABASE
    assert created.identities[0].provider == "auth0" and created.created_at is not None

    fetched = mgmt.users.get(created.user_id)
    assert fetched.name == "Bob" and fetched.nickname == "bob" and fetched.user_metadata == {"lang": "en"}

    by_email = mgmt.users.list(q='email:"bob@example.com"', search_engine="v3")
    assert [u.user_id for u in by_email.items or []] == [created.user_id]
    assert by_email.response.total == 1
    every = [u.user_id for u in mgmt.users.list(per_page=1)]  # the pager walks page after page
    assert sorted(every) == sorted([live_tenant.user.id, created.user_id])
    assert [u.user_id for u in mgmt.users.list_users_by_email(email="bob@example.com")] == [created.user_id]

    with pytest.raises(ConflictError) as conflict:
        mgmt.users.create(connection=DATABASE, email="bob@example.com", password=PASSWORD)
    assert conflict.value.status_code == 409 and conflict.value.body["errorCode"] == "auth0_idp_error"

    blocked = mgmt.users.update(created.user_id, blocked=True)
    assert blocked.blocked is True
    with pytest.raises(Auth0Error) as refused:
        _login(live_server, live_tenant, "bob@example.com", PASSWORD)
    assert refused.value.status_code == 401
    unblocked = mgmt.users.update(
        created.user_id, blocked=False, email="robert@example.com", password="another long passphrase 42"
    )
    assert unblocked.blocked is False and unblocked.email == "robert@example.com" and unblocked.email_verified is False
    assert _login(live_server, live_tenant, "robert@example.com", "another long passphrase 42")["access_token"]
    merged = mgmt.users.update(created.user_id, user_metadata={"theme": "dark"}, app_metadata={"plan": "gold"})
    assert merged.user_metadata == {"lang": "en", "theme": "dark"} and merged.app_metadata == {"plan": "gold"}

    mgmt.users.delete(created.user_id)
    with pytest.raises(NotFoundError) as gone:
        mgmt.users.get(created.user_id)
    assert gone.value.body == {
        "statusCode": 404,
        "error": "Not Found",
        "message": "The user does not exist.",
        "errorCode": "inexistent_user",
    }


def test_authentication_methods(mgmt: Auth0, live_server: LiveServer, live_tenant: Tenant) -> None:
    methods = mgmt.users.authentication_methods
    user_id = live_tenant.user.id
    phone = methods.create(user_id, type="phone", phone_number="+14155550123", preferred_authentication_method="sms")
    assert phone.type == "phone" and phone.id and phone.id.startswith("phone|dev_")
    email = methods.create(user_id, type="email", email="alice.mfa@example.com", name="Work mail")
    secret = base64.b32encode(b"0123456789abcdefghij").decode()
    totp = methods.create(user_id, type="totp", totp_secret=secret)
    key = credential()
    passkey = methods.create(
        user_id,
        type="passkey",
        key_id=key["key_id"],
        public_key=key["public_key"],
        relying_party_identifier="localhost",
        credential_device_type="multi_device",
        credential_backed_up=True,
        transports=["internal", "hybrid"],
        aaguid="ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",  # Google Password Manager
    )
    assert passkey.name == "Google Password Manager"
    assert passkey.relying_party_identifier == "localhost" and passkey.credential_device_type == "multi_device"

    listed = methods.list(user_id)
    by_id = {m.id: m for m in listed}
    assert listed.response.total == 5  # the password too
    assert {m.type for m in listed} == {"password", "passkey", "phone", "email", "totp"}
    stored = by_id[passkey.id]
    assert stored.key_id == key["key_id"] and stored.public_key == key["public_key"]
    assert stored.relying_party_identifier == "localhost" and stored.credential_backed_up is True
    assert stored.transports == ["internal", "hybrid"] and stored.identity_user_id == user_id
    assert by_id[phone.id].phone_number == "+14155550123" and by_id[phone.id].confirmed is True
    assert by_id[email.id].email == "alice.mfa@example.com" and by_id[email.id].name == "Work mail"

    renamed = methods.update(user_id, totp.id or "", name="Authy")
    assert renamed.name == "Authy" and methods.get(user_id, totp.id or "").name == "Authy"
    voice = methods.update(user_id, phone.id or "", preferred_authentication_method="voice")
    assert voice.preferred_authentication_method == "voice"

    replaced = methods.set(
        user_id,
        request=[
            SetUserAuthenticationMethods(type="email", email="alice.new@example.com"),
            SetUserAuthenticationMethods(type="totp", totp_secret=secret),
        ],
    )
    assert [m.type for m in replaced] == ["email", "totp"]
    assert {m.type for m in methods.list(user_id)} == {"password", "passkey", "email", "totp"}

    methods.delete(user_id, passkey.id or "")
    with pytest.raises(NotFoundError):
        methods.get(user_id, passkey.id or "")
    second = credential()
    methods.create(user_id, type="passkey", key_id=second["key_id"], public_key=second["public_key"])
    mgmt.users.authenticators.delete_all(user_id)
    assert {m.type for m in methods.list(user_id)} == {"password", "passkey"}
    methods.create(user_id, type="phone", phone_number="+14155550199")
    methods.delete_all(user_id)
    assert {m.type for m in methods.list(user_id)} == {"password", "passkey"}

    with pytest.raises(BadRequestError) as bad:
        methods.create(user_id, type="totp", totp_secret="not base32!")
    assert bad.value.body["errorCode"] == "invalid_body"
    with pytest.raises(NotFoundError):
        methods.list("auth0|nobody")


def test_totp_created_by_management_matches_codes(mgmt: Auth0, live_server: LiveServer, live_tenant: Tenant) -> None:
    secret = base64.b32encode(b"12345678901234567890").decode()
    created = mgmt.users.authentication_methods.create(live_tenant.user.id, type="totp", totp_secret=secret)
    core = live_server.core
    with core.db.read() as conn:
        record = MethodStore(conn).get(live_tenant.user.id, created.id or "")
    assert record is not None and record.confirmed and record.secret
    opened = json.loads(core.sealer.open(record.secret, purpose="method-secret"))
    assert opened["secret"] == secret.rstrip("=")
    code = totp_at(b"12345678901234567890", int(core.clock.now().timestamp()))
    assert Totp(issuer="test", clock=core.clock).check(opened["secret"], code, last_step=opened["last_step"])


def test_guardian_factors_drive_my_account(mgmt: Auth0, live_server: LiveServer, live_tenant: Tenant) -> None:
    names = {f.name: f for f in mgmt.guardian.factors.list()}
    assert {
        "sms",
        "email",
        "otp",
        "push-notification",
        "recovery-code",
        "webauthn-roaming",
        "webauthn-platform",
    } <= set(names)
    assert names["otp"].enabled is True and names["otp"].trial_expired is False

    me = _login(live_server, live_tenant, "alice@example.com", live_tenant.password)["access_token"]
    headers = {"Authorization": f"Bearer {me}"}
    factors = httpx.get(f"{live_server.url}/me/v1/factors", headers=headers).json()["factors"]
    assert "totp" in {f["type"] for f in factors}

    assert mgmt.guardian.factors.set("otp", enabled=False).enabled is False
    assert {f.name: f.enabled for f in mgmt.guardian.factors.list()}["otp"] is False
    factors = httpx.get(f"{live_server.url}/me/v1/factors", headers=headers).json()["factors"]
    assert "totp" not in {f["type"] for f in factors}
    refused = httpx.post(f"{live_server.url}/me/v1/authentication-methods", headers=headers, json={"type": "totp"})
    assert refused.status_code == 400, refused.text

    assert mgmt.guardian.factors.set("otp", enabled=True).enabled is True
    started = httpx.post(f"{live_server.url}/me/v1/authentication-methods", headers=headers, json={"type": "totp"})
    assert started.status_code == 202, started.text
    with pytest.raises(BadRequestError):
        mgmt.guardian.factors.set("duo", enabled=True)


def test_client_grants(mgmt: Auth0, live_server: LiveServer, live_tenant: Tenant) -> None:
    grants = mgmt.client_grants
    created = grants.create(
        client_id=live_tenant.web.client_id, audience=live_tenant.api, scope=["read:things"], subject_type="user"
    )
    assert created.id and created.subject_type == "user" and created.scope == ["read:things"]
    assert created.is_system is False

    for_api = grants.list(audience=live_tenant.api)
    assert {(g.client_id, g.subject_type) for g in for_api} == {
        (live_tenant.m2m.client_id, "client"),
        (live_tenant.web.client_id, "user"),
    }
    walked = [g.id for g in grants.list(take=1)]  # checkpoint pagination, one grant per page
    assert len(walked) == len(set(walked)) == len(list(grants.list()))
    only_users = grants.list(audience=live_tenant.api, subject_type="user")
    assert [g.id for g in only_users] == [created.id]

    updated = grants.update(created.id, scope=["read:things", "write:things"])
    assert updated.scope == ["read:things", "write:things"]
    assert grants.get(created.id).scope == ["read:things", "write:things"]
    with pytest.raises(ConflictError):
        grants.create(client_id=live_tenant.web.client_id, audience=live_tenant.api, subject_type="user")
    with pytest.raises(BadRequestError):
        grants.create(client_id=live_tenant.web.client_id, audience=live_tenant.api, scope=["launch:missiles"])
    with pytest.raises(BadRequestError):  # the My Account API refuses every machine token
        grants.create(
            client_id=live_tenant.m2m.client_id,
            audience=live_server.core.settings.my_account_audience,
            subject_type="client",
        )

    grants.delete(created.id)
    with pytest.raises(NotFoundError):
        grants.get(created.id)


def test_resource_servers(mgmt: Auth0, live_server: LiveServer, live_tenant: Tenant) -> None:
    apis = mgmt.resource_servers
    created = apis.create(
        identifier="https://orders.example.test/",
        name="Orders",
        scopes=[{"value": "read:orders", "description": "Read orders"}],
        token_lifetime=3600,
        subject_type_authorization={"user": {"policy": "require_client_grant"}, "client": {"policy": "deny_all"}},
    )
    assert created.id and created.identifier == "https://orders.example.test/" and created.is_system is False
    assert created.subject_type_authorization is not None and created.subject_type_authorization.user is not None
    assert created.subject_type_authorization.user.policy == "require_client_grant"

    assert apis.get(created.id).name == "Orders"
    assert apis.get("https://orders.example.test/").id == created.id  # by identifier too
    listed = apis.list()
    identifiers = {a.identifier for a in listed}
    settings = live_server.core.settings
    assert {settings.my_account_audience, settings.management_audience, live_tenant.api} <= identifiers
    assert [a.id for a in apis.list(identifiers=["https://orders.example.test/"])] == [created.id]

    updated = apis.update(
        created.id,
        scopes=[{"value": "read:orders"}, {"value": "write:orders"}],
        subject_type_authorization={"client": {"policy": "require_client_grant"}},
    )
    assert updated.scopes is not None and [s.value for s in updated.scopes] == ["read:orders", "write:orders"]
    assert updated.subject_type_authorization is not None and updated.subject_type_authorization.client is not None
    assert updated.subject_type_authorization.client.policy == "require_client_grant"
    assert updated.subject_type_authorization.user is not None
    assert updated.subject_type_authorization.user.policy == "require_client_grant"

    my_account = apis.get(settings.my_account_audience)
    assert my_account.is_system is True
    with pytest.raises(BadRequestError):
        apis.update(my_account.id or "", subject_type_authorization={"client": {"policy": "require_client_grant"}})
    for system in (settings.my_account_audience, settings.management_audience):
        with pytest.raises(BadRequestError):
            apis.delete(system)
    with pytest.raises(ConflictError):
        apis.create(identifier="https://orders.example.test/")

    apis.delete(created.id)
    with pytest.raises(NotFoundError):
        apis.get(created.id)


def test_roles_and_logs(mgmt: Auth0, live_tenant: Tenant) -> None:
    role = mgmt.roles.create(name="Readers", description="Read things")
    assert role.id and role.name == "Readers"
    mgmt.roles.permissions.add(
        role.id,
        permissions=[
            PermissionRequestPayload(resource_server_identifier=live_tenant.api, permission_name="read:things")
        ],
    )
    permissions = list(mgmt.roles.permissions.list(role.id))
    assert [(p.resource_server_identifier, p.permission_name) for p in permissions] == [
        (live_tenant.api, "read:things")
    ]
    assert permissions[0].resource_server_name == "Example API"
    mgmt.users.roles.assign(live_tenant.user.id, roles=[role.id])
    assert [r.id for r in mgmt.users.roles.list(live_tenant.user.id)] == [role.id]
    assert [r.name for r in mgmt.roles.list()] == ["Readers"]
    mgmt.users.roles.delete(live_tenant.user.id, roles=[role.id])
    assert list(mgmt.users.roles.list(live_tenant.user.id)) == []

    events = list(mgmt.logs.list(search=f'type:"sapi" AND client_id:"{live_tenant.m2m.client_id}"', per_page=100))
    descriptions = {e.description for e in events}
    assert {"Create a role", "Associate permissions with a role", "Assign roles to a user"} <= descriptions
    assert all(e.type == "sapi" and e.log_id and e.date for e in events)
    user_events = list(mgmt.users.logs.list(live_tenant.user.id))
    assert {"Assign roles to a user", "Remove roles from a user"} <= {e.description for e in user_events}
    assert mgmt.logs.get(events[0].log_id or "").log_id == events[0].log_id
