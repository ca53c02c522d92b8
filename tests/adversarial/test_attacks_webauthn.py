"""Attack catalogue: WebAuthn ceremonies (W3C WebAuthn Level 3 §7.1 registration, §7.2 authentication).

Enrollment through the My Account API and sign-in through the hosted login (the native passkey API has its own
tests of the same checks: tests/passkey_api/test_token_exchange.py).
"""

import hashlib
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from myaccount.clock import FrozenClock
from myaccount.core import Core
from myaccount.oauth.pkce import challenge_for
from myaccount.store.audit import AuditStore
from myaccount.store.methods import MethodStore
from myaccount.store.tenant import TenantSettingsStore
from tests.support.factors import enroll_totp
from tests.support.flows import new_verifier
from tests.support.me import Me, me_token
from tests.support.soft_authenticator import SoftAuthenticator
from tests.support.tenant import Tenant

ORIGIN = "http://localhost"


@pytest.fixture
def me(client: TestClient, tenant: Tenant, core: Core) -> Me:
    return Me(client, me_token(client, tenant, core))


def _enroll(me: Me, authenticator: SoftAuthenticator, **create: Any) -> httpx.Response:
    started = me.enroll({"type": "passkey"})
    assert started.status_code == 202, started.text
    credential = authenticator.create(started.json()["authn_params_public_key"], origin=ORIGIN, **create)
    return me.verify(
        started.headers["location"], {"auth_session": started.json()["auth_session"], "authn_response": credential}
    )


def _passkeys(core: Core, tenant: Tenant) -> list[Any]:
    with core.db.read() as conn:
        return [m for m in MethodStore(conn).list(tenant.user.id, type_="passkey") if m.confirmed]


class Login:
    """One hosted login transaction driven through the page's script endpoints."""

    def __init__(self, client: TestClient, tenant: Tenant) -> None:
        self.client = client
        params = {
            "response_type": "code",
            "client_id": tenant.spa.client_id,
            "redirect_uri": tenant.redirect_uri,
            "scope": "openid",
            "state": "st",
            "code_challenge": challenge_for(new_verifier()),
            "code_challenge_method": "S256",
        }
        location = client.get("/authorize", params=params).headers["location"]
        page = client.get(location)
        match = re.search(r'data-csrf="([^"]+)"', page.text)
        assert match, page.text
        self.csrf = match.group(1)
        self.state = parse_qs(urlsplit(location).query)["state"][0]

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.client.post(f"{path}?state={self.state}", json=body, headers={"x-csrf-token": self.csrf})

    def options(self) -> dict[str, Any]:
        response = self.post("/u/login/passkey/options", {})
        assert response.status_code == 200, response.text
        options: dict[str, Any] = response.json()["publicKey"]
        return options

    def sign_in(self, credential: dict[str, Any]) -> httpx.Response:
        return self.post("/u/login/passkey", {"credential": credential})


def test_replayed_webauthn_attestation_is_refused(me: Me, core: Core, tenant: Tenant) -> None:
    authenticator = SoftAuthenticator()
    started = me.enroll({"type": "passkey"})
    credential = authenticator.create(started.json()["authn_params_public_key"], origin=ORIGIN)
    body = {"auth_session": started.json()["auth_session"], "authn_response": credential}
    assert me.verify(started.headers["location"], body).status_code == 201
    # The same attestation again: its session is spent.
    assert me.verify(started.headers["location"], body).status_code == 400
    # The same attestation under a fresh session: it answers another challenge.
    fresh = me.enroll({"type": "passkey"})
    replay = me.verify(
        fresh.headers["location"], {"auth_session": fresh.json()["auth_session"], "authn_response": credential}
    )
    assert replay.status_code == 400
    assert replay.json()["validation_errors"][0]["pointer"].startswith("/authn_response")
    assert len(_passkeys(core, tenant)) == 1


def test_assertion_with_decreased_sign_count_is_refused(client: TestClient, me: Me, tenant: Tenant, core: Core) -> None:
    authenticator = SoftAuthenticator()
    assert _enroll(me, authenticator).status_code == 201
    client.cookies.clear()
    first = Login(client, tenant)
    assertion = authenticator.get(first.options(), origin=ORIGIN)
    signed_in = first.sign_in(assertion)
    assert signed_in.status_code == 200, signed_in.text
    assert _passkeys(core, tenant)[0].data["sign_count"] == 1

    client.cookies.clear()
    clone = Login(client, tenant)
    authenticator.set_sign_count(assertion["id"], 0)  # a copy of the key made before the last sign-in
    refused = clone.sign_in(authenticator.get(clone.options(), origin=ORIGIN))
    assert refused.status_code == 400 and "could not be verified" in refused.json()["error"]
    assert _passkeys(core, tenant)[0].data["sign_count"] == 1
    with core.db.read() as conn:
        assert any("clone" in e.description for e in AuditStore(conn).query(user_id=tenant.user.id, type_="f"))


def test_wrong_origin_in_client_data_is_refused(client: TestClient, me: Me, tenant: Tenant, core: Core) -> None:
    enrolled = _enroll(me, SoftAuthenticator(), rp_id="localhost")
    assert enrolled.status_code == 201
    phished = _enroll(me, SoftAuthenticator(), client_data_extra={"origin": "https://evil.example"})
    assert phished.status_code == 400
    assert phished.json()["validation_errors"][0]["pointer"].startswith("/authn_response")
    assert len(_passkeys(core, tenant)) == 1

    authenticator = SoftAuthenticator()
    assert _enroll(me, authenticator).status_code == 201
    client.cookies.clear()
    login = Login(client, tenant)
    on_evil = authenticator.get(login.options(), origin="https://localhost.evil.example", rp_id="localhost")
    assert login.sign_in(on_evil).status_code == 400


def test_wrong_rp_id_is_refused(client: TestClient, me: Me, tenant: Tenant, core: Core) -> None:
    other_rp = hashlib.sha256(b"evil.example").digest()
    wrong = _enroll(me, SoftAuthenticator(), rp_id_hash=other_rp)
    assert wrong.status_code == 400, wrong.text
    assert "RP ID" in wrong.json()["detail"] or "rp" in wrong.json()["detail"].lower()
    assert _passkeys(core, tenant) == []

    authenticator = SoftAuthenticator()
    assert _enroll(me, authenticator).status_code == 201
    client.cookies.clear()
    login = Login(client, tenant)
    assertion = authenticator.get(login.options(), origin=ORIGIN, rp_id_hash=other_rp)
    assert login.sign_in(assertion).status_code == 400


def test_missing_user_verification_is_not_a_second_factor(
    client: TestClient, me: Me, tenant: Tenant, core: Core, clock: FrozenClock
) -> None:
    enroll_totp(me, clock)
    authenticator = SoftAuthenticator()
    assert _enroll(me, authenticator).status_code == 201
    with core.db.write() as conn:
        TenantSettingsStore(conn).set("mfa_policy", "always")

    client.cookies.clear()
    verified = Login(client, tenant)
    done = verified.sign_in(authenticator.get(verified.options(), origin=ORIGIN))
    assert done.status_code == 200 and done.json()["redirect"].startswith(tenant.redirect_uri), done.text

    # Presence only (UV flag clear): one factor, so the policy asks for the second one.
    authenticator.user_verification = False
    client.cookies.clear()
    presence = Login(client, tenant)
    step = presence.sign_in(authenticator.get(presence.options(), origin=ORIGIN))
    assert step.status_code == 200, step.text
    assert step.json()["redirect"].startswith("/u/mfa"), step.json()
