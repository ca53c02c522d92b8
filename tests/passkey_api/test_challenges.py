"""`POST /passkey/register` and `POST /passkey/challenge`: shapes and errors (wire notes §6.1, §6.2)."""

import base64
from typing import Any

import pytest
from starlette.testclient import TestClient

from myaccount import admin
from myaccount.core import Core
from myaccount.my_account.factors import set_factor
from tests.passkey_api import PasskeyApp, PasskeyTenant, challenge, make_passkey_tenant, register, row_counts


@pytest.fixture
def pk(core: Core) -> PasskeyTenant:
    return make_passkey_tenant(core)


def _error(response: Any, status: int, error: str) -> str:
    assert response.status_code == status, response.text
    body: dict[str, str] = response.json()
    assert set(body) == {"error", "error_description"} and body["error"] == error, body
    return body["error_description"]


def test_register_answers_creation_options_as_auth0(client: TestClient, pk: PasskeyTenant, core: Core) -> None:
    before = row_counts(core)
    response = register(client, pk.native, user_profile={"email": "Jane@Example.com", "name": "Jane Doe"})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"auth_session", "authn_params_public_key"}
    options = body["authn_params_public_key"]
    assert options["rp"] == {"id": "localhost", "name": "localhost"}  # rp.name is the RP ID (§6.1)
    assert options["user"]["name"] == "jane@example.com" and options["user"]["displayName"] == "Jane Doe"
    handle = base64.urlsafe_b64decode(options["user"]["id"] + "==")
    assert len(handle) == 32
    assert options["pubKeyCredParams"] == [
        {"type": "public-key", "alg": -8},
        {"type": "public-key", "alg": -7},
        {"type": "public-key", "alg": -257},
    ]
    assert options["authenticatorSelection"] == {"residentKey": "required", "userVerification": "preferred"}
    assert options["timeout"] == 60000
    assert len(base64.urlsafe_b64decode(options["challenge"] + "==")) == 32
    assert "excludeCredentials" not in options
    # No user until the token exchange: only the session exists.
    after = row_counts(core)
    assert after["users"] == before["users"]
    assert after["open_auth_sessions"] == before["open_auth_sessions"] + 1


def test_display_name_defaults_to_the_email(client: TestClient, pk: PasskeyTenant) -> None:
    options = register(client, pk.native, user_profile={"email": "solo@example.com"}).json()["authn_params_public_key"]
    assert options["user"] == {**options["user"], "name": "solo@example.com", "displayName": "solo@example.com"}


def test_every_register_gets_its_own_handle_and_challenge(client: TestClient, pk: PasskeyTenant) -> None:
    first = register(client, pk.native).json()
    second = register(client, pk.native).json()
    assert first["auth_session"] != second["auth_session"]
    assert first["authn_params_public_key"]["user"]["id"] != second["authn_params_public_key"]["user"]["id"]
    assert first["authn_params_public_key"]["challenge"] != second["authn_params_public_key"]["challenge"]


def test_challenge_answers_request_options_without_allow_credentials(client: TestClient, pk: PasskeyTenant) -> None:
    # auth0-server-python sends `username` as a hint; it is accepted and ignored.
    response = challenge(client, pk.native, realm="Username-Password-Authentication", username="someone")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"auth_session", "authn_params_public_key"}
    options = body["authn_params_public_key"]
    assert set(options) == {"challenge", "timeout", "rpId", "userVerification"}
    assert options["rpId"] == "localhost" and options["userVerification"] == "preferred"


def test_confidential_client_authenticates(client: TestClient, pk: PasskeyTenant) -> None:
    assert register(client, pk.web).status_code == 200
    assert challenge(client, pk.web).status_code == 200
    wrong = PasskeyApp(pk.web.client_id, "not-the-secret-at-all")
    assert _error(register(client, wrong), 401, "invalid_client")
    assert _error(challenge(client, PasskeyApp(pk.web.client_id)), 401, "invalid_client")
    assert _error(challenge(client, PasskeyApp("no-such-client-id")), 401, "invalid_client")


