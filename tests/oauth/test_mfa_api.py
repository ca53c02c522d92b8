"""Auth0's MFA API: mfa_required with an mfa_token, /mfa/challenge, and the mfa-otp / mfa-oob / recovery grants."""

from typing import Any

import httpx2 as httpx
import jwt
import pytest
from starlette.testclient import TestClient

from myaccount.clock import FrozenClock
from myaccount.core import Core
from myaccount.store.tenant import TenantSettingsStore
from tests.support.factors import enroll_email, enroll_recovery_code, enroll_totp, totp_now
from tests.support.me import Me
from tests.support.tenant import Tenant

REALM = "http://auth0.com/oauth/grant-type/password-realm"


def _policy(core: Core, value: str) -> None:
    with core.db.write() as conn:
        TenantSettingsStore(conn).set("mfa_policy", value)


def _login(client: TestClient, tenant: Tenant, **extra: str) -> httpx.Response:
    return client.post(
        "/oauth/token",
        data={
            "grant_type": REALM,
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "username": "alice@example.com",
            "password": tenant.password,
            "realm": "Username-Password-Authentication",
            "scope": "openid offline_access",
            **extra,
        },
    )


def _grant(client: TestClient, tenant: Tenant, grant: str, **params: str) -> httpx.Response:
    return client.post(
        "/oauth/token",
        data={
            "grant_type": f"http://auth0.com/oauth/grant-type/{grant}",
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            **params,
        },
    )


def _mfa_token(response: httpx.Response) -> str:
    assert response.status_code == 403, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == "mfa_required"
    token: str = body["mfa_token"]
    return token


def test_policy_never_needs_no_second_factor(client: TestClient, tenant: Tenant, me: Me, clock: FrozenClock) -> None:
    enroll_totp(me, clock)
    assert _login(client, tenant).status_code == 200


def test_otp_flow(client: TestClient, tenant: Tenant, me: Me, core: Core, clock: FrozenClock) -> None:
    secret = enroll_totp(me, clock)
    _policy(core, "always")
    response = _login(client, tenant)
    token = _mfa_token(response)
    assert response.json()["mfa_requirements"] == {"challenge": [{"type": "otp"}]}
    challenge = client.post(
        "/mfa/challenge",
        data={
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "mfa_token": token,
            "challenge_type": "otp",
        },
    )
    assert challenge.json() == {"challenge_type": "otp"}
    authenticators = client.get("/mfa/authenticators", headers={"Authorization": f"Bearer {token}"})
    assert authenticators.json()[0]["authenticator_type"] == "otp"
    wrong = _grant(client, tenant, "mfa-otp", mfa_token=token, otp="000000")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    code = totp_now(secret, clock)
    done = _grant(client, tenant, "mfa-otp", mfa_token=token, otp=code)
    assert done.status_code == 200, done.text
    id_claims = jwt.decode(done.json()["id_token"], options={"verify_signature": False})
    assert "mfa" in id_claims["amr"]
    assert _grant(client, tenant, "mfa-otp", mfa_token=token, otp=code).json()["error"] == "expired_token"
    # The same TOTP step cannot sign in twice.
    again = _mfa_token(_login(client, tenant))
    assert _grant(client, tenant, "mfa-otp", mfa_token=again, otp=code).status_code == 400


def test_email_oob_flow(client: TestClient, tenant: Tenant, me: Me, core: Core) -> None:
    enroll_email(me, core)
    _policy(core, "when_enrolled")
    token = _mfa_token(_login(client, tenant))
    challenge = client.post(
        "/mfa/challenge",
        json={
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "mfa_token": token,
            "challenge_type": "oob",
        },
    ).json()
    assert challenge["challenge_type"] == "oob" and challenge["binding_method"] == "prompt"
    code = core.outbox.latest_code("alice@example.com")
    assert code
    done = _grant(client, tenant, "mfa-oob", mfa_token=token, oob_code=challenge["oob_code"], binding_code=code)
    assert done.status_code == 200, done.text


def test_recovery_code_flow_returns_a_new_code(client: TestClient, tenant: Tenant, me: Me, core: Core) -> None:
    code = enroll_recovery_code(me)
    _policy(core, "always")
    token = _mfa_token(_login(client, tenant))
    done = _grant(client, tenant, "mfa-recovery-code", mfa_token=token, recovery_code=code)
    assert done.status_code == 200, done.text
    new_code = done.json()["recovery_code"]
    assert len(new_code) == 24 and new_code != code
    again = _mfa_token(_login(client, tenant))
    assert _grant(client, tenant, "mfa-recovery-code", mfa_token=again, recovery_code=code).status_code == 400
    assert _grant(client, tenant, "mfa-recovery-code", mfa_token=again, recovery_code=new_code).status_code == 200


def test_attempts_are_limited(client: TestClient, tenant: Tenant, me: Me, core: Core, clock: FrozenClock) -> None:
    secret = enroll_totp(me, clock)
    _policy(core, "always")
    token = _mfa_token(_login(client, tenant))
    for _ in range(5):
        assert _grant(client, tenant, "mfa-otp", mfa_token=token, otp="000000").status_code == 400
    locked = _grant(client, tenant, "mfa-otp", mfa_token=token, otp=totp_now(secret, clock))
    assert locked.status_code == 429 and locked.json()["error"] == "too_many_attempts"


def test_policy_always_without_factor_asks_to_enroll(client: TestClient, tenant: Tenant, core: Core) -> None:
    _policy(core, "always")
    response = _login(client, tenant)
    _mfa_token(response)
    assert "enroll" in response.json()["mfa_requirements"]


def test_mfa_token_bound_to_client(client: TestClient, tenant: Tenant, me: Me, core: Core, clock: FrozenClock) -> None:
    from myaccount import admin

    secret = enroll_totp(me, clock)
    _policy(core, "always")
    token = _mfa_token(_login(client, tenant))
    other, other_secret = admin.create_client(
        core, name="Other", app_type="regular_web", grant_types=["http://auth0.com/oauth/grant-type/mfa-otp"]
    )
    assert other_secret
    stolen = client.post(
        "/oauth/token",
        data={
            "grant_type": "http://auth0.com/oauth/grant-type/mfa-otp",
            "client_id": other.client_id,
            "client_secret": other_secret,
            "mfa_token": token,
            "otp": totp_now(secret, clock),
        },
    )
    assert stolen.status_code == 400 and stolen.json()["error"] == "expired_token"


@pytest.fixture
def mfa_grants(core: Core, tenant: Tenant) -> None:
    from myaccount import admin

    admin.update_client(
        core,
        tenant.web.client_id,
        {
            "grant_types": [
                *tenant.web.grant_types,
                "http://auth0.com/oauth/grant-type/mfa-otp",
                "http://auth0.com/oauth/grant-type/mfa-oob",
                "http://auth0.com/oauth/grant-type/mfa-recovery-code",
            ]
        },
    )


pytestmark = pytest.mark.usefixtures("mfa_grants")
