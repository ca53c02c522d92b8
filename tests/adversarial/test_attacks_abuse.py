"""Attack catalogue: abuse limits (Auth0's attack protection), with `retry-after` on every refusal.

The limits live in src/myaccount/policy/abuse.py (logins per IP and per account+IP, codes sent per user and per
IP, enrollments started per user, sign-ups per IP) and in web/my_account.py (per-user write and code-attempt
buckets). tests/policy/test_abuse.py proves the login, per-user code, enrollment and sign-up limits; this module
adds the per-IP code limit, the MFA API's code limit and the headers of each refusal.
"""

from collections.abc import Callable
from typing import Any

from starlette.testclient import TestClient

from myaccount import admin
from myaccount.app import create_app
from myaccount.core import Core
from myaccount.settings import RateLimitSettings, Settings
from myaccount.store.tenant import TenantSettingsStore
from tests.adversarial import client_address
from tests.support.factors import enroll_email
from tests.support.me import Me, me_token
from tests.support.tenant import Tenant, make_tenant

Build = Callable[..., tuple[TestClient, Core, Tenant]]
BOB = "bob's long password 42"


def _build(
    make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core], **limits: Any
) -> tuple[TestClient, Core, Tenant]:
    settings = make_settings(rate_limits=RateLimitSettings(**limits))
    core = make_core(settings)
    client = TestClient(
        create_app(settings, core=core), base_url="http://localhost", follow_redirects=False, client=client_address()
    )
    return client, core, make_tenant(core)


def _retry_after(response: Any) -> int:
    value = int(response.headers["retry-after"])
    assert value >= 1
    return value


def test_code_sending_is_limited_per_ip(make_settings: Any, make_core: Any) -> None:
    client, core, tenant = _build(make_settings, make_core, code_send_ip_capacity=2, code_send_capacity=10)
    admin.create_user(core, email="bob@example.com", password=BOB, email_verified=True)
    alice = Me(client, me_token(client, tenant, core))
    bob = Me(client, me_token(client, tenant, core, username="bob@example.com", password=BOB))
    assert alice.enroll({"type": "email", "email": "alice@example.com"}).status_code == 202
    assert bob.enroll({"type": "email", "email": "bob@example.com"}).status_code == 202
    # A third code from the same address, for a third mailbox: refused before anything is sent.
    refused = alice.enroll({"type": "email", "email": "alice.other@example.com"})
    assert refused.status_code == 429, refused.text
    _retry_after(refused)
    assert core.outbox.messages("alice.other@example.com") == []


def test_code_sending_limit_answers_retry_after(make_settings: Any, make_core: Any) -> None:
    client, core, tenant = _build(make_settings, make_core, code_send_capacity=1)
    me = Me(client, me_token(client, tenant, core))
    assert me.enroll({"type": "phone", "phone_number": "+15550001111"}).status_code == 202
    refused = me.enroll({"type": "phone", "phone_number": "+15550001111"})
    assert refused.status_code == 429 and refused.json()["status"] == 429
    assert _retry_after(refused) <= 900
    assert refused.headers["x-ratelimit-remaining"].isdigit()
    assert len(core.outbox.messages("+15550001111")) == 1


def test_enrollment_start_limit_answers_retry_after(make_settings: Any, make_core: Any) -> None:
    client, core, tenant = _build(make_settings, make_core, enrollment_start_capacity=2)
    me = Me(client, me_token(client, tenant, core))
    statuses = [me.enroll({"type": "totp"}).status_code for _ in range(2)]
    refused = me.enroll({"type": "passkey"})
    assert statuses == [202, 202] and refused.status_code == 429
    assert 1 <= _retry_after(refused) <= 300


def test_mfa_api_code_sending_is_limited(make_settings: Any, make_core: Any) -> None:
    client, core, tenant = _build(make_settings, make_core, code_send_capacity=2)
    me = Me(client, me_token(client, tenant, core))
    enroll_email(me, core)  # one code spent on the enrollment
    with core.db.write() as conn:
        TenantSettingsStore(conn).set("mfa_policy", "always")
    login = client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "username": "alice@example.com",
            "password": tenant.password,
        },
    )
    token = login.json()["mfa_token"]
    body = {"client_id": tenant.web.client_id, "client_secret": tenant.web_secret, "mfa_token": token}
    assert client.post("/mfa/challenge", data={**body, "challenge_type": "oob"}).status_code == 200
    refused = client.post("/mfa/challenge", data={**body, "challenge_type": "oob"})
    assert refused.status_code == 429 and refused.json()["error"] == "too_many_attempts", refused.text
    _retry_after(refused)


def test_login_limits_per_ip_and_per_account_answer_retry_after(make_settings: Any, make_core: Any) -> None:
    client, _, tenant = _build(make_settings, make_core, failed_login_capacity=2, login_ip_capacity=6)

    def login(password: str) -> Any:
        return client.post(
            "/oauth/token",
            data={
                "grant_type": "password",
                "client_id": tenant.web.client_id,
                "client_secret": tenant.web_secret,
                "username": "alice@example.com",
                "password": password,
            },
        )

    assert [login("wrong").status_code for _ in range(2)] == [403, 403]
    blocked = login(tenant.password)  # the account is blocked from this address
    assert blocked.status_code == 429 and _retry_after(blocked) > 0
    for _ in range(3):
        login("wrong")
    ip_spent = login(tenant.password)
    assert ip_spent.status_code == 429
    _retry_after(ip_spent)
