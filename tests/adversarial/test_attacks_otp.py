"""Attack catalogue: one-time codes (TOTP replay, brute force of OTP codes, recovery code reuse)."""

from typing import Any

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from myaccount import admin
from myaccount.clock import FrozenClock
from myaccount.core import Core
from myaccount.store.audit import AuditStore
from myaccount.store.tenant import TenantSettingsStore
from tests.support.factors import enroll_recovery_code, enroll_totp, totp_now
from tests.support.me import Me, me_token
from tests.support.tenant import Tenant

REALM = "http://auth0.com/oauth/grant-type/password-realm"
GRANT = "http://auth0.com/oauth/grant-type/"


@pytest.fixture
def me(client: TestClient, tenant: Tenant, core: Core) -> Me:
    admin.update_client(
        core,
        tenant.web.client_id,
        {"grant_types": [*tenant.web.grant_types, GRANT + "mfa-otp", GRANT + "mfa-recovery-code"]},
    )
    return Me(client, me_token(client, tenant, core))


def _always_mfa(core: Core) -> None:
    with core.db.write() as conn:
        TenantSettingsStore(conn).set("mfa_policy", "always")


def _mfa_token(client: TestClient, tenant: Tenant) -> str:
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": REALM,
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "username": "alice@example.com",
            "password": tenant.password,
            "realm": "Username-Password-Authentication",
            "scope": "openid",
        },
    )
    assert response.status_code == 403 and response.json()["error"] == "mfa_required", response.text
    token: str = response.json()["mfa_token"]
    return token


def _grant(client: TestClient, tenant: Tenant, grant: str, **params: str) -> httpx.Response:
    return client.post(
        "/oauth/token",
        data={
            "grant_type": GRANT + grant,
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            **params,
        },
    )


def _events(core: Core, type_: str) -> list[Any]:
    with core.db.read() as conn:
        return list(AuditStore(conn).query(type_=type_))


def test_totp_code_replay_inside_its_window_is_refused(
    client: TestClient, tenant: Tenant, me: Me, core: Core, clock: FrozenClock
) -> None:
    secret = enroll_totp(me, clock)
    _always_mfa(core)
    code = totp_now(secret, clock)
    first = _grant(client, tenant, "mfa-otp", mfa_token=_mfa_token(client, tenant), otp=code)
    assert first.status_code == 200, first.text
    # Same code, same 30 s step, a fresh sign-in (the attacker saw the code over the victim's shoulder).
    clock.advance(seconds=5)
    replay = _grant(client, tenant, "mfa-otp", mfa_token=_mfa_token(client, tenant), otp=code)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant", replay.text
    # An older step inside the ±1 window is refused too once a later one was used.
    clock.advance(seconds=30)
    newer = totp_now(secret, clock)
    assert _grant(client, tenant, "mfa-otp", mfa_token=_mfa_token(client, tenant), otp=newer).status_code == 200
    older = totp_now(secret, clock, offset_steps=-1)
    assert older != newer
    stale = _grant(client, tenant, "mfa-otp", mfa_token=_mfa_token(client, tenant), otp=older)
    assert stale.status_code == 400


def test_otp_brute_force_locks_out_and_is_audited(
    client: TestClient, tenant: Tenant, me: Me, core: Core, clock: FrozenClock
) -> None:
    secret = enroll_totp(me, clock)
    _always_mfa(core)
    token = _mfa_token(client, tenant)
    right = totp_now(secret, clock)
    wrong = [f"{(int(right) + n) % 1_000_000:06d}" for n in range(1, 6)]
    assert [_grant(client, tenant, "mfa-otp", mfa_token=token, otp=c).status_code for c in wrong] == [400] * 5
    locked = _grant(client, tenant, "mfa-otp", mfa_token=token, otp=right)
    assert locked.status_code == 429 and locked.json()["error"] == "too_many_attempts", locked.text
    assert len(_events(core, "gd_auth_failed")) == 5
    (event,) = _events(core, "gd_otp_rate_limit_exceed")
    assert event.user_id == tenant.user.id and event.outcome == "failure"


def test_enrollment_otp_brute_force_locks_the_enrollment(me: Me, core: Core) -> None:
    started = me.enroll({"type": "email", "email": "alice@example.com"})
    code = core.outbox.latest_code("alice@example.com")
    assert code
    session = started.json()["auth_session"]
    wrong = [f"{(int(code) + n) % 1_000_000:06d}" for n in range(1, 6)]
    for guess in wrong:
        assert me.verify(started.headers["location"], {"auth_session": session, "otp_code": guess}).status_code == 400
    locked = me.verify(started.headers["location"], {"auth_session": session, "otp_code": code})
    assert locked.status_code == 400 and "Too many" in locked.json()["detail"]
    assert len(_events(core, "my_account.enrollment_failed")) >= 5
    assert not [m for m in me.methods() if m["type"] == "email" and m["confirmed"]]


def test_recovery_code_reuse_is_refused(client: TestClient, tenant: Tenant, me: Me, core: Core) -> None:
    code = enroll_recovery_code(me)
    _always_mfa(core)
    used = _grant(client, tenant, "mfa-recovery-code", mfa_token=_mfa_token(client, tenant), recovery_code=code)
    assert used.status_code == 200, used.text
    replacement = used.json()["recovery_code"]
    reused = _grant(client, tenant, "mfa-recovery-code", mfa_token=_mfa_token(client, tenant), recovery_code=code)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # Grouped or lower-cased, the spent code is still spent.
    disguised = "-".join(code[i : i + 4] for i in range(0, len(code), 4)).lower()
    again = _grant(client, tenant, "mfa-recovery-code", mfa_token=_mfa_token(client, tenant), recovery_code=disguised)
    assert again.status_code == 400
    fresh = _grant(client, tenant, "mfa-recovery-code", mfa_token=_mfa_token(client, tenant), recovery_code=replacement)
    assert fresh.status_code == 200
