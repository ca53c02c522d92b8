"""Authentication methods through `/api/v2/users/{id}/authentication-methods`: validation, the replace and bulk
delete rules, the Management names (`push`, `relying_party_identifier`), and what My Account then shows."""

from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient

from myaccount.core import Core
from myaccount.store.methods import MethodRecord, MethodStore
from tests.management import Api, credential, grant_management, management_token
from tests.support.me import Me, me_token
from tests.support.tenant import PASSWORD, Tenant

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


@pytest.fixture
def api(client: TestClient, tenant: Tenant, core: Core) -> Api:
    grant_management(core, tenant)
    return Api(client, management_token(client, tenant, core))


@pytest.fixture
def path(tenant: Tenant) -> str:
    return f"/users/{tenant.user.id}/authentication-methods"


def test_created_methods_show_in_my_account(
    api: Api, path: str, client: TestClient, tenant: Tenant, core: Core
) -> None:
    phone = api.post(path, {"type": "phone", "phone_number": "+14155550123", "name": "Mobile"})
    assert phone.status_code == 201, phone.text
    body = phone.json()
    assert body["type"] == "phone" and body["confirmed"] is True and body["preferred_authentication_method"] == "sms"
    assert body["authentication_methods"] == [{"id": "sms|" + body["id"].split("|")[1], "type": "sms"}]
    key = credential()
    passkey = api.post(path, {"type": "passkey", **key}).json()
    assert passkey["relying_party_identifier"] == "localhost"  # the server's RP id unless told
    assert passkey["aaguid"] == "00000000-0000-0000-0000-000000000000" and passkey["name"] == "Passkey"
    assert passkey["credential_device_type"] == "single_device" and passkey["credential_backed_up"] is False
    assert passkey["user_handle"] and "relying_party_id" not in passkey

    mine = Me(client, me_token(client, tenant, core)).methods()
    by_type = {m["type"]: m for m in mine}
    assert by_type["phone"]["phone_number"] == "+14155550123" and by_type["phone"]["confirmed"] is True
    assert by_type["phone"]["name"] == "Mobile"
    assert by_type["passkey"]["relying_party_id"] == "localhost"  # My Account's name for the same field
    assert by_type["passkey"]["key_id"] == key["key_id"] and by_type["passkey"]["public_key"] == key["public_key"]


