"""`POST /oauth/token` with `urn:okta:params:oauth:grant-type:webauthn`: sign-up, sign-in, and every refusal
(wire notes §6.3). Real ceremonies: the SoftAuthenticator signs, py_webauthn verifies."""

import json
from typing import Any

import httpx2 as httpx
import jwt
import pytest
from starlette.testclient import TestClient

from myaccount import admin
from myaccount.clock import FrozenClock
from myaccount.core import Core
from myaccount.store.audit import AuditStore
from myaccount.store.methods import MethodStore
from myaccount.store.tenant import TenantSettingsStore
from myaccount.store.users import User, UserStore
from tests.passkey_api import (
    ALL_ME_SCOPES,
    MFA_OTP,
    ORIGIN,
    PasskeyApp,
    PasskeyTenant,
    challenge,
    make_passkey_tenant,
    register,
    row_counts,
    token,
    token_form,
)
from tests.support.factors import enroll_totp, totp_now
from tests.support.me import Me
from tests.support.soft_authenticator import SoftAuthenticator, b64url

EMAIL = "new@example.com"


@pytest.fixture
def pk(core: Core) -> PasskeyTenant:
    return make_passkey_tenant(core)


@pytest.fixture
def authenticator() -> SoftAuthenticator:
    return SoftAuthenticator(backup_eligible=True, backed_up=True)


