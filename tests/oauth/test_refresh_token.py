import threading
from typing import Any

import pytest
from starlette.testclient import TestClient

from myaccount.clock import FrozenClock
from myaccount.core import Core
from myaccount.store.audit import AuditStore
from tests.support.flows import alice_code, new_verifier
from tests.support.tenant import Tenant
from tests.support.writers import after_another_write


def _tokens(client: TestClient, tenant: Tenant, scope: str = "openid offline_access read:things") -> dict[str, Any]:
    verifier = new_verifier()
    code = alice_code(client, tenant, verifier, scope=scope, audience=tenant.api)
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "authorization_code",
            "client_id": tenant.spa.client_id,
            "code": code,
            "code_verifier": verifier,
            "redirect_uri": tenant.redirect_uri,
        },
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _refresh(client: TestClient, tenant: Tenant, token: str, **extra: str) -> Any:
    return client.post(
        "/oauth/token",
        json={"grant_type": "refresh_token", "client_id": tenant.spa.client_id, "refresh_token": token, **extra},
    )


@pytest.fixture
def spa_api_grant(core: Core, tenant: Tenant) -> None:
    from myaccount import admin

    admin.create_client_grant(
        core,
        client_id=tenant.spa.client_id,
        audience=tenant.api,
        scope=["read:things", "write:things"],
        subject_type="user",
    )


@pytest.mark.usefixtures("spa_api_grant")
def test_rotation_returns_new_token_and_keeps_scope(client: TestClient, tenant: Tenant) -> None:
    first = _tokens(client, tenant)
    assert first["scope"] == "openid offline_access read:things"
    second = _refresh(client, tenant, first["refresh_token"])
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["refresh_token"] != first["refresh_token"]
    assert body["scope"] == first["scope"]
    assert "id_token" in body


