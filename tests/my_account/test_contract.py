"""Every response of the My Account authentication-method endpoints validates against Auth0's OpenAPI document.

The walk covers each operation of `/me/v1/factors` and `/me/v1/authentication-methods…` and each status the server
produces for it, including 202 (enroll) and 201 (verify) with their `Location` headers. `tests/support/contract.py`
asserts that the status is documented, validates the JSON body against the documented schema with a JSON Schema
2020-12 validator, and checks the documented headers. Requests we send are validated against the document too.
"""

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx2 as httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.testclient import TestClient

from myaccount import admin
from myaccount.app import create_app
from myaccount.clock import FrozenClock
from myaccount.core import Core
from myaccount.methods.totp import totp_at
from myaccount.settings import RateLimitSettings, Settings
from tests.support.contract import ContractError, check, check_location, check_request, load_contract
from tests.support.me import ALL_SCOPES, Me, me_token
from tests.support.soft_authenticator import SoftAuthenticator, b64url
from tests.support.tenant import Tenant, make_tenant

FACTORS = "/factors"
METHODS = "/authentication-methods"
METHOD = "/authentication-methods/{authentication_method_id}"
VERIFY = "/authentication-methods/{authentication_method_id}/verify"
ORIGIN = "http://localhost"

# The statuses this module drives each operation to; each must be one the document lists.
WALKED: dict[tuple[str, str], set[int]] = {
    ("GET", FACTORS): {200, 401, 403, 429},
    ("GET", METHODS): {200, 400, 401, 403, 429},
    ("POST", METHODS): {202, 400, 401, 403, 415, 429},
    ("GET", METHOD): {200, 401, 403, 404, 429},
    ("PATCH", METHOD): {200, 400, 401, 403, 415, 429},
    ("DELETE", METHOD): {204, 401, 403, 409, 429},
    ("POST", VERIFY): {201, 400, 401, 403, 415, 429},
}

ENROLL_BODIES: dict[str, dict[str, Any]] = {
    "password": {"type": "password"},
    "passkey": {"type": "passkey"},
    "totp": {"type": "totp"},
    "email": {"type": "email", "email": "alice.second@example.com"},
    "phone": {"type": "phone", "phone_number": "+15551234567", "preferred_authentication_method": "sms"},
    "recovery-code": {"type": "recovery-code"},
    "push-notification": {"type": "push-notification"},
}
ALL_TYPES = tuple(ENROLL_BODIES)
VERIFIABLE = ("password", "passkey", "totp", "email", "phone", "recovery-code")
NEW_PASSWORD = "Tr0ub4dor&3-horse-battery"


def _path(method_id: str) -> str:
    return f"{METHODS}/{quote(method_id, safe='')}"


def _verify_path(location: str) -> str:
    return location.split("/me/v1", 1)[1] + "/verify"


