"""Attack catalogue: getting around the password policy (history, dictionary, length, control characters).

Through the My Account API (a user changing their password) and the Management API (an admin setting one):
both go through `PasswordPolicy.check`.
"""

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from myaccount.core import Core
from tests.management import Api, grant_management, management_token
from tests.support.me import Me, me_token
from tests.support.tenant import Tenant

STRONG = "Tr0ub4dor&3-horse-battery"


@pytest.fixture
def me(client: TestClient, tenant: Tenant, core: Core) -> Me:
    return Me(client, me_token(client, tenant, core))


@pytest.fixture
def api(client: TestClient, tenant: Tenant, core: Core) -> Api:
    grant_management(core, tenant)
    return Api(client, management_token(client, tenant, core))


def _change(me: Me, password: str) -> httpx.Response:
    started = me.enroll({"type": "password"})
    assert started.status_code == 202, started.text
    return me.verify(
        started.headers["location"], {"auth_session": started.json()["auth_session"], "new_password": password}
    )


def _refused(response: httpx.Response, words: str) -> None:
    assert response.status_code == 400, response.text
    details = " ".join(e["detail"] for e in response.json().get("validation_errors", [])) or response.json()["detail"]
    assert words in details, details


def test_password_history_cannot_be_bypassed(me: Me, tenant: Tenant, api: Api) -> None:
    assert _change(me, STRONG).status_code == 201
    _refused(_change(me, tenant.password), "used recently")  # back to the previous one
    _refused(_change(me, STRONG), "used recently")  # the current one again
    # The Management API applies the same history.
    admin_set = api.patch(
        f"/users/{tenant.user.id}", {"password": tenant.password, "connection": "Username-Password-Authentication"}
    )
    assert admin_set.status_code == 400, admin_set.text


@pytest.mark.parametrize("password", ["password", "PASSWORD", "Password", "qwerty123", "iloveyou"])
def test_dictionary_password_is_refused(me: Me, api: Api, password: str) -> None:
    _refused(_change(me, password), "too common")
    created = api.post(
        "/users",
        {"email": "dict@example.com", "password": password, "connection": "Username-Password-Authentication"},
    )
    assert created.status_code == 400, created.text


def test_password_length_bounds_are_enforced(me: Me, api: Api) -> None:
    _refused(_change(me, "Sh0rt!x"), "at least 8")
    _refused(_change(me, "Aa1!" + "x9Y#" * 70), "at most 256")
    created = api.post(
        "/users",
        {"email": "short@example.com", "password": "Sh0rt!x", "connection": "Username-Password-Authentication"},
    )
    assert created.status_code == 400


@pytest.mark.parametrize("control", ["\x00", "\n", "\r", "\t", "\x1b", "\x7f", "\u0085", "\u009f"])
def test_control_characters_in_password_are_refused(me: Me, api: Api, control: str) -> None:
    _refused(_change(me, f"Tr0ub4dor&3{control}horse"), "control characters")
    created = api.post(
        "/users",
        {
            "email": "ctl@example.com",
            "password": f"Tr0ub4dor&3{control}horse",
            "connection": "Username-Password-Authentication",
        },
    )
    assert created.status_code == 400, created.text