@pytest.mark.usefixtures("spa_api_grant")
def test_reuse_of_rotated_token_revokes_the_family(client: TestClient, tenant: Tenant, core: Core) -> None:
    first = _tokens(client, tenant)
    second = _refresh(client, tenant, first["refresh_token"]).json()
    reused = _refresh(client, tenant, first["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    # The legitimate holder's newer token is dead too: the family is revoked.
    after = _refresh(client, tenant, second["refresh_token"])
    assert after.status_code == 400 and after.json()["error"] == "invalid_grant"
    with core.db.read() as conn:
        events = AuditStore(conn).query(type_="ferrt")
    assert len(events) == 1 and events[0].user_id == tenant.user.id


@pytest.mark.usefixtures("spa_api_grant")
def test_scope_can_narrow_but_not_widen(client: TestClient, tenant: Tenant) -> None:
    first = _tokens(client, tenant)
    narrowed = _refresh(client, tenant, first["refresh_token"], scope="openid")
    assert narrowed.status_code == 200
    assert narrowed.json()["scope"] == "openid offline_access"
    widened = _refresh(client, tenant, narrowed.json()["refresh_token"], scope="openid write:things")
    assert widened.status_code == 400 and widened.json()["error"] == "invalid_scope"


@pytest.mark.usefixtures("spa_api_grant")
def test_refresh_follows_a_reduced_client_grant(client: TestClient, tenant: Tenant, core: Core) -> None:
    from myaccount import admin
    from myaccount.store.clients import ClientStore

    admin.update_resource_server(
        core, tenant.api, {"subject_type_authorization": {"user": {"policy": "require_client_grant"}}}
    )
    first = _tokens(client, tenant)
    with core.db.read() as conn:
        grant = ClientStore(conn).grant(tenant.spa.client_id, tenant.api, "user")
    assert grant is not None
    admin.update_client_grant(core, grant.id, scope=["write:things"])
    body = _refresh(client, tenant, first["refresh_token"]).json()
    assert body["scope"] == "openid offline_access"


@pytest.mark.usefixtures("spa_api_grant")
def test_idle_expiry(client: TestClient, tenant: Tenant, clock: FrozenClock) -> None:
    first = _tokens(client, tenant)
    clock.advance(days=16)
    response = _refresh(client, tenant, first["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


@pytest.mark.usefixtures("spa_api_grant")
def test_other_client_cannot_use_the_token(client: TestClient, tenant: Tenant) -> None:
    first = _tokens(client, tenant)
    response = client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "refresh_token": first["refresh_token"],
        },
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


@pytest.mark.usefixtures("spa_api_grant")
def test_blocked_user_refresh_fails(client: TestClient, tenant: Tenant, core: Core) -> None:
    from myaccount.store.users import UserStore

    first = _tokens(client, tenant)
    with core.db.write() as conn:
        UserStore(conn).update(tenant.user.id, now=core.clock.now(), blocked=True)
    response = _refresh(client, tenant, first["refresh_token"])
    assert response.status_code == 400 and response.json()["error_description"] == "user is blocked"


@pytest.mark.usefixtures("spa_api_grant")
def test_concurrent_rotation_exactly_one_wins(client: TestClient, tenant: Tenant) -> None:
    first = _tokens(client, tenant)
    results: list[int] = []
    barrier = threading.Barrier(8)

    def attempt() -> None:
        barrier.wait()
        results.append(_refresh(client, tenant, first["refresh_token"]).status_code)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200] + [400] * 7


@pytest.mark.usefixtures("spa_api_grant")
def test_revocation_endpoint_revokes_family(client: TestClient, tenant: Tenant) -> None:
    first = _tokens(client, tenant)
    revoked = client.post("/oauth/revoke", data={"client_id": tenant.spa.client_id, "token": first["refresh_token"]})
    assert revoked.status_code == 200
    response = _refresh(client, tenant, first["refresh_token"])
    assert response.status_code == 400
    unknown = client.post("/oauth/revoke", data={"client_id": tenant.spa.client_id, "token": "not-a-token"})
    assert unknown.status_code == 200


# The refresh grant's own reference to prepare_issue: replaced to act at the instant between its reads and its write.
_GRANT_PREPARE = "myaccount.oauth.grants.refresh_token.prepare_issue"


@pytest.mark.usefixtures("spa_api_grant")
def test_tokens_are_signed_outside_the_write_transaction(
    client: TestClient, tenant: Tenant, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While a refresh makes and signs its tokens, another writer is not held up: on SQLite a write transaction
    holds the database's one write lock, and signing inside it serialised every refresh behind the others."""
    from myaccount.oauth.issuance import prepare_issue

    first = _tokens(client, tenant)
    writer_finished_meanwhile: list[bool] = []
    wrapped = after_another_write(core, tenant.user.id, prepare_issue, writer_finished_meanwhile)
    monkeypatch.setattr(_GRANT_PREPARE, wrapped)
    response = _refresh(client, tenant, first["refresh_token"])
    assert response.status_code == 200, response.text
    assert writer_finished_meanwhile == [True]


@pytest.mark.usefixtures("spa_api_grant")
def test_a_token_revoked_while_its_refresh_signs_is_not_rotated(
    client: TestClient, tenant: Tenant, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checks and the signing read; the rotation is a conditional update in the write transaction. A revoke
    that lands in between wins: no new token is stored or returned."""
    from myaccount.oauth.issuance import REFRESH_PURPOSE
    from myaccount.oauth.issuance import prepare_issue as real_prepare
    from myaccount.store.grants import GrantStore

    first = _tokens(client, tenant)
    made: list[str] = []

    def prepare_then_revoke(*args: Any, **kwargs: Any) -> Any:
        prepared = real_prepare(*args, **kwargs)
        made.append(prepared.body["refresh_token"])

        def revoke() -> None:  # what POST /oauth/revoke does, from another thread (a concurrent request)
            with core.db.write() as conn:
                grants = GrantStore(conn)
                stored = grants.refresh(core.fingerprint(first["refresh_token"], purpose=REFRESH_PURPOSE))
                assert stored is not None
                grants.revoke_family(stored.family_id, now=core.clock.now())

        revoker = threading.Thread(target=revoke)
        revoker.start()
        revoker.join(timeout=3)
        assert not revoker.is_alive()  # nothing holds the write lock while the tokens are made
        return prepared

    monkeypatch.setattr(_GRANT_PREPARE, prepare_then_revoke)
    response = _refresh(client, tenant, first["refresh_token"])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    monkeypatch.undo()
    assert len(made) == 1
    with core.db.read() as conn:
        assert GrantStore(conn).refresh(core.fingerprint(made[0], purpose=REFRESH_PURPOSE)) is None
    # The token that was made but never stored is worthless.
    assert _refresh(client, tenant, made[0]).status_code == 400