@dataclass
class Walk:
    """Enrolls and verifies each method type through the API, checking every response against the document."""

    me: Me
    core: Core
    clock: FrozenClock
    authenticator: SoftAuthenticator = field(default_factory=lambda: SoftAuthenticator(backup_eligible=True))

    def enroll(self, type_: str) -> tuple[str, dict[str, Any]]:
        """POST /authentication-methods → 202; returns the Location and the body."""
        request = ENROLL_BODIES[type_]
        check_request(request, METHODS, "post")
        response = self.me.enroll(request)
        assert response.status_code == 202, response.text
        body: dict[str, Any] = check(response, METHODS, "post")
        location = response.headers["location"]
        method_id = check_location(location)
        assert location == f"{ORIGIN}/me/v1/authentication-methods/{quote(method_id, safe='')}"
        assert "|" not in location and "%7C" in location
        if type_ == "passkey":
            assert location == f"{ORIGIN}/me/v1/authentication-methods/passkey%7Cnew"
            assert "id" not in body
        else:
            assert body["id"] == method_id
        return location, body

    def proof(self, type_: str, body: dict[str, Any]) -> dict[str, Any]:
        """The verify request a client sends after the ceremony."""
        session = body["auth_session"]
        if type_ == "passkey":
            credential = self.authenticator.create(body["authn_params_public_key"], origin=ORIGIN)
            return {"auth_session": session, "authn_response": credential}
        if type_ == "totp":
            manual = body["manual_input_code"]
            key = base64.b32decode(manual + "=" * (-len(manual) % 8))
            return {"auth_session": session, "otp_code": totp_at(key, int(self.clock.now().timestamp()))}
        if type_ in ("email", "phone"):
            address = ENROLL_BODIES[type_]["email" if type_ == "email" else "phone_number"]
            code = self.core.outbox.latest_code(address)
            assert code is not None
            return {"auth_session": session, "otp_code": code}
        if type_ == "password":
            return {"auth_session": session, "new_password": NEW_PASSWORD}
        return {"auth_session": session}

    def verify(self, location: str, request: dict[str, Any]) -> httpx.Response:
        check_request(request, VERIFY, "post")
        return self.me.post(_verify_path(location), request)

    def enroll_and_verify(self, type_: str) -> dict[str, Any]:
        location, body = self.enroll(type_)
        response = self.verify(location, self.proof(type_, body))
        assert response.status_code == 201, response.text
        method: dict[str, Any] = check(response, VERIFY, "post")
        final_id = check_location(response.headers["location"])
        assert final_id == method["id"] and method["type"] == type_
        assert response.headers["location"] == f"{ORIGIN}/me/v1/authentication-methods/{quote(final_id, safe='')}"
        return method


@pytest.fixture
def walk(me: Me, core: Core, clock: FrozenClock) -> Walk:
    return Walk(me, core, clock)


def _approve_push_on_device(client: TestClient, barcode_uri: str) -> None:
    """What the authenticator app does with the QR code: post a fresh device key with the enrollment ticket."""
    query = parse_qs(urlsplit(barcode_uri).query)
    numbers = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
    jwk = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
    }
    enrolled = client.post(
        "/push/v1/enroll",
        json={"enrollment_tx_id": query["enrollment_tx_id"][0], "device_name": "Test phone", "public_key": jwk},
    )
    assert enrolled.status_code == 201, enrolled.text


# The oracle itself


def test_the_walk_covers_every_authentication_method_operation() -> None:
    contract = load_contract()
    documented = contract.operations("/factors") | contract.operations("/authentication-methods")
    assert documented == set(WALKED)
    for (method, path), statuses in WALKED.items():
        assert statuses <= contract.statuses(path, method), (method, path)
        assert any(200 <= s < 300 for s in statuses)


