"""Attack catalogue: one user's token on another user's methods, and misused `auth_session`s.

An id that belongs to someone else is a 404, exactly as an id that does not exist (no oracle). An `auth_session`
is bound to the user, the method type and the enrollment that made it, and works once.
"""

from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from myaccount import admin
from myaccount.core import Core
from myaccount.store.methods import MethodStore
from tests.support.me import Me, me_token
from tests.support.tenant import Tenant

BOB_PASSWORD = "bob's long password 42"


@pytest.fixture
def alice(client: TestClient, tenant: Tenant, core: Core) -> Me:
    return Me(client, me_token(client, tenant, core))


@pytest.fixture
def bob(client: TestClient, tenant: Tenant, core: Core) -> Me:
    admin.create_user(core, email="bob@example.com", password=BOB_PASSWORD, email_verified=True)
    return Me(client, me_token(client, tenant, core, username="bob@example.com", password=BOB_PASSWORD))


def _path(method_id: str) -> str:
    return f"/authentication-methods/{quote(method_id, safe='')}"


def _bob_recovery_code(bob: Me) -> str:
    started = bob.enroll({"type": "recovery-code"})
    verified = bob.verify(started.headers["location"], {"auth_session": started.json()["auth_session"]})
    assert verified.status_code == 201, verified.text
    method_id: str = verified.json()["id"]
    return method_id


def test_other_users_method_cannot_be_read(alice: Me, bob: Me) -> None:
    method_id = _bob_recovery_code(bob)
    assert bob.get(_path(method_id)).status_code == 200
    stolen = alice.get(_path(method_id))
    unknown = alice.get(_path("recovery-code|dev_AAAAAAAAAAAAAAAA"))
    assert stolen.status_code == unknown.status_code == 404
    assert stolen.json() == unknown.json()  # nothing tells "exists, not yours" from "does not exist"
    assert method_id not in {m["id"] for m in alice.methods()}


def test_other_users_method_cannot_be_patched(alice: Me, bob: Me, core: Core, tenant: Tenant) -> None:
    started = bob.enroll({"type": "phone", "phone_number": "+15550001111", "preferred_authentication_method": "sms"})
    code = core.outbox.latest_code("+15550001111")
    assert code
    method_id = bob.verify(
        started.headers["location"], {"auth_session": started.json()["auth_session"], "otp_code": code}
    ).json()["id"]
    assert (
        alice.patch(_path(method_id), {"name": "pwned", "preferred_authentication_method": "voice"}).status_code == 404
    )
    after = bob.get(_path(method_id)).json()
    assert after.get("name") != "pwned" and after["preferred_authentication_method"] == "sms"


def test_other_users_method_cannot_be_deleted(alice: Me, bob: Me) -> None:
    method_id = _bob_recovery_code(bob)
    assert alice.delete(_path(method_id)).status_code == 404
    assert bob.get(_path(method_id)).status_code == 200


def test_other_users_pending_method_cannot_be_verified(alice: Me, bob: Me) -> None:
    started = bob.enroll({"type": "recovery-code"})
    location, session = started.headers["location"], started.json()["auth_session"]
    # Alice posts Bob's verify URL with Bob's own auth_session: still not her enrollment.
    stolen = alice.verify(location, {"auth_session": session})
    assert stolen.status_code in (400, 404), stolen.text
    assert not [m for m in alice.methods() if m["type"] == "recovery-code"]
    # Bob's enrollment is untouched by the attempt.
    assert bob.verify(location, {"auth_session": session}).status_code == 201


def test_auth_session_of_another_user_is_refused(alice: Me, bob: Me) -> None:
    bobs = bob.enroll({"type": "recovery-code"}).json()["auth_session"]
    own = alice.enroll({"type": "recovery-code"})
    response = alice.verify(own.headers["location"], {"auth_session": bobs})
    assert response.status_code == 400
    assert response.json()["validation_errors"][0]["pointer"] == "/auth_session"
    assert alice.verify(own.headers["location"], {"auth_session": own.json()["auth_session"]}).status_code == 201


def test_auth_session_of_another_method_type_is_refused(alice: Me, core: Core, tenant: Tenant) -> None:
    recovery = alice.enroll({"type": "recovery-code"}).json()["auth_session"]
    totp = alice.enroll({"type": "totp"})
    # A recovery-code session (which needs no proof) must not confirm the TOTP enrollment without a code.
    crossed = alice.verify(totp.headers["location"], {"auth_session": recovery, "otp_code": "123456"})
    assert crossed.status_code == 400, crossed.text
    crossed_no_code = alice.verify(totp.headers["location"], {"auth_session": recovery})
    assert crossed_no_code.status_code == 400
    with core.db.read() as conn:
        assert not [m for m in MethodStore(conn).list(tenant.user.id, type_="totp") if m.confirmed]


def test_replayed_auth_session_is_refused(alice: Me) -> None:
    started = alice.enroll({"type": "recovery-code"})
    body = {"auth_session": started.json()["auth_session"]}
    assert alice.verify(started.headers["location"], body).status_code == 201
    replay = alice.verify(started.headers["location"], body)
    assert replay.status_code == 400
    assert replay.json()["validation_errors"][0]["pointer"] == "/auth_session"
    assert len([m for m in alice.methods() if m["type"] == "recovery-code"]) == 1
