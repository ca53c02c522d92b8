"""Attack protection: brute-force blocking of logins, code-sending limits, enrollment and sign-up limits."""

from collections.abc import Callable
from typing import Any

import httpx2 as httpx
from starlette.testclient import TestClient

from myaccount.app import create_app
from myaccount.core import Core
from myaccount.settings import RateLimitSettings, Settings
from myaccount.store.audit import AuditStore
from tests.support.flows import csrf_from
from tests.support.me import Me, me_token
from tests.support.tenant import Tenant, make_tenant

Build = Callable[..., tuple[TestClient, Core, Tenant]]


def _build(make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core]) -> Build:
    def build(**limits: Any) -> tuple[TestClient, Core, Tenant]:
        settings = make_settings(rate_limits=RateLimitSettings(**limits))
        core = make_core(settings)
        client = TestClient(create_app(settings, core=core), base_url="http://localhost", follow_redirects=False)
        return client, core, make_tenant(core)

    return build


def _password(
    client: TestClient, tenant: Tenant, password: str, ip_headers: dict[str, str] | None = None
) -> httpx.Response:
    return client.post(
        "/oauth/token",
        headers=ip_headers or {},
        data={
            "grant_type": "password",
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "username": "alice@example.com",
            "password": password,
        },
    )


def test_account_blocked_after_failed_logins_and_audited(make_settings: Any, make_core: Any) -> None:
    client, core, tenant = _build(make_settings, make_core)(failed_login_capacity=3)
    assert [_password(client, tenant, "wrong").status_code for _ in range(3)] == [403, 403, 403]
    blocked = _password(client, tenant, tenant.password)  # even the right password, from this address
    assert blocked.status_code == 429 and blocked.json()["error"] == "too_many_attempts"
    assert int(blocked.headers["retry-after"]) > 0
    with core.db.read() as conn:
        events = AuditStore(conn).query(type_="limit_wc")
    assert len(events) == 1 and events[0].user_id == tenant.user.id


def test_hosted_login_form_is_blocked_too(make_settings: Any, make_core: Any) -> None:
    client, core, tenant = _build(make_settings, make_core)(failed_login_capacity=2)
    from myaccount.oauth.pkce import challenge_for
    from tests.support.flows import new_verifier

    start = client.get(
        "/authorize",
        params={
            "response_type": "code",
            "client_id": tenant.spa.client_id,
            "redirect_uri": tenant.redirect_uri,
            "code_challenge": challenge_for(new_verifier()),
            "code_challenge_method": "S256",
        },
    )
    assert start.status_code == 302, start.text
    location = start.headers["location"]
    page = client.get(location)
    for _ in range(2):
        wrong = client.post(
            location, data={"csrf_token": csrf_from(page.text), "username": "alice@example.com", "password": "nope"}
        )
        assert wrong.status_code == 400
    blocked = client.post(
        location,
        data={"csrf_token": csrf_from(page.text), "username": "alice@example.com", "password": tenant.password},
    )
    assert blocked.status_code == 429 and "blocked" in blocked.text and blocked.headers["retry-after"]


def test_ip_budget_for_logins(make_settings: Any, make_core: Any) -> None:
    client, _, tenant = _build(make_settings, make_core)(login_ip_capacity=5)
    statuses = [_password(client, tenant, tenant.password).status_code for _ in range(7)]
    assert statuses == [200] * 5 + [429] * 2


def test_code_sending_is_limited_per_user(make_settings: Any, make_core: Any) -> None:
    client, core, tenant = _build(make_settings, make_core)(code_send_capacity=2)
    me = Me(client, me_token(client, tenant, core))
    statuses = [me.enroll({"type": "email", "email": "alice@example.com"}).status_code for _ in range(3)]
    assert statuses == [202, 202, 429]
    assert len(core.outbox.messages("alice@example.com")) == 2


def test_enrollment_starts_are_limited(make_settings: Any, make_core: Any) -> None:
    client, core, tenant = _build(make_settings, make_core)(enrollment_start_capacity=3)
    me = Me(client, me_token(client, tenant, core))
    statuses = [me.enroll({"type": "recovery-code"}).status_code for _ in range(4)]
    assert statuses == [202, 202, 202, 429]


def test_passkey_signups_are_limited_per_ip(make_settings: Any, make_core: Any) -> None:
    client, core, tenant = _build(make_settings, make_core)(signup_ip_capacity=1)
    from myaccount import admin

    admin.update_client(
        core,
        tenant.spa.client_id,
        {"grant_types": [*tenant.spa.grant_types, "urn:okta:params:oauth:grant-type:webauthn"]},
    )
    first = client.post(
        "/passkey/register", json={"client_id": tenant.spa.client_id, "user_profile": {"email": "new1@example.com"}}
    )
    second = client.post(
        "/passkey/register", json={"client_id": tenant.spa.client_id, "user_profile": {"email": "new2@example.com"}}
    )
    assert first.status_code == 200, first.text
    assert second.status_code == 429 and second.json()["error"] == "too_many_attempts"