def _fake(status: int, *, json: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    base = {"x-ratelimit-limit": "20", "x-ratelimit-remaining": "19", "x-ratelimit-reset": "1767225600"}
    return httpx.Response(status, json=json, headers={**base, **(headers or {})})


TOTP_BODY = {"id": "totp|dev_AAAAAAAAAAAAAAAA", "auth_session": "s", "barcode_uri": "otpauth://totp/x?secret=A"}
TOTP_LOCATION = "https://id.example.com/me/v1/authentication-methods/totp%7Cdev_AAAAAAAAAAAAAAAA"


@pytest.mark.parametrize(
    ("response", "path", "method", "complaint"),
    [
        (_fake(418, json={}), FACTORS, "get", "does not list"),
        (_fake(404, json={"type": "t", "status": 404, "title": "t", "detail": "d"}), METHOD, "patch", "not list"),
        (_fake(200, json={"factor": []}), FACTORS, "get", "does not validate"),
        (_fake(200, json={"factors": [{"type": "sms"}]}), FACTORS, "get", "does not validate"),
        (_fake(200, json=[{"type": "totp"}]), FACTORS, "get", "does not validate"),
        (
            _fake(200, json={"id": "x", "type": "totp", "created_at": "yesterday", "usage": [], "confirmed": True}),
            METHOD,
            "get",
            "does not validate",
        ),
        (
            _fake(200, json={"id": "x", "type": "totp", "created_at": "2025-01-01T00:00:00.000Z", "usage": []}),
            METHOD,
            "get",
            "does not validate",
        ),
        (
            _fake(400, json={"type": "t", "status": "400", "title": "t", "detail": "d"}),
            METHODS,
            "post",
            "does not validate",
        ),
        (
            _fake(400, json={"type": "t", "status": 400, "title": "t", "detail": "d", "error": "x"}),
            METHODS,
            "post",
            "does not validate",
        ),
        (_fake(202, json=TOTP_BODY), METHODS, "post", "Location"),
        (
            _fake(202, json=TOTP_BODY, headers={"location": "/me/v1/authentication-methods/x"}),
            METHODS,
            "post",
            "URI|abs",
        ),
        (
            _fake(202, json=TOTP_BODY, headers={"location": TOTP_LOCATION.replace("%7C", "|")}),
            METHODS,
            "post",
            "URI|percent-encoded",
        ),
        (
            httpx.Response(200, json={"factors": []}, headers={"x-ratelimit-limit": "1"}),
            FACTORS,
            "get",
            "x-ratelimit-re",
        ),
        (_fake(200, json={"factors": []}, headers={"x-ratelimit-limit": "many"}), FACTORS, "get", "not a number"),
        (_fake(429, json={"type": "t", "status": 429, "title": "t", "detail": "d"}), FACTORS, "get", "retry-after"),
        (
            _fake(401, headers={"content-type": "application/problem+json"}),
            FACTORS,
            "get",
            "Content-Type",
        ),
        (_fake(204, json={"deleted": True}), METHOD, "delete", "no body"),
    ],
)
def test_the_oracle_rejects_what_the_document_does_not_allow(
    response: httpx.Response, path: str, method: str, complaint: str
) -> None:
    with pytest.raises(ContractError, match=complaint):
        check(response, path, method)


def test_the_oracle_accepts_the_documents_own_example() -> None:
    location = "https://auth0.auth0.com/me/v1/authentication-methods/passkey%7Cnew"
    passkey = {
        "auth_session": "Fe26.2**05c400ed...",
        "authn_params_public_key": {
            "challenge": "dGVzdC1jaGFsbGVuZ2U",
            "rp": {"id": "example.auth0.com", "name": "My Application"},
            "user": {"id": "YXV0aDB8NTA3ZjFmNzdiY2Y4NmNkNzk5NDM5MDEx", "name": "user@example.com", "displayName": "U"},
            "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
        },
    }
    assert check(_fake(202, json=passkey, headers={"location": location}), METHODS, "post") == passkey
    assert check_location(location) == "passkey|new"
    with pytest.raises(ContractError, match="not valid"):
        check_request({"type": "totp", "extra": 1}, METHODS, "post")


@pytest.mark.parametrize(
    "location",
    [
        "/me/v1/authentication-methods/passkey%7Cnew",  # relative: SPA posts to `${location}/verify`
        "//id.example.com/me/v1/authentication-methods/passkey%7Cnew",
        "https://id.example.com/me/v1/authentication-methods/passkey|new",
        "https://id.example.com/me/v1/authentication-methods/passkey%257Cnew",  # encoded twice
        "https://id.example.com/me/v1/authentication-methods/passkey%7cnew",  # not how quote() spells it
        "https://id.example.com/me/v1/authentication-methods/passkey%7Cnew/",
        "https://id.example.com/me/v1/authentication-methods/",
        "https://id.example.com/me/v1/authentication-methods/passkey%7Cnew?x=1",
        "https://id.example.com/api/v2/authentication-methods/passkey%7Cnew",
        "ftp://id.example.com/me/v1/authentication-methods/passkey%7Cnew",
    ],
)
def test_check_location_rejects(location: str) -> None:
    with pytest.raises(ContractError):
        check_location(location)


# Reading


def test_factors_200_401_403(client: TestClient, tenant: Tenant, core: Core, me: Me) -> None:
    response = me.get(FACTORS)
    assert response.status_code == 200
    body = check(response, FACTORS, "get")
    assert {f["type"] for f in body["factors"]} >= {"password", "passkey", "totp", "email", "phone", "recovery-code"}

    anonymous = client.get("/me/v1/factors")
    assert anonymous.status_code == 401
    assert check(anonymous, FACTORS, "get")["status"] == 401

    no_scope = Me(client, me_token(client, tenant, core, scope="read:me:authentication_methods"))
    denied = no_scope.get(FACTORS)
    assert denied.status_code == 403
    assert check(denied, FACTORS, "get")["status"] == 403


def test_list_and_get_with_every_method_type(walk: Walk, me: Me, core: Core, tenant: Tenant) -> None:
    confirmed = {t: walk.enroll_and_verify(t) for t in VERIFIABLE}
    push_location, push_body = walk.enroll("push-notification")  # pending: no device has answered

    response = me.get(METHODS)
    assert response.status_code == 200
    listed = check(response, METHODS, "get")["authentication_methods"]
    assert sorted(m["type"] for m in listed) == sorted(ALL_TYPES)
    by_type = {m["type"]: m for m in listed}
    assert by_type["push-notification"]["id"] == push_body["id"] == check_location(push_location)
    assert by_type["push-notification"]["confirmed"] is False
    for type_ in ("totp", "email", "phone", "recovery-code"):
        assert by_type[type_]["confirmed"] is True and by_type[type_]["id"] == confirmed[type_]["id"]
    assert by_type["passkey"]["id"] == confirmed["passkey"]["id"]
    assert by_type["passkey"]["aaguid"] and by_type["passkey"]["relying_party_id"] == "localhost"
    assert by_type["password"]["identity_user_id"] == tenant.user.id

    for method in listed:
        one = me.get(_path(method["id"]))
        assert one.status_code == 200, one.text
        assert check(one, METHOD, "get") == method
        filtered = me.get(METHODS, params={"type": method["type"]})
        assert filtered.status_code == 200
        assert [m["id"] for m in check(filtered, METHODS, "get")["authentication_methods"]] == [method["id"]]


def test_get_unknown_or_foreign_method_is_404(me: Me, client: TestClient, tenant: Tenant, core: Core) -> None:
    for method_id in ("totp|dev_0000000000000000", "passkey|new", "password|new", "x" * 250):
        response = me.get(_path(method_id))
        assert response.status_code == 404
        assert check(response, METHOD, "get")["status"] == 404
    admin.create_user(core, email="bob@example.com", password="bob password 1234")
    bob = Me(client, me_token(client, tenant, core, username="bob@example.com", password="bob password 1234"))
    bob_method = bob.methods()[0]["id"]
    foreign = me.get(_path(bob_method))
    assert foreign.status_code == 404
    check(foreign, METHOD, "get")


def test_list_with_unknown_type_is_400_with_validation_errors(me: Me) -> None:
    response = me.get(METHODS, params={"type": "sms"})
    assert response.status_code == 400
    body = check(response, METHODS, "get")
    assert body["validation_errors"][0]["pointer"] == "/type"


# Enrollment


@pytest.mark.parametrize("type_", ALL_TYPES)
def test_enroll_202_with_location(walk: Walk, type_: str) -> None:
    location, body = walk.enroll(type_)
    assert body["auth_session"]
    if type_ == "passkey":
        options = body["authn_params_public_key"]
        assert options["rp"]["id"] == "localhost" and options["user"]["id"] and options["challenge"]
    elif type_ in ("totp", "push-notification"):
        assert body["barcode_uri"].startswith(f"otpauth://{'totp' if type_ == 'totp' else 'push'}/")
    elif type_ == "recovery-code":
        assert len(body["recovery_code"]) == 24
    elif type_ == "password":
        assert body["id"] == "password|new" and location.endswith("/password%7Cnew")
        assert set(body["policy"]) == {"complexity", "profile_data", "history", "dictionary"}
    else:
        assert body["id"].startswith(f"{type_}|dev_")


@pytest.mark.parametrize("type_", VERIFIABLE)
def test_verify_201_with_location(walk: Walk, me: Me, type_: str) -> None:
    method = walk.enroll_and_verify(type_)
    if type_ == "password":
        assert method["id"].startswith("password|") and method["id"] != "password|new"
    elif type_ == "passkey":
        assert method["id"].startswith("passkey|dev_")
        assert base64.b64decode(method["public_key"], validate=True)
    else:
        assert method["confirmed"] is True
    assert method in me.methods()


def test_push_verify_pending_is_400_then_201_after_the_device_answers(walk: Walk, client: TestClient) -> None:
    location, body = walk.enroll("push-notification")
    pending = walk.verify(location, {"auth_session": body["auth_session"]})
    assert pending.status_code == 400
    assert check(pending, VERIFY, "post")["validation_errors"][0]["pointer"] == "/auth_session"

    _approve_push_on_device(client, body["barcode_uri"])
    approved = walk.verify(location, {"auth_session": body["auth_session"]})
    assert approved.status_code == 201, approved.text
    method = check(approved, VERIFY, "post")
    assert method["type"] == "push-notification" and method["confirmed"] is True
    assert check_location(approved.headers["location"]) == body["id"]


Breaker = Callable[[Walk, dict[str, Any]], dict[str, Any]]


def _wrong_code(walk: Walk, body: dict[str, Any]) -> dict[str, Any]:
    return {"auth_session": body["auth_session"], "otp_code": "000000"}


def _wrong_origin(walk: Walk, body: dict[str, Any]) -> dict[str, Any]:
    credential = walk.authenticator.create(body["authn_params_public_key"], origin="https://evil.example")
    return {"auth_session": body["auth_session"], "authn_response": credential}


def _weak_password(walk: Walk, body: dict[str, Any]) -> dict[str, Any]:
    return {"auth_session": body["auth_session"], "new_password": "password"}


def _unknown_session(walk: Walk, body: dict[str, Any]) -> dict[str, Any]:
    return {"auth_session": "not-a-session", "otp_code": "123456"}


@pytest.mark.parametrize(
    ("type_", "breaker", "pointer"),
    [
        ("totp", _wrong_code, "/otp_code"),
        ("email", _wrong_code, "/otp_code"),
        ("phone", _wrong_code, "/otp_code"),
        ("passkey", _wrong_origin, "/authn_response"),
        ("password", _weak_password, "/new_password"),
        ("totp", _unknown_session, "/auth_session"),
    ],
)
def test_verify_400_with_validation_errors(walk: Walk, type_: str, breaker: Breaker, pointer: str) -> None:
    location, body = walk.enroll(type_)
    response = walk.verify(location, breaker(walk, body))
    assert response.status_code == 400
    error = check(response, VERIFY, "post")
    assert error["validation_errors"], error
    assert error["validation_errors"][0]["pointer"].startswith(pointer)


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"type": 3}, "/type"),
        ({"type": "bogus"}, "/type"),
        ({"type": "webauthn-roaming"}, "/type"),
        ({"type": "totp", "extra": 1}, "/extra"),
        ({"type": "email"}, "/email"),
        ({"type": "email", "email": "not an address"}, "/email"),
        ({"type": "phone", "phone_number": "555-1234"}, "/phone_number"),
        ({"type": "phone", "phone_number": "+15551234567", "preferred_authentication_method": "fax"}, "/pref"),
    ],
)
def test_enroll_400_with_validation_errors(me: Me, body: dict[str, Any], pointer: str) -> None:
    response = me.enroll(body)
    assert response.status_code == 400
    error = check(response, METHODS, "post")
    assert error["validation_errors"][0]["pointer"].startswith(pointer)