def test_validation(api: Api, path: str, tenant: Tenant) -> None:
    key = credential()
    cases = [
        {"type": "recovery-code"},
        {"type": "phone"},
        {"type": "phone", "phone_number": "555-0123"},
        {"type": "phone", "phone_number": "+14155550123", "preferred_authentication_method": "fax"},
        {"type": "email", "email": "nope"},
        {"type": "email", "email": "a@example.com", "phone_number": "+14155550123"},
        {"type": "totp"},
        {"type": "totp", "totp_secret": "JBSWY3DP"},  # 40 bits
        {"type": "passkey", "key_id": key["key_id"]},
        {"type": "passkey", "key_id": key["key_id"], "public_key": "AAAA"},
        {"type": "passkey", **key, "aaguid": "not-a-uuid"},
        {"type": "passkey", **key, "credential_device_type": "cloud"},
        {"type": "passkey", **key, "identity_user_id": "someone-else"},
        {"type": "passkey", **key, "name": "\x07bell"},
        {"type": "webauthn-roaming", "key_id": key["key_id"], "public_key": "%%%"},
    ]
    for body in cases:
        response = api.post(path, body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["errorCode"] in ("invalid_body", "operation_not_supported")
    assert api.get(path).json()[0]["type"] == "password"
    assert len(api.get(path).json()) == 1

    assert api.post(path, {"type": "passkey", **key, "identity_user_id": tenant.user.id}).status_code == 201
    assert api.post(path, {"type": "passkey", **key}).status_code == 409  # the same credential id
    assert api.post(path, {"type": "totp", "totp_secret": SECRET}).status_code == 201
    assert api.post(path, {"type": "totp", "totp_secret": SECRET}).status_code == 409  # one app at a time
    assert api.post(path, {"type": "email", "email": "a@example.com"}).status_code == 201
    assert api.post(path, {"type": "email", "email": "A@EXAMPLE.com"}).status_code == 409
    roaming = api.post(path, {"type": "webauthn-roaming", **credential(), "relying_party_identifier": "example.test"})
    assert roaming.status_code == 201 and roaming.json()["name"] == "Security key"
    assert roaming.json()["relying_party_identifier"] == "example.test"


def test_put_replaces_phone_email_totp_atomically(api: Api, path: str) -> None:
    api.post(path, {"type": "phone", "phone_number": "+14155550123"})
    api.post(path, {"type": "totp", "totp_secret": SECRET})
    passkey = api.post(path, {"type": "passkey", **credential()}).json()
    bad = api.put(path, [{"type": "email", "email": "x@example.com"}, {"type": "passkey", **credential()}])
    assert bad.status_code == 400
    assert {m["type"] for m in api.get(path).json()} == {"password", "passkey", "phone", "totp"}  # untouched
    assert api.put(path, {"type": "email"}).status_code == 400
    replaced = api.put(path, [{"type": "email", "email": "x@example.com", "name": "Inbox"}])
    assert replaced.status_code == 200
    assert [(m["type"], m["name"], m["email"]) for m in replaced.json()] == [("email", "Inbox", "x@example.com")]
    assert {m["type"] for m in api.get(path).json()} == {"password", "passkey", "email"}
    assert api.put(path, []).json() == []
    assert [m["id"] for m in api.get(path).json() if m["type"] == "passkey"] == [passkey["id"]]


def test_paging_get_patch_delete(api: Api, path: str, tenant: Tenant, core: Core) -> None:
    for number in range(3):
        api.post(path, {"type": "phone", "phone_number": f"+1415555012{number}"})
    page = api.get(path, page="1", per_page="2", include_totals="true").json()
    assert page["start"] == 2 and page["limit"] == 2 and page["total"] == 4 and len(page["authenticators"]) == 2

    methods = api.get(path).json()
    password = methods[0]
    assert api.get(f"{path}/{password['id']}").json() == password
    assert api.delete(f"{path}/{password['id']}").json()["errorCode"] == "operation_not_supported"
    assert api.patch(f"{path}/{password['id']}", {"name": "x"}).status_code == 400
    phone = methods[1]
    assert api.patch(f"{path}/{phone['id']}", {"preferred_authentication_method": "voice"}).json()[
        "authentication_methods"
    ] == [{"id": "voice|" + phone["id"].split("|")[1], "type": "voice"}]
    assert api.patch(f"{path}/{phone['id']}", {"unknown": 1}).status_code == 400
    assert api.delete(f"{path}/{phone['id']}").status_code == 204
    assert api.delete(f"{path}/{phone['id']}").status_code == 404

    # Another user's method id is not found under this user.
    created = api.post("/users", {"email": "bob@example.com", "password": PASSWORD, "connection": DATABASE}).json()
    assert api.get(f"/users/{created['user_id']}/authentication-methods/{methods[2]['id']}").status_code == 404


DATABASE = "Username-Password-Authentication"


def test_bulk_deletes_keep_the_ways_to_sign_in(api: Api, path: str, tenant: Tenant, core: Core) -> None:
    now = datetime.now(UTC)
    with core.db.write() as conn:
        store = MethodStore(conn)
        for type_ in ("push-notification", "recovery-code"):
            store.add(
                MethodRecord(
                    id=f"{type_}|dev_x", user_id=tenant.user.id, type=type_, name=None, confirmed=True, created_at=now
                )
            )
    api.post(path, {"type": "passkey", **credential()})
    api.post(path, {"type": "webauthn-roaming", **credential()})
    api.post(path, {"type": "totp", "totp_secret": SECRET})
    listed = {m["type"] for m in api.get(path).json()}
    assert listed == {"password", "passkey", "push", "recovery-code", "webauthn-roaming", "totp"}  # `push` here

    assert api.delete(f"/users/{tenant.user.id}/authenticators").status_code == 204
    assert {m["type"] for m in api.get(path).json()} == {"password", "passkey", "webauthn-roaming"}
    assert api.delete(path).status_code == 204
    assert {m["type"] for m in api.get(path).json()} == {"password", "passkey"}
    assert api.delete("/users/auth0|nobody/authenticators").status_code == 404
