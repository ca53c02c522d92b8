import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from myaccount.clock import FrozenClock
from myaccount.core import Core
from myaccount.methods.totp import totp_at
from myaccount.my_account.factors import set_factor
from myaccount.store.audit import AuditStore
from tests.support.me import Me, me_token
from tests.support.soft_authenticator import SoftAuthenticator
from tests.support.tenant import Tenant


def _totp_code(manual: str, clock: FrozenClock) -> str:
    key = base64.b32decode(manual + "=" * (-len(manual) % 8))
    return totp_at(key, int(clock.now().timestamp()))


def test_factors(me: Me) -> None:
    response = me.get("/factors")
    assert response.status_code == 200
    factors = response.json()["factors"]
    assert {"type": "passkey", "usage": ["primary"]} in factors
    assert {"type": "totp", "usage": ["secondary"]} in factors
    for header in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
        assert response.headers[header].isdigit()


def test_list_has_password_method(me: Me, tenant: Tenant) -> None:
    methods = me.methods()
    assert len(methods) == 1
    password = methods[0]
    assert password["type"] == "password" and password["usage"] == ["primary"]
    assert password["identity_user_id"] == tenant.user.id
    assert password["id"].startswith("password|")
    assert datetime.strptime(password["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def test_missing_token_and_scope(client: TestClient, tenant: Tenant, core: Core) -> None:
    response = client.get("/me/v1/authentication-methods")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"type", "status", "title", "detail"}
    token = me_token(client, tenant, core, scope="read:me:factors")
    limited = Me(client, token)
    denied = limited.get("/authentication-methods")
    assert denied.status_code == 403 and denied.json()["status"] == 403
    assert limited.get("/factors").status_code == 200


def test_token_for_another_api_is_refused(client: TestClient, tenant: Tenant) -> None:
    token = client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": tenant.m2m.client_id,
            "client_secret": tenant.m2m_secret,
            "audience": tenant.api,
        },
    ).json()["access_token"]
    assert Me(client, token).get("/factors").status_code == 401


def test_totp_enrollment(me: Me, clock: FrozenClock, core: Core) -> None:
    started = me.enroll({"type": "totp"})
    assert started.status_code == 202, started.text
    body = started.json()
    method_id = body["id"]
    assert method_id.startswith("totp|dev_") and len(method_id) == len("totp|dev_") + 16
    assert started.headers["location"] == f"http://localhost/me/v1/authentication-methods/{quote(method_id, safe='')}"
    assert body["barcode_uri"].startswith("otpauth://totp/")
    pending = [m for m in me.methods() if m["type"] == "totp"]
    assert pending == [
        {
            "id": method_id,
            "type": "totp",
            "confirmed": False,
            "created_at": pending[0]["created_at"],
            "usage": ["secondary"],
        }
    ]
    wrong = me.verify(started.headers["location"], {"auth_session": body["auth_session"], "otp_code": "000000"})
    assert wrong.status_code == 400 and wrong.json()["validation_errors"][0]["pointer"] == "/otp_code"
    code = _totp_code(body["manual_input_code"], clock)
    verified = me.verify(started.headers["location"], {"auth_session": body["auth_session"], "otp_code": code})
    assert verified.status_code == 201, verified.text
    assert verified.json()["confirmed"] is True
    assert verified.headers["location"].endswith(quote(method_id, safe=""))
    # Single use: the same session cannot confirm twice.
    again = me.verify(started.headers["location"], {"auth_session": body["auth_session"], "otp_code": code})
    assert again.status_code == 400
    with core.db.read() as conn:
        types = {e.type for e in AuditStore(conn).query()}
    assert {"my_account.enrollment_started", "my_account.enrollment_verified", "my_account.enrollment_failed"} <= types