@pytest.mark.parametrize("body", [[], "totp", 3, None], ids=["array", "string", "number", "null"])
def test_enroll_400_for_a_body_that_is_not_an_object(me: Me, client: TestClient, body: object) -> None:
    response = client.post(
        "/me/v1/authentication-methods",
        headers={**me.headers, "content-type": "application/json"},
        content=json.dumps(body).encode(),
    )
    assert response.status_code == 400
    check(response, METHODS, "post")


@pytest.mark.parametrize(
    "content",
    [b"{", b'{"type": "totp",}', b"\xff\xfe", b"[" * 5000 + b"]" * 5000],
    ids=["truncated", "trailing-comma", "not-utf8", "too-deep"],
)
@pytest.mark.parametrize(("method", "template"), [("post", METHODS), ("patch", METHOD), ("post", VERIFY)])
def test_400_for_malformed_json(
    walk: Walk, client: TestClient, me: Me, content: bytes, method: str, template: str
) -> None:
    paths = {(m, t): p for m, t, p, _ in _operation_requests(walk)}
    response = client.request(
        method.upper(),
        f"/me/v1{paths[(method, template)]}",
        headers={**me.headers, "content-type": "application/json"},
        content=content,
    )
    assert response.status_code == 400, response.text
    assert check(response, template, method)["status"] == 400


