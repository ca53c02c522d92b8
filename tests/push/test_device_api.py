"""Push end to end over real HTTP: My Account enrollment, `myaccount authenticator` as the device, challenges."""

import base64
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.testclient import TestClient

from myaccount import admin, authenticator, push
from myaccount.app import create_app
from myaccount.clock import FrozenClock
from myaccount.core import Core
from myaccount.errors import NotFound
from myaccount.methods import push as protocol
from myaccount.settings import Settings
from tests.conftest import LiveServer
from tests.support.live import free_port, serve
from tests.support.me import Me, me_token
from tests.support.tenant import Tenant, make_tenant
from tests.support.tls import make_certificates


class RealClock(FrozenClock):
    """Real time plus an adjustable offset: the authenticator signs its proofs with the machine's clock, so the
    server has to follow real time; `advance` still moves the server alone (ticket and challenge expiry)."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def clock() -> RealClock:  # overrides the frozen clock that `live_server` is built with
    return RealClock()


@pytest.fixture
def me(live_server: LiveServer, live_tenant: Tenant) -> Iterator[Me]:
    client = TestClient(live_server.app, base_url=live_server.url, follow_redirects=False)
    yield Me(client, me_token(client, live_tenant, live_server.core))
    client.close()


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "authenticator" / "devices.json"


def run(capsys: pytest.CaptureFixture[str], state: Path, *argv: str) -> tuple[int, str, str]:
    code = authenticator.main(["--state", str(state), *argv])
    out, err = capsys.readouterr()
    return code, out, err


@dataclass
class Started:
    method_id: str
    location: str
    auth_session: str
    uri: str


def start_push(me: Me) -> Started:
    response = me.enroll({"type": "push-notification"})
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["id"].startswith("push-notification|dev_")
    return Started(body["id"], response.headers["location"], body["auth_session"], body["barcode_uri"])


def enroll_device(capsys: pytest.CaptureFixture[str], state: Path, me: Me, *, name: str = "Test phone") -> str:
    """A confirmed push device; returns its id."""
    started = start_push(me)
    code, out, err = run(capsys, state, "--json", "enroll", started.uri, "--name", name)
    assert code == 0, err
    verified = me.verify(started.location, {"auth_session": started.auth_session})
    assert verified.status_code == 201, verified.text
    device_id: str = json.loads(out)["device_id"]
    return device_id


class Device:
    """Raw device calls with the key from the authenticator's state file, to check exact HTTP answers."""

    def __init__(self, state: Path, base_url: str) -> None:
        self.state = authenticator.load_state(state)[0]
        self.key = self.state.private_key()
        self.base_url = base_url

    def proof(self, method: str, path: str) -> str:
        url = self.base_url + path
        return protocol.device_jwt(self.key, jkt=self.state.jkt, method=method, url=url, now=int(time.time()))

    def get(self, path: str = "/push/v1/challenges", *, proof: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Device {proof or self.proof('GET', path)}"}
        return httpx.get(self.base_url + path, headers=headers)

    def answer(self, challenge_id: str, approve: bool, *, signature: str | None = None) -> httpx.Response:
        path = f"/push/v1/challenges/{challenge_id}/answer"
        body = {"approve": approve, "signature": signature or protocol.sign_answer(self.key, challenge_id, approve)}
        return httpx.post(
            self.base_url + path, headers={"Authorization": f"Device {self.proof('POST', path)}"}, json=body
        )


def challenge(live_server: LiveServer, tenant: Tenant, **binding: Any) -> str:
    return push.create_challenge(
        live_server.core,
        tenant.user.id,
        client_id=tenant.web.client_id,
        binding={"ip": "203.0.113.7", "user_agent": "Firefox 140 / Linux", **binding},
    )


def assert_problem(response: httpx.Response, status: int, words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and words in body["detail"], body
    return body


# enrollment


def test_enrollment_with_the_authenticator(
    capsys: pytest.CaptureFixture[str], state: Path, me: Me, live_server: LiveServer
) -> None:
    started = start_push(me)
    assert started.uri.startswith("otpauth://push/MyAccount%3Aalice%40example.com?")
    assert protocol.parse_uri(started.uri).base_url == live_server.url

    pending = me.verify(started.location, {"auth_session": started.auth_session})
    assert pending.status_code == 400
    assert "pending" in pending.json()["detail"]

    code, out, err = run(capsys, state, "enroll", started.uri, "--name", "Test phone")
    assert code == 0, err
    assert "Enrolled push-notification|dev_" in out and "alice@example.com" in out
    assert state.stat().st_mode & 0o777 == 0o600 and state.parent.stat().st_mode & 0o777 == 0o700

    verified = me.verify(started.location, {"auth_session": started.auth_session})
    assert verified.status_code == 201, verified.text
    method = verified.json()
    assert method["type"] == "push-notification" and method["confirmed"] is True
    assert method["name"] == "Test phone"
    assert [m["id"] for m in me.methods() if m["type"] == "push-notification"] == [method["id"]]

    code, out, _ = run(capsys, state, "list", "--json")
    assert code == 0
    [listed] = json.loads(out)
    assert listed["device_id"] == method["id"] and listed["base_url"] == live_server.url
    assert "private_key_pem" not in listed

    # The ticket is single-use.
    code, _, err = run(capsys, state, "enroll", started.uri)
    assert code == 2 and "invalid, expired or already used" in err and "HTTP 400" in err


def test_enroll_refusals(me: Me, live_server: LiveServer) -> None:
    started = start_push(me)
    ticket = protocol.parse_uri(started.uri).ticket
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = protocol.public_jwk(key.public_key())
    url = live_server.url + "/push/v1/enroll"
    d = key.private_numbers().private_value.to_bytes(32, "big")
    private = {**jwk, "d": base64.urlsafe_b64encode(d).rstrip(b"=").decode()}

    refused = httpx.post(url, json={"enrollment_tx_id": ticket, "public_key": private})
    body = assert_problem(refused, 400, "private member(s): d")
    assert body["validation_errors"][0]["pointer"] == "/public_key"

    assert_problem(httpx.post(url, json={"enrollment_tx_id": "nope", "public_key": jwk}), 400, "already used")
    assert_problem(httpx.post(url, json={"public_key": jwk}), 400, "enrollment_tx_id is required")
    assert_problem(httpx.post(url, json={"enrollment_tx_id": ticket}), 400, "public_key is required")
    assert_problem(httpx.post(url, json={"enrollment_tx_id": ticket, "public_key": jwk, "x": 1}), 400, "Unexpected")
    assert_problem(
        httpx.post(url, json={"enrollment_tx_id": ticket, "public_key": jwk, "device_name": "\x00"}), 400, "control"
    )
    assert_problem(httpx.post(url, json=[1]), 400, "JSON object")
    assert_problem(httpx.post(url, content=b"{", headers={"content-type": "application/json"}), 400, "not valid JSON")
    assert_problem(httpx.post(url, content=b"x=1"), 415, "application/json")
    assert_problem(httpx.post(url, content=b"[" * 70_000, headers={"content-type": "application/json"}), 413, "large")

    # None of that spent the ticket.
    accepted = httpx.post(url, json={"enrollment_tx_id": ticket, "device_name": "Raw", "public_key": jwk})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json() == {"device_id": started.method_id, "user": "alice@example.com"}

    # One key, one enrollment (confirm the first: starting again drops an unconfirmed method).
    assert me.verify(started.location, {"auth_session": started.auth_session}).status_code == 201
    again = start_push(me)
    again_ticket = protocol.parse_uri(again.uri).ticket
    assert_problem(httpx.post(url, json={"enrollment_tx_id": again_ticket, "public_key": jwk}), 409, "already enrolled")


def test_the_ticket_expires_with_the_auth_session(
    capsys: pytest.CaptureFixture[str], state: Path, me: Me, clock: RealClock
) -> None:
    started = start_push(me)
    clock.advance(minutes=5, seconds=1)
    code, _, err = run(capsys, state, "enroll", started.uri)
    assert code == 2 and "expired" in err


def test_starting_again_voids_the_first_ticket(capsys: pytest.CaptureFixture[str], state: Path, me: Me) -> None:
    first = start_push(me)
    second = start_push(me)
    assert run(capsys, state, "enroll", first.uri)[0] == 2
    assert run(capsys, state, "enroll", second.uri)[0] == 0


def test_authenticator_refuses_plain_http_beyond_loopback(capsys: pytest.CaptureFixture[str], state: Path) -> None:
    uri = "otpauth://push/T:u?enrollment_tx_id=t&base_url=http%3A%2F%2Fid.example.com"
    code, _, err = run(capsys, state, "enroll", uri)
    assert code == 2 and "refusing plain http" in err
    code, _, err = run(capsys, state, "enroll", "otpauth://totp/T:u?secret=A")
    assert code == 2 and "otpauth://push/" in err
    assert not state.exists()


# challenges


def test_approve_with_the_authenticator(
    capsys: pytest.CaptureFixture[str], state: Path, me: Me, live_server: LiveServer, live_tenant: Tenant
) -> None:
    device_id = enroll_device(capsys, state, me)
    challenge_id = challenge(live_server, live_tenant)
    assert push.challenge_status(live_server.core, challenge_id) == "pending"

    code, out, err = run(capsys, state, "pending", "--json")
    assert code == 0, err
    [listed] = json.loads(out)
    assert listed["id"] == challenge_id and listed["device_id"] == device_id
    assert listed["details"]["client_name"] == "Web app" and listed["details"]["ip"] == "203.0.113.7"
    code, out, _ = run(capsys, state, "pending")
    assert f"{challenge_id}  Web app from 203.0.113.7" in out

    code, out, err = run(capsys, state, "approve", challenge_id)
    assert code == 0, err
    assert out.strip() == f"{challenge_id}: approved"
    assert push.challenge_status(live_server.core, challenge_id) == "approved"
    answered = push.get_challenge(live_server.core, challenge_id)
    assert answered.method_id == device_id and answered.answered_at is not None and answered.signature

    # Answered challenges are no longer pending; a second answer is refused.
    assert json.loads(run(capsys, state, "pending", "--json")[1]) == []
    code, _, err = run(capsys, state, "reject", challenge_id, "--device", device_id)
    assert code == 2 and "already approved" in err and "HTTP 409" in err
    code, _, err = run(capsys, state, "approve", challenge_id)
    assert code == 2 and "no enrolled device has a pending challenge" in err
    assert push.challenge_status(live_server.core, challenge_id) == "approved"


def test_reject(
    capsys: pytest.CaptureFixture[str], state: Path, me: Me, live_server: LiveServer, live_tenant: Tenant
) -> None:
    enroll_device(capsys, state, me)
    challenge_id = challenge(live_server, live_tenant)
    assert run(capsys, state, "reject", challenge_id)[0] == 0
    assert push.challenge_status(live_server.core, challenge_id) == "rejected"


def test_answer_refusals(
    capsys: pytest.CaptureFixture[str],
    state: Path,
    me: Me,
    live_server: LiveServer,
    live_tenant: Tenant,
    clock: RealClock,
) -> None:
    enroll_device(capsys, state, me)
    device = Device(state, live_server.url)
    challenge_id = challenge(live_server, live_tenant)

    forged = protocol.sign_answer(ec.generate_private_key(ec.SECP256R1()), challenge_id, True)
    assert_problem(device.answer(challenge_id, True, signature=forged), 400, "signature does not verify")
    flipped = protocol.sign_answer(device.key, challenge_id, False)
    assert_problem(device.answer(challenge_id, True, signature=flipped), 400, "signature does not verify")
    assert_problem(device.answer(challenge_id, True, signature="x"), 400, "signature does not verify")
    assert push.challenge_status(live_server.core, challenge_id) == "pending"

    assert_problem(device.answer("pch_" + "x" * 24, True), 404, "not found")
    assert_problem(device.answer("%00", True), 404, "not found")

    assert device.answer(challenge_id, True).json() == {"id": challenge_id, "status": "approved"}
    assert_problem(device.answer(challenge_id, True), 409, "already approved")
    assert_problem(device.answer(challenge_id, False), 409, "already approved")

    # Expired: made two and a half minutes ago (the server's clock alone moves back; the device keeps real time).
    clock.advance(seconds=-150)
    expired = challenge(live_server, live_tenant)
    clock.advance(seconds=150)
    assert push.challenge_status(live_server.core, expired) == "expired"
    assert device.get().json()["challenges"] == []
    assert_problem(device.answer(expired, True), 410, "expired")
    assert push.challenge_status(live_server.core, expired) == "expired"


def test_device_proofs(
    capsys: pytest.CaptureFixture[str], state: Path, me: Me, live_server: LiveServer, live_tenant: Tenant
) -> None:
    enroll_device(capsys, state, me)
    device = Device(state, live_server.url)
    challenge(live_server, live_tenant)

    proof = device.proof("GET", "/push/v1/challenges")
    assert len(device.get(proof=proof).json()["challenges"]) == 1
    replayed = assert_problem(device.get(proof=proof), 401, "already used")
    assert replayed["title"] == "Unauthorized"

    missing = httpx.get(live_server.url + "/push/v1/challenges")
    assert_problem(missing, 401, "Authorization: Device")
    assert missing.headers["www-authenticate"].startswith("Device")
    bearer = httpx.get(live_server.url + "/push/v1/challenges", headers={"Authorization": "Bearer x"})
    assert_problem(bearer, 401, "Authorization: Device")
    assert_problem(device.get(proof="garbage"), 401, "well-formed")
    assert_problem(device.get(proof=device.proof("POST", "/push/v1/challenges")), 401, "another request")
    assert_problem(device.get(proof=device.proof("GET", "/push/v1/enroll")), 401, "another request")
    stranger = ec.generate_private_key(ec.SECP256R1())
    unknown = protocol.device_jwt(
        stranger,
        jkt=protocol.thumbprint(protocol.public_jwk(stranger.public_key())),
        method="GET",
        url=live_server.url + "/push/v1/challenges",
        now=int(time.time()),
    )
    assert_problem(device.get(proof=unknown), 401, "Unknown device key")
    # A proof signed by another key under this device's kid.
    impostor = protocol.device_jwt(
        stranger, jkt=device.state.jkt, method="GET", url=live_server.url + "/push/v1/challenges", now=int(time.time())
    )
    assert_problem(device.get(proof=impostor), 401, "signature")


def test_an_unconfirmed_device_gets_no_challenges(
    capsys: pytest.CaptureFixture[str], state: Path, me: Me, live_server: LiveServer, live_tenant: Tenant
) -> None:
    started = start_push(me)
    assert run(capsys, state, "enroll", started.uri)[0] == 0
    with pytest.raises(push.NoPushDevice):
        challenge(live_server, live_tenant)
    assert_problem(Device(state, live_server.url).get(), 403, "not confirmed")


def test_challenges_are_per_user_and_end_with_the_device(
    capsys: pytest.CaptureFixture[str], state: Path, me: Me, live_server: LiveServer, live_tenant: Tenant
) -> None:
    device_id = enroll_device(capsys, state, me)
    device = Device(state, live_server.url)
    bob = admin.create_user(live_server.core, email="bob@example.com", password="bob-password-123")
    with pytest.raises(push.NoPushDevice):
        push.create_challenge(live_server.core, bob.id, client_id=live_tenant.web.client_id, binding={})
    with pytest.raises(ValueError, match="binding"):
        challenge(live_server, live_tenant, nested={"a": 1})
    with pytest.raises(NotFound):
        push.challenge_status(live_server.core, "pch_" + "0" * 24)

    ours = challenge(live_server, live_tenant)
    assert [c["id"] for c in device.get().json()["challenges"]] == [ours]

    deleted = me.delete(f"/authentication-methods/{device_id.replace('|', '%7C')}")
    assert deleted.status_code == 204, deleted.text
    assert_problem(device.get(), 401, "Unknown device key")
    assert_problem(device.answer(ours, True), 401, "Unknown device key")


def test_watch_auto_approves(
    capsys: pytest.CaptureFixture[str], state: Path, me: Me, live_server: LiveServer, live_tenant: Tenant
) -> None:
    enroll_device(capsys, state, me)
    first = challenge(live_server, live_tenant)
    second = challenge(live_server, live_tenant, client_name="CLI test")
    code, out, err = run(
        capsys, state, "watch", "--auto-approve", "--interval", "0.1", "--timeout", "10", "--count", "2"
    )
    assert code == 0, err
    assert f"{first}: approved" in out and f"{second}: approved" in out and "CLI test from 203.0.113.7" in out
    assert (
        push.challenge_status(live_server.core, first) == push.challenge_status(live_server.core, second) == "approved"
    )
    started = time.monotonic()
    code, out, _ = run(capsys, state, "watch", "--interval", "0.1", "--timeout", "0.3")
    assert code == 0 and out == "" and time.monotonic() - started < 5


# https with a private CA


@pytest.fixture
def tls_server(
    make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core], tmp_path: Path
) -> Iterator[tuple[LiveServer, Path]]:
    certificates = make_certificates(tmp_path / "tls")
    port = free_port()
    url = f"https://localhost:{port}"
    settings = make_settings(public_url=url)
    core = make_core(settings)
    app = create_app(settings, core=core)
    with serve(app, port, **certificates.server_options):
        yield LiveServer(url, core, app), certificates.ca_file


def test_https_with_a_private_ca(
    capsys: pytest.CaptureFixture[str], state: Path, tls_server: tuple[LiveServer, Path]
) -> None:
    server, ca_file = tls_server
    tenant = make_tenant(server.core)
    client = TestClient(server.app, base_url=server.url, follow_redirects=False)
    me = Me(client, me_token(client, tenant, server.core))
    started = start_push(me)
    assert protocol.parse_uri(started.uri).base_url.startswith("https://")

    code, _, err = run(capsys, state, "enroll", started.uri)
    assert code == 2 and "cannot reach" in err and "CERTIFICATE_VERIFY_FAILED" in err

    code, _, err = run(capsys, state, "--cafile", str(ca_file), "enroll", started.uri)
    assert code == 0, err
    assert me.verify(started.location, {"auth_session": started.auth_session}).status_code == 201
    challenge_id = challenge(server, tenant)
    # The CA file is remembered with the device.
    code, out, err = run(capsys, state, "approve", challenge_id)
    assert code == 0, err
    assert push.challenge_status(server.core, challenge_id) == "approved"
    client.close()
