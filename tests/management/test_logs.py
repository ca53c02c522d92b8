"""Tenant logs through `/api/v2/logs`: the audit events in Auth0's log shape, searched by user, type, client and
date, paged by offset or by checkpoint, and a `sapi`/`fapi` event for every Management write."""

from datetime import timedelta

import pytest
from starlette.testclient import TestClient

from myaccount.clock import FrozenClock
from myaccount.core import Core
from tests.management import Api, grant_management, management_token
from tests.support.me import Me, me_token
from tests.support.tenant import Tenant


@pytest.fixture
def api(client: TestClient, tenant: Tenant, core: Core, clock: FrozenClock) -> Api:
    grant_management(core, tenant)
    clock.advance(seconds=1)
    return Api(client, management_token(client, tenant, core))


def _failed_login(client: TestClient, tenant: Tenant) -> None:
    client.post(
        "/oauth/token",
        data={
            "grant_type": "password",
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "username": "alice@example.com",
            "password": "wrong",
        },
    )


def test_log_shape_and_search(api: Api, client: TestClient, tenant: Tenant, core: Core, clock: FrozenClock) -> None:
    start = clock.now()
    _failed_login(client, tenant)
    clock.advance(seconds=1)
    me = Me(client, me_token(client, tenant, core))  # a successful login and token exchange
    clock.advance(seconds=1)
    assert me.enroll({"type": "totp"}).status_code == 202

    by_user = api.get("/logs", q=f'user_id:"{tenant.user.id}"').json()
    types = [e["type"] for e in by_user]
    assert types[0] == "gd_start_enroll" and "fp" in types and "s" in types  # newest first
    failed = next(e for e in by_user if e["type"] == "fp")
    assert set(failed) >= {"log_id", "date", "type", "description", "client_id", "ip", "user_id", "details"}
    assert failed["client_id"] == tenant.web.client_id and failed["description"] == "Wrong email or password."
    assert failed["date"].endswith("Z") and "." in failed["date"]

    assert [e["type"] for e in api.get("/logs", q='type:"fp"').json()] == ["fp"]
    assert [e["type"] for e in api.get("/logs", search="type:gd_start_enroll").json()] == ["gd_start_enroll"]
    both = api.get("/logs", q=f'type:"fp" AND user_id:"{tenant.user.id}"').json()
    assert [e["log_id"] for e in both] == [failed["log_id"]]
    day = start.date().isoformat()
    assert len(api.get("/logs", q=f"date:[{day} TO {day}]").json()) == len(api.get("/logs").json())
    later = (start + timedelta(seconds=1)).isoformat()
    since = api.get("/logs", q=f"date:[{later} TO *] AND user_id:{tenant.user.id}").json()
    assert "fp" not in {e["type"] for e in since} and "gd_start_enroll" in {e["type"] for e in since}
    assert api.get("/logs", q="date:[yesterday TO today]").status_code == 400
    assert api.get("/logs", sort="ip:1").status_code == 400
    assert api.get(f"/logs/{failed['log_id']}").json() == failed
    assert api.get(f"/users/{tenant.user.id}/logs").json() == by_user


def test_offset_and_checkpoint_paging(api: Api, client: TestClient, tenant: Tenant, clock: FrozenClock) -> None:
    for _ in range(5):
        _failed_login(client, tenant)
        clock.advance(seconds=1)
    newest_first = [e["log_id"] for e in api.get("/logs", q="type:fp").json()]
    assert len(newest_first) == 5 and newest_first == sorted(newest_first, reverse=True)
    oldest_first = [e["log_id"] for e in api.get("/logs", q="type:fp", sort="date:1").json()]
    assert oldest_first == newest_first[::-1]

    page = api.get("/logs", q="type:fp", page="1", per_page="2", include_totals="true").json()
    assert {k: page[k] for k in ("start", "limit", "length", "total")} == {
        "start": 2,
        "limit": 2,
        "length": 2,
        "total": 5,
    }
    assert [e["log_id"] for e in page["logs"]] == newest_first[2:4]

    after = api.get("/logs", q="type:fp", **{"from": oldest_first[1], "take": "2"}).json()
    assert [e["log_id"] for e in after] == oldest_first[2:4]  # strictly after the checkpoint, oldest first
    assert api.get("/logs", take="500").status_code == 400


def test_management_writes_are_logged_without_bodies(api: Api, tenant: Tenant, clock: FrozenClock) -> None:
    path = f"/users/{tenant.user.id}"
    assert api.patch(path, {"password": "a brand new passphrase 77"}).status_code == 200
    clock.advance(seconds=1)  # log ids sort by time; within one millisecond their order is arbitrary
    assert api.patch(path, {"blocked": "yes"}).status_code == 400
    assert api.get("/users").status_code == 200  # reads are not logged
    events = api.get("/logs", q=f'client_id:"{tenant.m2m.client_id}"').json()
    management = [e for e in events if e["type"] in ("sapi", "fapi")]
    assert [(e["type"], e["description"]) for e in management] == [
        ("fapi", "Update a user"),
        ("sapi", "Update a user"),
    ]
    success = management[1]
    assert success["user_id"] == tenant.user.id
    assert success["details"]["request"] == {"method": "patch", "path": f"/api/v2{path}", "channel": "api"}
    assert success["details"]["response"] == {"statusCode": 200}
    assert management[0]["details"]["response"]["statusCode"] == 400
    assert "passphrase" not in str(events)