def test_403_when_the_login_is_not_recent(client: TestClient, tenant: Tenant, core: Core, clock: FrozenClock) -> None:
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
    stale = Me(client, refreshed["access_token"])
    enroll = stale.enroll({"type": "totp"})
    assert enroll.status_code == 403
    assert "last 15 minutes" in check(enroll, METHODS, "post")["detail"]
    password_id = stale.methods()[0]["id"]
    delete = stale.delete(_path(password_id))
    assert delete.status_code == 403
    check(delete, METHOD, "delete")


# Changing


def test_patch_200_and_400(walk: Walk, me: Me) -> None:
    totp = walk.enroll_and_verify("totp")
    renamed = me.patch(_path(totp["id"]), {"name": "Work phone app"})
    assert renamed.status_code == 200
    assert check(renamed, METHOD, "patch")["name"] == "Work phone app"

    phone = walk.enroll_and_verify("phone")
    check_request({"preferred_authentication_method": "voice"}, METHOD, "patch")
    voice = me.patch(_path(phone["id"]), {"preferred_authentication_method": "voice"})
    assert voice.status_code == 200
    assert check(voice, METHOD, "patch")["preferred_authentication_method"] == "voice"

    password_id = next(m["id"] for m in me.methods() if m["type"] == "password")
    unchanged = me.patch(_path(password_id), {})
    assert unchanged.status_code == 200
    assert check(unchanged, METHOD, "patch")["type"] == "password"

    for target, body, pointer in [
        (totp["id"], {"colour": "red"}, "/colour"),
        (totp["id"], {"name": ""}, "/name"),
        (totp["id"], {"name": 42}, "/name"),
        (totp["id"], {"preferred_authentication_method": "voice"}, "/preferred_authentication_method"),
        (phone["id"], {"preferred_authentication_method": "fax"}, "/preferred_authentication_method"),
        (password_id, {"name": "Mine"}, "/name"),
    ]:
        bad = me.patch(_path(target), body)
        assert bad.status_code == 400, (body, bad.text)
        assert check(bad, METHOD, "patch")["validation_errors"][0]["pointer"] == pointer


