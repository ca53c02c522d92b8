"""The Default Policy for the My Account API (injected clock) and post-login Actions."""

from collections.abc import Callable

import httpx2 as httpx
import jwt
import pytest
from starlette.testclient import TestClient

from myaccount.app import create_app
from myaccount.clock import FrozenClock
from myaccount.core import Core
from myaccount.settings import Settings
from myaccount.store.tenant import TenantSettingsStore
from tests.support.factors import enroll_totp, totp_now
from tests.support.me import ALL_SCOPES, Me, me_token
from tests.support.tenant import Tenant, make_tenant

REALM = "http://auth0.com/oauth/grant-type/password-realm"
MFA_GRANTS = [
    "http://auth0.com/oauth/grant-type/mfa-otp",
    "http://auth0.com/oauth/grant-type/mfa-oob",
    "http://auth0.com/oauth/grant-type/mfa-recovery-code",
]


def _enable_default_policy(core: Core) -> None:
    with core.db.write() as conn:
        TenantSettingsStore(conn).set("my_account_default_policy", True)


def _login(
    client: TestClient, tenant: Tenant, audience: str, email: str = "alice@example.com", password: str | None = None
) -> httpx.Response:
    return client.post(
        "/oauth/token",
        data={
            "grant_type": REALM,
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "username": email,
            "password": password or tenant.password,
            "realm": "Username-Password-Authentication",
            "audience": audience,
            "scope": f"openid offline_access {ALL_SCOPES}",
        },
    )


def _refresh(client: TestClient, tenant: Tenant, token: str) -> httpx.Response:
    return client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "refresh_token": token,
        },
    )


def _with_mfa_grants(core: Core, tenant: Tenant) -> None:
    from myaccount import admin

    admin.update_client(core, tenant.web.client_id, {"grant_types": [*tenant.web.grant_types, *MFA_GRANTS]})


class TestDefaultPolicy:
    def test_user_with_factor_must_complete_2fa_at_login(
        self, client: TestClient, tenant: Tenant, core: Core, clock: FrozenClock
    ) -> None:
        _with_mfa_grants(core, tenant)
        secret = enroll_totp(Me(client, me_token(client, tenant, core)), clock)
        _enable_default_policy(core)
        me_audience = core.settings.my_account_audience
        response = _login(client, tenant, me_audience)
        assert response.status_code == 403 and response.json()["error"] == "mfa_required"
        # Other audiences are not governed by the Default Policy.
        assert _login(client, tenant, tenant.api).status_code == 200
        done = client.post(
            "/oauth/token",
            data={
                "grant_type": MFA_GRANTS[0],
                "client_id": tenant.web.client_id,
                "client_secret": tenant.web_secret,
                "mfa_token": response.json()["mfa_token"],
                "otp": totp_now(secret, clock),
            },
        )
        assert done.status_code == 200, done.text
        refresh_token = done.json()["refresh_token"]
        clock.advance(minutes=14)
        at_14 = _refresh(client, tenant, refresh_token)
        assert at_14.status_code == 200, at_14.text
        clock.advance(minutes=2)
        at_16 = _refresh(client, tenant, at_14.json()["refresh_token"])
        assert at_16.status_code == 403 and at_16.json()["error"] == "mfa_required"
        assert at_16.json()["mfa_token"]

    def test_user_without_factor_gets_access_then_unmet(
        self, client: TestClient, tenant: Tenant, core: Core, clock: FrozenClock
    ) -> None:
        _enable_default_policy(core)
        login = _login(client, tenant, core.settings.my_account_audience)
        assert login.status_code == 200, login.text
        clock.advance(minutes=14)
        at_14 = _refresh(client, tenant, login.json()["refresh_token"])
        assert at_14.status_code == 200
        clock.advance(minutes=2)
        at_16 = _refresh(client, tenant, at_14.json()["refresh_token"])
        assert at_16.status_code == 403 and at_16.json()["error"] == "unmet_authentication_requirements"

    def test_off_by_default(self, client: TestClient, tenant: Tenant, core: Core, clock: FrozenClock) -> None:
        enroll_totp(Me(client, me_token(client, tenant, core)), clock)
        login = _login(client, tenant, core.settings.my_account_audience)
        assert login.status_code == 200
        clock.advance(minutes=30)
        assert _refresh(client, tenant, login.json()["refresh_token"]).status_code == 200


@pytest.fixture
def app_with_actions(
    make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core]
) -> Callable[[str], tuple[TestClient, Core, Tenant]]:
    def build(spec: str) -> tuple[TestClient, Core, Tenant]:
        settings = make_settings(actions_module=spec)
        core = make_core(settings)
        client = TestClient(create_app(settings, core=core), base_url="http://localhost")
        tenant = make_tenant(core)
        _with_mfa_grants(core, tenant)
        return client, core, tenant

    return build