def test_code_attempts_lock_the_enrollment(me: Me, clock: FrozenClock) -> None:
    started = me.enroll({"type": "totp"})
    body = started.json()
    for _ in range(5):
        assert (
            me.verify(
                started.headers["location"], {"auth_session": body["auth_session"], "otp_code": "000000"}
            ).status_code
            == 400
        )
    right = _totp_code(body["manual_input_code"], clock)
    locked = me.verify(started.headers["location"], {"auth_session": body["auth_session"], "otp_code": right})
    assert locked.status_code == 400 and "Too many" in locked.json()["detail"]


def test_expired_auth_session(me: Me, clock: FrozenClock) -> None:
    started = me.enroll({"type": "totp"})
    body = started.json()
    clock.advance(minutes=6)
    code = _totp_code(body["manual_input_code"], clock)
    response = me.verify(started.headers["location"], {"auth_session": body["auth_session"], "otp_code": code})
    assert response.status_code == 400 and response.json()["validation_errors"][0]["pointer"] == "/auth_session"


def test_email_enrollment_with_code_from_outbox(me: Me, core: Core) -> None:
    started = me.enroll({"type": "email", "email": "Alice@Example.com"})
    assert started.status_code == 202, started.text
    code = core.outbox.latest_code("Alice@example.com")
    assert code is not None
    verified = me.verify(
        started.headers["location"], {"auth_session": started.json()["auth_session"], "otp_code": code}
    )
    assert verified.status_code == 201
    assert verified.json()["email"] == "Alice@example.com"  # the domain is case-insensitive, the local part not


def test_phone_enrollment_and_preference_update(me: Me, core: Core) -> None:
    started = me.enroll({"type": "phone", "phone_number": "+15551234567", "preferred_authentication_method": "sms"})
    assert started.status_code == 202
    code = core.outbox.latest_code("+15551234567")
    assert code
    verified = me.verify(
        started.headers["location"], {"auth_session": started.json()["auth_session"], "otp_code": code}
    )
    method_id = verified.json()["id"]
    updated = me.patch(
        f"/authentication-methods/{quote(method_id, safe='')}",
        {"preferred_authentication_method": "voice", "name": "Work phone"},
    )
    assert updated.status_code == 200
    assert updated.json()["preferred_authentication_method"] == "voice" and updated.json()["name"] == "Work phone"
    bad = me.enroll({"type": "phone", "phone_number": "555-1234"})
    assert bad.status_code == 400 and bad.json()["validation_errors"][0]["pointer"] == "/phone_number"


def test_recovery_code_replaces_previous(me: Me) -> None:
    ids = []
    for _ in range(2):
        started = me.enroll({"type": "recovery-code"})
        assert len(started.json()["recovery_code"]) == 24
        ids.append(
            me.verify(started.headers["location"], {"auth_session": started.json()["auth_session"]}).json()["id"]
        )
    assert [m["id"] for m in me.methods() if m["type"] == "recovery-code"] == [ids[1]]