def test_delete_204_and_409(walk: Walk, me: Me) -> None:
    password_id = me.methods()[0]["id"]
    last = me.delete(_path(password_id))
    assert last.status_code == 409
    assert check(last, METHOD, "delete")["status"] == 409

    totp = walk.enroll_and_verify("totp")
    deleted = me.delete(_path(totp["id"]))
    assert deleted.status_code == 204
    assert check(deleted, METHOD, "delete") is None and deleted.content == b""

    passkey = walk.enroll_and_verify("passkey")
    assert me.delete(_path(password_id)).status_code == 204
    assert [m["id"] for m in me.methods()] == [passkey["id"]]
    only_passkey = me.delete(_path(passkey["id"]))
    assert only_passkey.status_code == 409
    check(only_passkey, METHOD, "delete")


# Errors common to every operation


def _operation_requests(walk: Walk) -> Iterator[tuple[str, str, str, Any]]:
    """(method, template, concrete path, JSON body or None) for each operation, on real ids."""
    location, body = walk.enroll("recovery-code")
    method_id = body["id"]
    yield "get", FACTORS, FACTORS, None
    yield "get", METHODS, METHODS, None
    yield "post", METHODS, METHODS, {"type": "totp"}
    yield "get", METHOD, _path(method_id), None
    yield "patch", METHOD, _path(method_id), {"name": "x"}
    yield "delete", METHOD, _path(method_id), None
    yield "post", VERIFY, _verify_path(location), {"auth_session": body["auth_session"]}