Build = Callable[[str], tuple[TestClient, Core, Tenant]]


class TestActions:
    def test_challenge_with_overrides_default_policy(self, app_with_actions: Build, clock: FrozenClock) -> None:
        client, core, tenant = app_with_actions("tests.support.actions_examples:challenge_otp")
        _seed_totp(core, tenant.user.id, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
        _seed_email(core, tenant.user.id)
        _enable_default_policy(core)
        # The Default Policy alone would accept either factor; the action narrows it to the authenticator app.
        response = _login(client, tenant, core.settings.my_account_audience)
        assert response.status_code == 403
        assert response.json()["mfa_requirements"] == {"challenge": [{"type": "otp"}]}

    def test_challenge_with_for_user_without_factor_asks_to_enroll(self, app_with_actions: Build) -> None:
        client, core, tenant = app_with_actions("tests.support.actions_examples:challenge_otp")
        response = _login(client, tenant, tenant.api)
        assert response.status_code == 403
        assert response.json()["mfa_requirements"] == {"enroll": [{"type": "otp"}]}

    def test_challenge_with_requires_enrolled_factor(self, app_with_actions: Build, clock: FrozenClock) -> None:
        client, core, tenant = app_with_actions("tests.support.actions_examples:challenge_otp")
        _seed_totp(core, tenant.user.id, "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP")
        response = _login(client, tenant, tenant.api)  # not the My Account API: the action alone decides
        assert response.status_code == 403 and response.json()["mfa_requirements"] == {"challenge": [{"type": "otp"}]}
        done = client.post(
            "/oauth/token",
            data={
                "grant_type": MFA_GRANTS[0],
                "client_id": tenant.web.client_id,
                "client_secret": tenant.web_secret,
                "mfa_token": response.json()["mfa_token"],
                "otp": totp_now("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", clock),
            },
        )
        assert done.status_code == 200, done.text

    def test_deny(self, app_with_actions: Build) -> None:
        from myaccount import admin

        client, core, tenant = app_with_actions("tests.support.actions_examples:deny_bob")
        admin.create_user(core, email="bob@example.com", password="bob password 1234")
        assert _login(client, tenant, tenant.api).status_code == 200
        denied = _login(client, tenant, tenant.api, email="bob@example.com", password="bob password 1234")
        assert denied.status_code == 403
        assert denied.json() == {"error": "access_denied", "error_description": "Bob is not welcome here."}

    def test_custom_claims_on_login_and_refresh(self, app_with_actions: Build) -> None:
        client, core, tenant = app_with_actions("tests.support.actions_examples:add_claims")
        body = _login(client, tenant, tenant.api).json()
        access = jwt.decode(body["access_token"], options={"verify_signature": False})
        ident = jwt.decode(body["id_token"], options={"verify_signature": False})
        assert access["https://example.test/roles"] == ["reader"]
        assert ident["https://example.test/plan"] == "Web app"
        refreshed = _refresh(client, tenant, body["refresh_token"]).json()
        assert jwt.decode(refreshed["access_token"], options={"verify_signature": False})["https://example.test/roles"]

    @pytest.mark.parametrize(
        "spec", ["tests.support.actions_examples:broken", "tests.support.actions_examples:forbidden_claim"]
    )
    def test_failing_action_denies_cleanly(self, app_with_actions: Build, spec: str) -> None:
        client, core, tenant = app_with_actions(spec)
        response = _login(client, tenant, tenant.api)
        assert response.status_code == 403
        assert response.json()["error"] == "access_denied"
        assert "action failed" in response.json()["error_description"]


def _seed_totp(core: Core, user_id: str, secret: str) -> None:
    import json

    from myaccount.store.methods import MethodRecord, MethodStore

    sealed = core.sealer.seal(json.dumps({"secret": secret, "last_step": None}).encode(), purpose="method-secret")
    with core.db.write() as conn:
        MethodStore(conn).add(
            MethodRecord(
                id="totp|dev_seededseededseed",
                user_id=user_id,
                type="totp",
                name=None,
                confirmed=True,
                created_at=core.clock.now(),
                secret=sealed,
            )
        )


def _seed_email(core: Core, user_id: str) -> None:
    from myaccount.store.methods import MethodRecord, MethodStore

    with core.db.write() as conn:
        MethodStore(conn).add(
            MethodRecord(
                id="email|dev_seededseededseed",
                user_id=user_id,
                type="email",
                name=None,
                confirmed=True,
                created_at=core.clock.now(),
                data={"email": "alice@example.com"},
            )
        )