def test_passkey_enrollment_rename_and_delete(me: Me, tenant: Tenant) -> None:
    started = me.enroll({"type": "passkey"})
    assert started.status_code == 202, started.text
    assert started.headers["location"] == "http://localhost/me/v1/authentication-methods/passkey%7Cnew"
    options = started.json()["authn_params_public_key"]
    assert options["rp"]["id"] == "localhost" and options["authenticatorSelection"]["residentKey"] == "required"
    authenticator = SoftAuthenticator(backup_eligible=True, backed_up=True)
    credential = authenticator.create(options, origin="http://localhost")
    verified = me.verify(
        started.headers["location"], {"auth_session": started.json()["auth_session"], "authn_response": credential}
    )
    assert verified.status_code == 201, verified.text
    method = verified.json()
    assert method["id"].startswith("passkey|dev_")
    assert method["credential_device_type"] == "multi_device" and method["credential_backed_up"] is True
    assert method["aaguid"] and method["relying_party_id"] == "localhost"
    assert base64.b64decode(method["public_key"], validate=True)
    assert method["identity_user_id"] == tenant.user.id
    # A second enrollment excludes the first credential.
    second = me.enroll({"type": "passkey"}).json()["authn_params_public_key"]
    assert [c["id"] for c in second["excludeCredentials"]] == [method["key_id"]]
    path = f"/authentication-methods/{quote(method['id'], safe='')}"
    renamed = me.patch(path, {"name": "My laptop"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "My laptop"
    raw_pipe = me.get(f"/authentication-methods/{method['id']}")
    assert raw_pipe.status_code == 200 and raw_pipe.json()["name"] == "My laptop"
    assert me.delete(path).status_code == 204
    assert me.get(path).status_code == 404


def test_wrong_origin_attestation_is_400_with_pointer(me: Me) -> None:
    started = me.enroll({"type": "passkey"})
    credential = SoftAuthenticator().create(started.json()["authn_params_public_key"], origin="https://evil.example")
    response = me.verify(
        started.headers["location"], {"auth_session": started.json()["auth_session"], "authn_response": credential}
    )
    assert response.status_code == 400
    assert response.json()["validation_errors"][0]["pointer"].startswith("/authn_response")


def test_last_primary_method_cannot_be_deleted(me: Me) -> None:
    password_id = me.methods()[0]["id"]
    response = me.delete(f"/authentication-methods/{quote(password_id, safe='')}")
    assert response.status_code == 409
    assert response.json()["status"] == 409


def test_password_change(me: Me, client: TestClient, tenant: Tenant, core: Core) -> None:
    started = me.enroll({"type": "password"})
    assert started.status_code == 202 and started.json()["id"] == "password|new"
    assert started.json()["policy"]["history"] == {"active": True, "size": 5}
    weak = me.verify(
        started.headers["location"], {"auth_session": started.json()["auth_session"], "new_password": "password"}
    )
    assert weak.status_code == 400 and weak.json()["validation_errors"]
    ok = me.verify(
        started.headers["location"],
        {"auth_session": started.json()["auth_session"], "new_password": "Tr0ub4dor&3-horse"},
    )
    assert ok.status_code == 201, ok.text
    assert me_token(client, tenant, core, password="Tr0ub4dor&3-horse")


def test_other_users_method_is_404(me: Me, client: TestClient, tenant: Tenant, core: Core) -> None:
    from myaccount import admin

    admin.create_user(core, email="bob@example.com", password="bob password 1234")
    bob = Me(client, me_token(client, tenant, core, username="bob@example.com", password="bob password 1234"))
    started = bob.enroll({"type": "recovery-code"})
    bob_id = started.json()["id"]
    path = f"/authentication-methods/{quote(bob_id, safe='')}"
    assert me.get(path).status_code == 404
    assert me.patch(path, {"name": "x"}).status_code == 404
    assert me.delete(path).status_code == 404
    # Bob's auth_session is useless to Alice, even on her own enrollment.
    own = me.enroll({"type": "recovery-code"})
    response = me.verify(own.headers["location"], {"auth_session": started.json()["auth_session"]})
    assert response.status_code == 400


def test_recent_authentication_required_for_enroll_not_rename(
    client: TestClient, tenant: Tenant, core: Core, clock: FrozenClock
) -> None:
    from tests.support.me import ALL_SCOPES

    tokens = client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "username": "alice@example.com",
            "password": tenant.password,
            "audience": core.settings.my_account_audience,
            "scope": f"openid offline_access {ALL_SCOPES}",
        },
    ).json()
    clock.advance(minutes=16)
    refreshed = client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "refresh_token": tokens["refresh_token"],
        },
    ).json()
    me = Me(client, refreshed["access_token"])
    response = me.enroll({"type": "totp"})
    assert response.status_code == 403 and "last 15 minutes" in response.json()["detail"]
    password_id = me.methods()[0]["id"]
    assert me.patch(f"/authentication-methods/{quote(password_id, safe='')}", {}).status_code == 200
    assert me.delete(f"/authentication-methods/{quote(password_id, safe='')}").status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        [],
        "x",
        {"type": 3},
        {"type": "bogus"},
        {"type": "totp", "extra": 1},
        {"type": "email"},
        {"type": "webauthn-roaming"},
    ],
)
def test_bad_enrollment_bodies(me: Me, body: object) -> None:
    response = me.post("/authentication-methods", body)
    assert response.status_code == 400
    assert set(response.json()) <= {"type", "status", "title", "detail", "validation_errors"}


