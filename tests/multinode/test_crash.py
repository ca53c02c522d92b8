"""kill -9 a node under enrollment and login load: nothing half-written, every request succeeded or failed
cleanly, and the restarted node carries on."""

import base64
import json
import threading
import time

import httpx
from sqlalchemy import select

from myaccount.clock import SystemClock
from myaccount.methods.totp import totp_at
from myaccount.store.schema import auth_sessions, authentication_methods, refresh_tokens
from tests.multinode.conftest import Cluster
from tests.support.me import ALL_SCOPES

REALM = "http://auth0.com/oauth/grant-type/password-realm"


def _code(secret: str) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return totp_at(key, int(SystemClock().now().timestamp()))


def test_kill_during_load_leaves_a_consistent_store(cluster: Cluster, user: str) -> None:
    tenant = cluster.tenant
    node = cluster.nodes[0]
    outcomes: list[str] = []
    confirmed_by_client: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def note(outcome: str) -> None:
        with lock:
            outcomes.append(outcome)

    def login_and_enroll() -> None:
        with httpx.Client(timeout=5) as http:
            while not stop.is_set():
                try:
                    tokens = http.post(
                        f"{node.url}/oauth/token",
                        data={
                            "grant_type": REALM,
                            "client_id": tenant.web.client_id,
                            "client_secret": tenant.web_secret,
                            "username": user,
                            "password": tenant.password,
                            "realm": "Username-Password-Authentication",
                            "audience": cluster.core.settings.my_account_audience,
                            "scope": f"openid offline_access {ALL_SCOPES}",
                        },
                    )
                    note(f"token {tokens.status_code}")
                    if tokens.status_code != 200:
                        continue
                    headers = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
                    started = http.post(
                        f"{node.url}/me/v1/authentication-methods", headers=headers, json={"type": "recovery-code"}
                    )
                    note(f"start {started.status_code}")
                    if started.status_code != 202:
                        continue
                    verified = http.post(
                        f"{started.headers['location']}/verify".replace(cluster.origin, node.url),
                        headers=headers,
                        json={"auth_session": started.json()["auth_session"]},
                    )
                    note(f"verify {verified.status_code}")
                    if verified.status_code == 201:
                        with lock:
                            confirmed_by_client.append(verified.json()["id"])
                except httpx.TransportError as exc:
                    note(f"transport {type(exc).__name__}")
                    time.sleep(0.05)

    workers = [threading.Thread(target=login_and_enroll) for _ in range(6)]
    for worker in workers:
        worker.start()
    # Kill once the load is really under way (some enrollments confirmed), whatever the machine's speed.
    deadline = time.monotonic() + 60
    while len(confirmed_by_client) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    node.kill()
    time.sleep(0.5)
    stop.set()
    for worker in workers:
        worker.join(timeout=30)
    assert not any(worker.is_alive() for worker in workers), "a client request hung"
    # Every request either got an HTTP answer or failed at the transport level; no 5xx.
    assert all(o.split()[1][0] in "24" or o.startswith("transport") for o in outcomes), outcomes
    assert any(o.startswith("verify 201") for o in outcomes), outcomes
    assert any(o.startswith("transport") for o in outcomes)

    node.start()
    with cluster.core.db.read() as conn:
        methods = {row.id: row for row in conn.execute(select(authentication_methods))}
        sessions = list(conn.execute(select(auth_sessions).where(auth_sessions.c.kind == "enrollment")))
        tokens = list(conn.execute(select(refresh_tokens)))
    # What the client saw confirmed is confirmed; a confirmed recovery code always has its sealed hash.
    surviving = {m for m in confirmed_by_client if m in methods}
    assert all(methods[m].confirmed for m in surviving)
    for method in methods.values():
        if method.type == "recovery-code" and method.confirmed:
            secret = json.loads(cluster.core.sealer.open(method.secret, purpose="method-secret"))
            assert len(secret["hash"]) == 64
    # A consumed enrollment session always comes with its method confirmed (or replaced by a newer code):
    # consumption and confirmation commit together.
    for session in sessions:
        if session.consumed_at is not None and session.method_id in methods:
            assert methods[session.method_id].confirmed
    ids = {t.id for t in tokens}
    assert all(t.replaced_by in ids for t in tokens if t.replaced_by)
    # The restarted node serves.
    again = httpx.post(
        f"{node.url}/oauth/token",
        timeout=10,
        data={
            "grant_type": REALM,
            "client_id": tenant.web.client_id,
            "client_secret": tenant.web_secret,
            "username": user,
            "password": tenant.password,
            "realm": "Username-Password-Authentication",
        },
    )
    assert again.status_code == 200