def test_client_without_the_grant_is_refused(client: TestClient, pk: PasskeyTenant, core: Core) -> None:
    before = row_counts(core)
    assert "webauthn" in _error(register(client, pk.no_grant), 403, "unauthorized_client")
    assert _error(challenge(client, pk.no_grant), 403, "unauthorized_client")
    assert row_counts(core) == before


def test_third_party_client_is_refused(client: TestClient, core: Core) -> None:
    third, _ = admin.create_client(
        core,
        name="Third party",
        app_type="native",
        grant_types=["urn:okta:params:oauth:grant-type:webauthn"],
        is_first_party=False,
    )
    assert _error(challenge(client, PasskeyApp(third.client_id)), 403, "unauthorized_client")


@pytest.mark.parametrize(
    ("profile", "fragment"),
    [
        ({"email": "a@example.com", "favourite_colour": "blue"}, '"user_profile.favourite_colour" is not allowed'),
        ({"name": "No Email"}, '"user_profile.email" is required'),
        ({"email": "not-an-email"}, '"user_profile.email" must be a valid email'),
        ({"email": "a@example.com", "name": ""}, '"user_profile.name" length must be'),
        ({"email": "a@example.com", "given_name": "x" * 151}, '"user_profile.given_name" length must be'),
        ({"email": "a@example.com", "name": 7}, '"user_profile.name" must be of type string'),
        ({"email": "a@example.com", "phone_number": "0123"}, '"user_profile.phone_number" must be in E.164'),
        ({"email": "a@example.com", "picture": "javascript:alert(1)"}, '"user_profile.picture" must be a valid'),
        ({"email": "a@example.com", "username": "with space"}, '"user_profile.username" must not contain'),
    ],
    ids=["unknown", "no-email", "bad-email", "empty-name", "long-given-name", "non-string", "phone", "picture", "user"],
)
def test_register_validates_the_profile(
    client: TestClient, pk: PasskeyTenant, profile: dict[str, Any], fragment: str
) -> None:
    assert fragment in _error(register(client, pk.native, user_profile=profile), 400, "invalid_request")


def test_register_validates_the_body(client: TestClient, pk: PasskeyTenant) -> None:
    missing = client.post("/passkey/register", json=pk.native.auth())
    assert _error(missing, 400, "invalid_request") == '"user_profile" is required'
    as_string = register(client, pk.native, user_profile="email=a@example.com")
    assert _error(as_string, 400, "invalid_request") == '"user_profile" must be of type object'
    too_much = register(client, pk.native, user_metadata={f"k{i}": "v" for i in range(11)})
    assert "at most 10" in _error(too_much, 400, "invalid_request")
    nested = register(client, pk.native, user_metadata={"plan": {"tier": "gold"}})
    assert '"user_metadata.plan"' in _error(nested, 400, "invalid_request")
    assert "realm" in _error(register(client, pk.native, realm="google-oauth2"), 400, "invalid_request")
    assert "Organizations" in _error(register(client, pk.native, organization="org_abc"), 400, "invalid_request")
    assert "Unknown realm" in _error(challenge(client, pk.native, realm="other-db"), 400, "invalid_request")
    not_json = client.post("/passkey/register", content=b"{", headers={"Content-Type": "application/json"})
    assert _error(not_json, 400, "invalid_request")


def test_existing_email_or_username_is_refused(client: TestClient, pk: PasskeyTenant, core: Core) -> None:
    # Auth0's documented answer (§6.1), user enumeration included; rate limits are what bound it.
    admin.create_user(core, email="taken@example.com", password=None, username="taken")
    by_email = register(client, pk.native, user_profile={"email": "TAKEN@example.com"})
    assert _error(by_email, 400, "invalid_request") == "The user already exists."
    by_username = register(client, pk.native, user_profile={"email": "fresh@example.com", "username": "taken"})
    assert _error(by_username, 400, "invalid_request") == "The user already exists."


def test_disabled_passkeys_answer_404(client: TestClient, pk: PasskeyTenant, core: Core) -> None:
    with core.db.write() as conn:
        set_factor(conn, "passkey", False)
    assert _error(register(client, pk.native), 404, "not_found")
    assert _error(challenge(client, pk.native), 404, "not_found")


def test_only_post(client: TestClient) -> None:
    assert client.get("/passkey/challenge").status_code == 405