def _error(response: httpx.Response, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == error, body
    description: str = body["error_description"]
    return description


def _signup(
    client: TestClient, app: PasskeyApp, authenticator: SoftAuthenticator, **extra: str
) -> tuple[httpx.Response, dict[str, Any]]:
    started = register(client, app, user_profile={"email": EMAIL, "name": "New User", "nickname": "newbie"})
    assert started.status_code == 200, started.text
    body = started.json()
    credential = authenticator.create(body["authn_params_public_key"], origin=ORIGIN)
    return token(client, app, body["auth_session"], credential, **extra), credential


def _login_challenge(client: TestClient, app: PasskeyApp) -> dict[str, Any]:
    response = challenge(client, app)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _login(
    client: TestClient, app: PasskeyApp, authenticator: SoftAuthenticator, **extra: str
) -> tuple[httpx.Response, dict[str, Any]]:
    body = _login_challenge(client, app)
    assertion = authenticator.get(body["authn_params_public_key"], origin=ORIGIN)
    return token(client, app, body["auth_session"], assertion, **extra), assertion


def _user(core: Core) -> User:
    with core.db.read() as conn:
        user = UserStore(conn).by_email(EMAIL)
    assert user is not None
    return user


def _sign_count(core: Core, user: User) -> int:
    with core.db.read() as conn:
        (method,) = MethodStore(conn).list(user.id)
    return int(method.data["sign_count"])


def test_signup_creates_a_passkey_only_user_and_issues_tokens(
    client: TestClient, pk: PasskeyTenant, core: Core, authenticator: SoftAuthenticator
) -> None:
    response, credential = _signup(
        client,
        pk.native,
        authenticator,
        scope=f"openid profile email offline_access {ALL_ME_SCOPES}",
        audience=pk.audience,
    )
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"]
    user = _user(core)
    assert user.password_hash is None and user.name == "New User" and user.nickname == "newbie"
    assert not user.email_verified and user.logins_count == 1
    id_claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    assert id_claims["sub"] == user.id and id_claims["email"] == EMAIL
    assert id_claims["amr"] == ["passkey", "mfa"]  # a user-verifying passkey is multi-factor
    access = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    assert access["aud"][0] == pk.audience or access["aud"] == pk.audience

    # The passkey is a My Account authentication method like one enrolled there.
    methods = Me(client, tokens["access_token"]).methods()
    assert [m["type"] for m in methods] == ["passkey"]
    (method,) = methods
    assert method["id"].startswith("passkey|dev_")
    assert method["key_id"] == credential["id"] and method["relying_party_id"] == "localhost"
    assert method["credential_backed_up"] is True
    with core.db.read() as conn:
        (stored,) = MethodStore(conn).list(user.id)
    assert stored.credential_id == credential["id"] and stored.last_auth_at is not None
    # The handle the authenticator keeps is the user's: sign-ins find the account by it.
    (kept,) = authenticator.credentials.values()
    assert user.webauthn_user_handle == stored.data["user_handle"] == b64url(kept.user_handle)
    with core.db.read() as conn:
        assert {e.type for e in AuditStore(conn).query(user_id=user.id)} == {"ss", "s", "sepkft"}


def test_signup_stores_user_metadata(
    client: TestClient, pk: PasskeyTenant, core: Core, authenticator: SoftAuthenticator
) -> None:
    started = register(client, pk.native, user_profile={"email": EMAIL}, user_metadata={"plan": "gold"}).json()
    credential = authenticator.create(started["authn_params_public_key"], origin=ORIGIN)
    assert token(client, pk.native, started["auth_session"], credential).status_code == 200
    assert _user(core).user_metadata == {"plan": "gold"}


def test_login_with_the_same_discoverable_credential(
    client: TestClient, pk: PasskeyTenant, core: Core, authenticator: SoftAuthenticator, clock: FrozenClock
) -> None:
    assert _signup(client, pk.native, authenticator)[0].status_code == 200
    user = _user(core)
    assert _sign_count(core, user) == 0
    clock.advance(seconds=5)
    first, assertion = _login(client, pk.web, authenticator, scope="openid")
    assert first.status_code == 200, first.text
    assert jwt.decode(first.json()["id_token"], options={"verify_signature": False})["sub"] == user.id
    assert assertion["response"]["userHandle"]  # discoverable: the authenticator named the account
    assert _sign_count(core, user) == 1
    second, _ = _login(client, pk.native, authenticator)
    assert second.status_code == 200, second.text
    assert _sign_count(core, user) == 2
    with core.db.read() as conn:
        (method,) = MethodStore(conn).list(user.id)
        assert method.last_auth_at == clock.now()
        assert UserStore(conn).get(user.id).logins_count == 3  # type: ignore[union-attr]


def test_replayed_assertion_is_refused(
    client: TestClient, pk: PasskeyTenant, core: Core, authenticator: SoftAuthenticator
) -> None:
    _signup(client, pk.native, authenticator)
    body = _login_challenge(client, pk.native)
    assertion = authenticator.get(body["authn_params_public_key"], origin=ORIGIN)
    assert token(client, pk.native, body["auth_session"], assertion).status_code == 200
    before = row_counts(core)
    # Same session: already used.
    assert "already used" in _error(token(client, pk.native, body["auth_session"], assertion), 400, "invalid_grant")
    # A fresh session: the old assertion answers another challenge.
    fresh = _login_challenge(client, pk.native)
    replay = token(client, pk.native, fresh["auth_session"], assertion)
    assert "challenge" in _error(replay, 400, "invalid_grant")
    after = row_counts(core)
    assert after["refresh_tokens"] == before["refresh_tokens"] and after["login_sessions"] == before["login_sessions"]


def test_wrong_origin_is_refused(
    client: TestClient, pk: PasskeyTenant, core: Core, authenticator: SoftAuthenticator
) -> None:
    before = row_counts(core)
    started = register(client, pk.native).json()
    elsewhere = SoftAuthenticator()
    credential = elsewhere.create(started["authn_params_public_key"], origin="https://evil.example")
    assert "origin" in _error(token(client, pk.native, started["auth_session"], credential), 400, "invalid_grant")
    _signup(client, pk.native, authenticator)
    body = _login_challenge(client, pk.native)
    assertion = authenticator.get(body["authn_params_public_key"], origin="https://evil.example", rp_id="localhost")
    assert "origin" in _error(token(client, pk.native, body["auth_session"], assertion), 400, "invalid_grant")
    assert row_counts(core)["users"] == before["users"] + 1  # only the good sign-up


def test_tampered_signatures_are_refused(client: TestClient, pk: PasskeyTenant, core: Core) -> None:
    packed = SoftAuthenticator(attestation="packed")
    before = row_counts(core)
    started = register(client, pk.native).json()
    bad_attestation = SoftAuthenticator(attestation="packed").create(
        started["authn_params_public_key"], origin=ORIGIN, corrupt_signature=True
    )
    described = _error(token(client, pk.native, started["auth_session"], bad_attestation), 400, "invalid_grant")
    assert "attestation" in described
    assert row_counts(core) == {**before, "open_auth_sessions": 0}
    with core.db.read() as conn:
        assert [e.type for e in AuditStore(conn).query(type_="fs")] == ["fs"]

    _signup(client, pk.native, packed)
    user = _user(core)
    body = _login_challenge(client, pk.native)
    forged = packed.get(body["authn_params_public_key"], origin=ORIGIN, corrupt_signature=True)
    assert "signature" in _error(token(client, pk.native, body["auth_session"], forged), 400, "invalid_grant")
    assert _sign_count(core, user) == 0


def test_unknown_credential_is_refused(
    client: TestClient, pk: PasskeyTenant, core: Core, authenticator: SoftAuthenticator
) -> None:
    stranger = SoftAuthenticator()
    stranger.create({"rp": {"id": "localhost"}, "user": {"id": "AAAA"}, "challenge": "AAAA"}, origin=ORIGIN)
    before = row_counts(core)
    body = _login_challenge(client, pk.native)
    assertion = stranger.get(body["authn_params_public_key"], origin=ORIGIN)
    assert _error(token(client, pk.native, body["auth_session"], assertion), 400, "invalid_grant")
    assert row_counts(core) == before  # and the challenge's session is spent


def test_sign_count_regression_is_refused_and_audited(
    client: TestClient, pk: PasskeyTenant, core: Core, authenticator: SoftAuthenticator
) -> None:
    _, credential = _signup(client, pk.native, authenticator)
    assert _login(client, pk.native, authenticator)[0].status_code == 200
    user = _user(core)
    authenticator.set_sign_count(credential["id"], 0)  # a clone that started from an older copy
    before = row_counts(core)
    response, _ = _login(client, pk.native, authenticator)
    assert "counter" in _error(response, 400, "invalid_grant")
    assert _sign_count(core, user) == 1
    assert row_counts(core)["refresh_tokens"] == before["refresh_tokens"]
    with core.db.read() as conn:
        (event,) = AuditStore(conn).query(user_id=user.id, type_="f")
    assert event.outcome == "failure" and "cloned" in event.description
    assert event.details["method_id"].startswith("passkey|dev_")


def test_auth_session_is_single_use_bound_and_short_lived(
    client: TestClient, pk: PasskeyTenant, core: Core, clock: FrozenClock, authenticator: SoftAuthenticator
) -> None:
    started = register(client, pk.native).json()
    credential = authenticator.create(started["authn_params_public_key"], origin=ORIGIN)
    # Another application cannot finish this client's ceremony.
    assert _error(token(client, pk.web, started["auth_session"], credential), 400, "invalid_grant")
    assert token(client, pk.native, started["auth_session"], credential).status_code == 200
    again = token(client, pk.native, started["auth_session"], credential)
    assert _error(again, 400, "invalid_grant") == "The auth_session is invalid, expired or already used."

    body = _login_challenge(client, pk.native)
    assertion = authenticator.get(body["authn_params_public_key"], origin=ORIGIN)
    clock.advance(minutes=5, seconds=1)
    before = row_counts(core)
    assert _error(token(client, pk.native, body["auth_session"], assertion), 400, "invalid_grant")
    assert _error(token(client, pk.native, "made-up", assertion), 400, "invalid_grant")
    assert row_counts(core) == before


def test_failed_ceremony_burns_its_session(
    client: TestClient, pk: PasskeyTenant, authenticator: SoftAuthenticator
) -> None:
    started = register(client, pk.native).json()
    options = started["authn_params_public_key"]
    wrong = authenticator.create(options, origin="https://evil.example")
    assert _error(token(client, pk.native, started["auth_session"], wrong), 400, "invalid_grant")
    right = authenticator.create(options, origin=ORIGIN)
    assert _error(token(client, pk.native, started["auth_session"], right), 400, "invalid_grant")


def test_client_without_the_grant_is_refused(
    client: TestClient, pk: PasskeyTenant, core: Core, authenticator: SoftAuthenticator
) -> None:
    started = register(client, pk.native).json()
    credential = authenticator.create(started["authn_params_public_key"], origin=ORIGIN)
    before = row_counts(core)
    assert _error(token(client, pk.no_grant, started["auth_session"], credential), 403, "unauthorized_client")
    assert row_counts(core) == before


def test_email_taken_after_the_challenge_is_refused(
    client: TestClient, pk: PasskeyTenant, core: Core, authenticator: SoftAuthenticator
) -> None:
    started = register(client, pk.native, user_profile={"email": EMAIL}).json()
    admin.create_user(core, email=EMAIL, password=None)
    before = row_counts(core)
    credential = authenticator.create(started["authn_params_public_key"], origin=ORIGIN)
    response = token(client, pk.native, started["auth_session"], credential)
    assert _error(response, 400, "invalid_request") == "The user already exists."
    assert row_counts(core) == {**before, "open_auth_sessions": before["open_auth_sessions"] - 1}


def test_unknown_audience_creates_nobody(
    client: TestClient, pk: PasskeyTenant, core: Core, authenticator: SoftAuthenticator
) -> None:
    before = row_counts(core)
    response, _ = _signup(client, pk.native, authenticator, audience="https://nowhere.example/")
    assert _error(response, 403, "access_denied")
    assert row_counts(core)["users"] == before["users"]


def test_blocked_user_is_refused(
    client: TestClient, pk: PasskeyTenant, core: Core, authenticator: SoftAuthenticator
) -> None:
    _signup(client, pk.native, authenticator)
    with core.db.write() as conn:
        UserStore(conn).update(_user(core).id, now=core.clock.now(), blocked=True)
    response, _ = _login(client, pk.native, authenticator)
    assert _error(response, 401, "unauthorized") == "user is blocked"


def test_form_encoded_body(client: TestClient, pk: PasskeyTenant, authenticator: SoftAuthenticator) -> None:
    started = register(client, pk.native).json()
    credential = authenticator.create(started["authn_params_public_key"], origin=ORIGIN)
    response = token_form(client, pk.native, started["auth_session"], credential)
    assert response.status_code == 200, response.text
    body = _login_challenge(client, pk.native)
    assertion = authenticator.get(body["authn_params_public_key"], origin=ORIGIN)
    assert token_form(client, pk.native, body["auth_session"], json.dumps(assertion)).status_code == 200


@pytest.mark.parametrize("value", ["not json", '"a string"', "[1, 2]", "42"], ids=["text", "string", "array", "num"])
def test_authn_response_must_be_an_object(client: TestClient, pk: PasskeyTenant, core: Core, value: str) -> None:
    body = _login_challenge(client, pk.native)
    before = row_counts(core)
    form = token_form(client, pk.native, body["auth_session"], value)
    assert _error(form, 400, "invalid_request") == '"authn_response" must be of type object'
    as_json = token(client, pk.native, body["auth_session"], json.loads(value) if value != "not json" else value)
    assert _error(as_json, 400, "invalid_request") == '"authn_response" must be of type object'
    assert row_counts(core) == before  # a malformed request is not an attempt: the session stays usable


def test_missing_parameters(client: TestClient, pk: PasskeyTenant) -> None:
    body = _login_challenge(client, pk.native)
    no_response = client.post(
        "/oauth/token",
        json={"grant_type": "urn:okta:params:oauth:grant-type:webauthn", **pk.native.auth(), "auth_session": "x"},
    )
    assert "authn_response" in _error(no_response, 400, "invalid_request")
    no_session = token(client, pk.native, "", {"id": "x"})
    assert "auth_session" in _error(no_session, 400, "invalid_request")
    wrong_realm = token(client, pk.native, body["auth_session"], {"id": "x"}, realm="other")
    assert "realm" in _error(wrong_realm, 400, "invalid_request")


def test_malformed_response_is_invalid_grant_not_500(client: TestClient, pk: PasskeyTenant) -> None:
    for response in ({}, {"id": "!!", "rawId": "!!"}, {"id": "AA", "rawId": "AA", "type": "public-key"}):
        signup = register(client, pk.native).json()
        assert _error(token(client, pk.native, signup["auth_session"], response), 400, "invalid_grant")
        login = _login_challenge(client, pk.native)
        assert _error(token(client, pk.native, login["auth_session"], response), 400, "invalid_grant")


def test_mfa_required_when_policy_demands_a_second_factor(
    client: TestClient, pk: PasskeyTenant, core: Core, clock: FrozenClock, authenticator: SoftAuthenticator
) -> None:
    signed_up, _ = _signup(client, pk.web, authenticator, audience=pk.audience, scope=f"openid {ALL_ME_SCOPES}")
    assert signed_up.status_code == 200, signed_up.text
    secret = enroll_totp(Me(client, signed_up.json()["access_token"]), clock)
    with core.db.write() as conn:
        TenantSettingsStore(conn).set("mfa_policy", "always")

    # A user-verifying passkey is already two factors: the policy is met.
    assert _login(client, pk.web, authenticator)[0].status_code == 200

    authenticator.user_verification = False  # presence only: one factor
    before = row_counts(core)
    response, _ = _login(client, pk.web, authenticator, scope="openid offline_access")
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error"] == "mfa_required" and body["error_description"] == "Multifactor authentication required"
    assert {"type": "otp"} in body["mfa_requirements"]["challenge"]
    assert row_counts(core)["refresh_tokens"] == before["refresh_tokens"]

    done = client.post(
        "/oauth/token",
        data={
            "grant_type": MFA_OTP,
            **pk.web.auth(),
            "mfa_token": body["mfa_token"],
            "otp": totp_now(secret, clock),
        },
    )
    assert done.status_code == 200, done.text
    assert jwt.decode(done.json()["id_token"], options={"verify_signature": False})["amr"] == ["passkey", "mfa", "otp"]
