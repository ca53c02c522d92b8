from collections.abc import Callable

from starlette.testclient import TestClient

from myaccount.app import create_app
from myaccount.core import Core
from myaccount.settings import Settings
from myaccount.store.audit import AuditStore
from tests.support.tenant import make_tenant


def _failed_login_ip(
    make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core], trusted: list[str], forwarded: str
) -> str | None:
    settings = make_settings(trusted_proxies=trusted)
    core = make_core(settings)
    tenant = make_tenant(core)
    # The test client's peer address is "testclient"; give it a real loopback address.
    client = TestClient(create_app(settings, core=core), base_url="http://localhost", client=("127.0.0.1", 5000))
    client.post(
        "/oauth/token",
        headers={"X-Forwarded-For": forwarded},
        data={
            "grant_type": "password",
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "username": "alice@example.com",
            "password": "wrong",
        },
    )
    with core.db.read() as conn:
        return AuditStore(conn).query(type_="fp")[0].ip


def test_forwarded_for_is_believed_only_from_trusted_proxies(
    make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core]
) -> None:
    assert _failed_login_ip(make_settings, make_core, ["127.0.0.0/8"], "203.0.113.9, 10.0.0.2") == "10.0.0.2"


def test_forwarded_for_skips_our_own_proxies(
    make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core]
) -> None:
    ip = _failed_login_ip(make_settings, make_core, ["127.0.0.0/8", "10.0.0.0/8"], "203.0.113.9, 10.0.0.2")
    assert ip == "203.0.113.9"


def test_untrusted_peer_cannot_choose_its_address(
    make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core]
) -> None:
    assert _failed_login_ip(make_settings, make_core, [], "203.0.113.9") == "127.0.0.1"