def _send(client: TestClient, method: str, path: str, body: Any, headers: dict[str, str]) -> httpx.Response:
    kwargs: dict[str, Any] = {"headers": headers}
    if body is not None:
        kwargs["json"] = body
    return client.request(method.upper(), f"/me/v1{path}", **kwargs)


def test_401_on_every_operation(walk: Walk, client: TestClient) -> None:
    seen = set()
    for method, template, path, body in _operation_requests(walk):
        for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic YTpi"}):
            response = _send(client, method, path, body, headers)
            assert response.status_code == 401, (method, path, headers)
            assert check(response, template, method)["status"] == 401
        seen.add((method.upper(), template))
    assert seen == set(WALKED)


def test_403_without_the_scope_on_every_operation(walk: Walk, client: TestClient, tenant: Tenant, core: Core) -> None:
    seen = set()
    for method, template, path, body in _operation_requests(walk):
        scope = "read:me:authentication_methods" if template == FACTORS else "read:me:factors"
        token = me_token(client, tenant, core, scope=scope)
        response = _send(client, method, path, body, {"Authorization": f"Bearer {token}"})
        assert response.status_code == 403, (method, path, response.text)
        assert check(response, template, method)["status"] == 403
        seen.add((method.upper(), template))
    assert seen == set(WALKED)


@pytest.mark.parametrize(
    ("method", "template"), [("post", METHODS), ("patch", METHOD), ("post", VERIFY)], ids=["enroll", "patch", "verify"]
)
def test_415_for_a_body_that_is_not_json(walk: Walk, client: TestClient, me: Me, method: str, template: str) -> None:
    paths = {(m, t): p for m, t, p, _ in _operation_requests(walk)}
    for content_type in (None, "application/x-www-form-urlencoded", "text/plain"):
        headers = {**me.headers, **({"content-type": content_type} if content_type else {})}
        response = client.request(method.upper(), f"/me/v1{paths[(method, template)]}", headers=headers, content=b"a=b")
        assert response.status_code == 415, (content_type, response.text)
        assert check(response, template, method)["status"] == 415


@dataclass
class Limited:
    client: TestClient
    core: Core


@pytest.fixture
def limited(make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core]) -> Iterator[Limited]:
    limits = RateLimitSettings(
        user_read_capacity=2,
        user_read_per_seconds=3600,
        user_write_capacity=2,
        user_write_per_seconds=3600,
        code_attempt_capacity=2,
        code_attempt_per_seconds=3600,
    )
    settings = make_settings(rate_limits=limits)
    core = make_core(settings)
    with TestClient(create_app(settings, core=core), base_url=ORIGIN, follow_redirects=False) as client:
        yield Limited(client, core)


def test_429_on_every_operation(limited: Limited, clock: FrozenClock) -> None:
    core = limited.core
    tenant = make_tenant(core)
    me = Me(limited.client, me_token(limited.client, tenant, core))
    location, started = Walk(me, core, clock).enroll("recovery-code")  # write 1 of 2
    method_id = started["id"]
    assert me.get(FACTORS).status_code == 200  # read 1 of 2
    assert me.get(METHODS).status_code == 200  # read 2 of 2
    assert me.patch(_path(method_id), {"name": "x"}).status_code == 400  # write 2 of 2 (recovery codes are nameless)

    requests: list[tuple[str, str, str, Any]] = [
        ("get", FACTORS, FACTORS, None),
        ("get", METHODS, METHODS, None),
        ("get", METHOD, _path(method_id), None),
        ("post", METHODS, METHODS, {"type": "totp"}),
        ("patch", METHOD, _path(method_id), {"name": "x"}),
        ("delete", METHOD, _path(method_id), None),
        ("post", VERIFY, _verify_path(location), {"auth_session": started["auth_session"]}),
    ]
    assert {(m.upper(), t) for m, t, _, _ in requests} == set(WALKED)
    for method, template, path, body in requests:
        response = _send(limited.client, method, path, body, me.headers)
        assert response.status_code == 429, (method, path, response.text)
        assert check(response, template, method)["status"] == 429
        assert int(response.headers["retry-after"]) >= 1
        assert response.headers["x-ratelimit-limit"] == "2" and response.headers["x-ratelimit-remaining"] == "0"
