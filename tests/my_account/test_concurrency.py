"""`auth_session` is consumed atomically: of N concurrent verifies of one enrollment, exactly one succeeds.

A small cluster serves one database: several nodes, each its own core (engine, connection pool, limiter) and its
own uvicorn event loop in a thread, as several server processes behind a load balancer would. N clients in threads
line up on a barrier, then all send the same verify at once, spread over the nodes. Exactly one gets 201, the
others 400, and exactly one confirmed method is stored. Runs on SQLite and, with MYACCOUNT_TEST_DATABASE_URL, on
PostgreSQL.
"""

import base64
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from myaccount.app import create_app
from myaccount.clock import FrozenClock
from myaccount.core import Core
from myaccount.methods.totp import totp_at
from myaccount.settings import RateLimitSettings, Settings
from myaccount.store.methods import MethodStore
from tests.support.live import free_port, serve
from tests.support.me import ALL_SCOPES
from tests.support.soft_authenticator import SoftAuthenticator
from tests.support.tenant import Tenant, make_tenant

N = 20
NODES = 4


@dataclass
class Cluster:
    url: str  # the public origin every node serves (issuer, WebAuthn origin)
    nodes: list[str]  # where each node listens
    core: Core  # the first node's core, for reading the shared database


@pytest.fixture
def cluster(make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core]) -> Iterator[Cluster]:
    ports = [free_port() for _ in range(NODES)]
    url = f"http://localhost:{ports[0]}"
    # Limits high enough that every one of the N verifies reaches the auth_session (429 would prove nothing).
    limits = RateLimitSettings(user_write_capacity=10 * N, code_attempt_capacity=10 * N)
    settings = make_settings(public_url=url, rate_limits=limits)
    cores = [make_core(settings) for _ in ports]
    with ExitStack() as stack:
        for port, core in zip(ports, cores, strict=True):
            stack.enter_context(serve(create_app(settings, core=core), port))
        yield Cluster(url, [f"http://localhost:{port}" for port in ports], cores[0])


@pytest.fixture
def cluster_tenant(cluster: Cluster) -> Tenant:
    return make_tenant(cluster.core)


def _token(cluster: Cluster, tenant: Tenant) -> str:
    response = httpx.post(
        f"{cluster.nodes[-1]}/oauth/token",
        data={
            "grant_type": "http://auth0.com/oauth/grant-type/password-realm",
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "username": "alice@example.com",
            "password": tenant.password,
            "realm": "Username-Password-Authentication",
            "audience": f"{cluster.url}/me/",
            "scope": f"openid {ALL_SCOPES}",
        },
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _proof(type_: str, started: dict[str, Any], cluster: Cluster, clock: FrozenClock) -> dict[str, Any]:
    """The one verify body every racer sends: the same authn_response, the same code."""
    if type_ == "passkey":
        credential = SoftAuthenticator().create(started["authn_params_public_key"], origin=cluster.url)
        return {"auth_session": started["auth_session"], "authn_response": credential}
    if type_ == "totp":
        manual = started["manual_input_code"]
        code = totp_at(base64.b32decode(manual + "=" * (-len(manual) % 8)), int(clock.now().timestamp()))
        return {"auth_session": started["auth_session"], "otp_code": code}
    return {"auth_session": started["auth_session"]}


def _race(cluster: Cluster, token: str, path: str, body: dict[str, Any]) -> list[httpx.Response]:
    """N clients, each with a warm connection to one node, send `body` to `path` at the same moment."""
    barrier = threading.Barrier(N)
    headers = {"Authorization": f"Bearer {token}"}

    def racer(index: int) -> httpx.Response:
        with httpx.Client(base_url=cluster.nodes[index % NODES], headers=headers, timeout=60) as http:
            assert http.get("/me/v1/factors").status_code == 200  # connect before the start line
            barrier.wait(timeout=30)
            return http.post(f"/me/v1{path}", json=body)

    with ThreadPoolExecutor(max_workers=N) as pool:
        return list(pool.map(racer, range(N)))


@pytest.mark.parametrize("type_", ["passkey", "totp", "recovery-code"])
def test_concurrent_verifies_exactly_one_succeeds(
    cluster: Cluster, cluster_tenant: Tenant, clock: FrozenClock, type_: str
) -> None:
    token = _token(cluster, cluster_tenant)
    start = httpx.post(
        f"{cluster.nodes[0]}/me/v1/authentication-methods",
        json={"type": type_},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert start.status_code == 202, start.text
    started = start.json()
    verify_path = start.headers["location"].split("/me/v1", 1)[1] + "/verify"

    proof = _proof(type_, started, cluster, clock)
    responses = _race(cluster, token, verify_path, proof)

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [400] * (N - 1), [(r.status_code, r.text[:200]) for r in responses]
    [winner] = [r for r in responses if r.status_code == 201]
    method = winner.json()
    assert method["type"] == type_ and winner.headers["location"].endswith(method["id"].replace("|", "%7C"))
    for loser in responses:
        if loser.status_code == 400:
            error = loser.json()
            assert error["status"] == 400 and error["validation_errors"][0]["pointer"] in ("/auth_session", "/otp_code")

    with cluster.core.db.read() as conn:
        stored = MethodStore(conn).list(cluster_tenant.user.id, type_=type_)
    assert [(m.id, m.confirmed) for m in stored] == [(method["id"], True)]

    # The session is spent: one more verify, after the race, fails too.
    again = httpx.post(
        f"{cluster.nodes[1]}/me/v1{verify_path}",
        json=proof,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert again.status_code == 400