def test_unsupported_media_type_and_oversized(me: Me, client: TestClient) -> None:
    response = client.post(
        "/me/v1/authentication-methods",
        headers=me.headers,
        content=b"type=totp",
    )
    assert response.status_code == 415
    big = client.post(
        "/me/v1/authentication-methods",
        headers={**me.headers, "content-type": "application/json"},
        content=b'{"type":"' + b"a" * 70000 + b'"}',
    )
    assert big.status_code == 413
    deep = client.post(
        "/me/v1/authentication-methods",
        headers={**me.headers, "content-type": "application/json"},
        content=b"[" * 5000 + b"]" * 5000,
    )
    assert deep.status_code == 400


def test_write_rate_limit(client: TestClient, tenant: Tenant, core: Core) -> None:
    me = Me(client, me_token(client, tenant, core))
    statuses = [
        me.patch(f"/authentication-methods/{quote(me.methods()[0]['id'], safe='')}", {}).status_code for _ in range(25)
    ]
    assert statuses.count(429) == 5
    limited = me.patch(f"/authentication-methods/{quote(me.methods()[0]['id'], safe='')}", {})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert limited.headers["x-ratelimit-remaining"] == "0"


def test_known_authenticator_gets_name_and_icon(me: Me, client: TestClient) -> None:
    google = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"
    started = me.enroll({"type": "passkey"})
    credential = SoftAuthenticator(aaguid=google).create(
        started.json()["authn_params_public_key"], origin="http://localhost"
    )
    method = me.verify(
        started.headers["location"], {"auth_session": started.json()["auth_session"], "authn_response": credential}
    ).json()
    assert method["name"] == "Google Password Manager"
    assert method["icon_url"] == f"http://localhost/authenticators/{google}/icon.svg"
    icon = client.get(f"/authenticators/{google}/icon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/")
    assert client.get("/authenticators/00000000-0000-0000-0000-000000000000/icon.svg").status_code == 404


def test_unreachable_redis_fails_open_for_rate_limits(make_settings: Any, make_core: Any) -> None:
    from myaccount.app import create_app

    settings = make_settings(redis_url="redis://127.0.0.1:1/0")
    core = make_core(settings)
    from tests.support.tenant import make_tenant

    other = make_tenant(core)
    client = TestClient(create_app(settings, core=core), base_url="http://localhost")
    me = Me(client, me_token(client, other, core))
    password_id = me.methods()[0]["id"]
    response = me.patch(f"/authentication-methods/{quote(password_id, safe='')}", {})
    assert response.status_code == 200
    assert client.get("/readyz").status_code == 503


@pytest.mark.parametrize(
    ("type_", "factor"),
    [("passkey", "passkey"), ("totp", "otp"), ("recovery-code", "recovery-code"), ("email", "email")],
)
def test_enrollment_of_a_disabled_factor_is_refused(me: Me, core: Core, type_: str, factor: str) -> None:
    body: dict[str, Any] = {"type": type_}
    if type_ == "email":
        body["email"] = "someone@example.com"
    with core.db.write() as conn:
        set_factor(conn, factor, False)
    refused = me.enroll(body)
    assert refused.status_code == 400, refused.text
    assert "not enabled" in refused.json()["detail"]
    with core.db.write() as conn:
        set_factor(conn, factor, True)
    assert me.enroll(body).status_code == 202
