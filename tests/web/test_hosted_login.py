"""Hosted login beyond the password: second-factor pages, enrollment when required, passkey sign-in and sign-up
(driven here through the same JSON endpoints the page's script uses), progressive passkey enrollment, step-up."""

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import jwt
from starlette.testclient import TestClient

from myaccount.clock import FrozenClock
from myaccount.core import Core
from myaccount.oauth.pkce import challenge_for
from myaccount.store.methods import MethodStore
from myaccount.store.tenant import TenantSettingsStore
from myaccount.store.users import UserStore
from tests.support.factors import enroll_email, enroll_recovery_code, enroll_totp, totp_now
from tests.support.flows import csrf_from, new_verifier, skip_passkey_offer
from tests.support.me import Me
from tests.support.soft_authenticator import SoftAuthenticator
from tests.support.tenant import Tenant


def _set(core: Core, key: str, value: object) -> None:
    with core.db.write() as conn:
        TenantSettingsStore(conn).set(key, value)


def _start(client: TestClient, tenant: Tenant, **extra: str) -> tuple[str, str]:
    verifier = new_verifier()
    params = {
        "response_type": "code",
        "client_id": tenant.spa.client_id,
        "redirect_uri": tenant.redirect_uri,
        "scope": "openid offline_access",
        "state": "xyz",
        "code_challenge": challenge_for(verifier),
        "code_challenge_method": "S256",
        **extra,
    }
    response = client.get("/authorize", params=params)
    assert response.status_code == 302, response.text
    return response.headers["location"], verifier


def _password(client: TestClient, location: str, tenant: Tenant) -> httpx.Response:
    page = client.get(location)
    return client.post(
        location,
        data={"csrf_token": csrf_from(page.text), "username": "alice@example.com", "password": tenant.password},
    )


def _code(response: httpx.Response, tenant: Tenant) -> str:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(tenant.redirect_uri), location
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def _tokens(client: TestClient, tenant: Tenant, code: str, verifier: str) -> dict[str, Any]:
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


def _script(client: TestClient, page_url: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    page = client.get(page_url) if not page_url.startswith("csrf:") else None
    csrf = page_url[5:] if page is None else re.search(r'data-csrf="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    state = parse_qs(urlsplit(page_url).query)["state"][0] if page is not None else ""
    return client.post(f"{path}?state={state}", json=body or {}, headers={"x-csrf-token": csrf})


def test_password_then_totp_page(client: TestClient, tenant: Tenant, me: Me, core: Core, clock: FrozenClock) -> None:
    secret = enroll_totp(me, clock)
    _set(core, "mfa_policy", "when_enrolled")
    location, verifier = _start(client, tenant)
    response = _password(client, location, tenant)
    assert response.status_code == 303 and response.headers["location"].startswith("/u/mfa")
    mfa_url = response.headers["location"]
    page = client.get(mfa_url)
    assert "authenticator app" in page.text
    wrong = client.post(mfa_url, data={"csrf_token": csrf_from(page.text), "method_id": "", "code": "000000"})
    assert wrong.status_code == 400 and "wrong" in wrong.text
    done = client.post(mfa_url, data={"csrf_token": csrf_from(page.text), "code": totp_now(secret, clock)})
    done = skip_passkey_offer(client, done)
    tokens = _tokens(client, tenant, _code(done, tenant), verifier)
    assert "mfa" in jwt.decode(tokens["id_token"], options={"verify_signature": False})["amr"]


def test_email_code_page_and_switching_factor(
    client: TestClient, tenant: Tenant, me: Me, core: Core, clock: FrozenClock
) -> None:
    enroll_totp(me, clock)
    enroll_email(me, core)
    _set(core, "mfa_policy", "always")
    location, _ = _start(client, tenant)
    mfa_url = _password(client, location, tenant).headers["location"]
    first = client.get(mfa_url)
    email_id = re.search(r"factor=(email[^\"&]+)", first.text)
    assert email_id, first.text
    page = client.get(f"{mfa_url}&factor={email_id.group(1)}")
    assert "a***@example.com" in page.text
    code = core.outbox.latest_code("alice@example.com")
    assert code
    done = client.post(
        mfa_url,
        data={
            "csrf_token": csrf_from(page.text),
            "method_id": page.text.split('name="method_id" value="')[1].split('"')[0],
            "code": code,
        },
    )
    _code(skip_passkey_offer(client, done), tenant)


def test_recovery_code_then_new_code_page(client: TestClient, tenant: Tenant, me: Me, core: Core) -> None:
    code = enroll_recovery_code(me)
    _set(core, "mfa_policy", "always")
    location, _ = _start(client, tenant)
    mfa_url = _password(client, location, tenant).headers["location"]
    page = client.get(mfa_url)
    done = client.post(mfa_url, data={"csrf_token": csrf_from(page.text), "code": code})
    assert done.headers["location"].startswith("/u/recovery-code")
    new_page = client.get(done.headers["location"])
    new_code = re.search(r'id="recovery-code">([A-Z0-9]{24})<', new_page.text)
    assert new_code and new_code.group(1) != code
    finished = client.post(done.headers["location"], data={"csrf_token": csrf_from(new_page.text)})
    _code(skip_passkey_offer(client, finished), tenant)


def test_policy_always_without_factor_enrolls_totp(
    client: TestClient, tenant: Tenant, core: Core, clock: FrozenClock
) -> None:
    _set(core, "mfa_policy", "always")
    location, _ = _start(client, tenant)
    response = _password(client, location, tenant)
    assert response.headers["location"].startswith("/u/mfa-enroll")
    page = client.get(response.headers["location"])
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)
    assert secret and 'src="data:image/svg+xml;base64,' in page.text
    done = client.post(
        response.headers["location"],
        data={"csrf_token": csrf_from(page.text), "code": totp_now(secret.group(1), clock)},
    )
    _code(skip_passkey_offer(client, done), tenant)
    with core.db.read() as conn:
        assert [m.type for m in MethodStore(conn).list(tenant.user.id) if m.confirmed] == ["totp"]


def test_passkey_sign_up_then_sign_in(client: TestClient, tenant: Tenant, core: Core) -> None:
    authenticator = SoftAuthenticator(backup_eligible=True, backed_up=True)
    location, verifier = _start(client, tenant, screen_hint="signup")
    assert location.startswith("/u/signup")
    options = _script(client, location, "/u/signup/options", {"email": "carol@example.com", "name": "Carol"})
    assert options.status_code == 200, options.text
    credential = authenticator.create(options.json()["publicKey"], origin="http://localhost")
    page = client.get(location)
    csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    state = parse_qs(urlsplit(location).query)["state"][0]
    finished = client.post(
        f"/u/signup/passkey?state={state}", json={"credential": credential}, headers={"x-csrf-token": csrf}
    )
    assert finished.status_code == 200, finished.text
    redirect = finished.json()["redirect"]
    assert redirect.startswith(tenant.redirect_uri)
    code = parse_qs(urlsplit(redirect).query)["code"][0]
    tokens = _tokens(client, tenant, code, verifier)
    claims = jwt.decode(tokens["id_token"], options={"verify_signature": False})
    with core.db.read() as conn:
        carol = UserStore(conn).by_email("carol@example.com")
    assert carol is not None and carol.password_hash is None and claims["sub"] == carol.id
    # Sign in again with the discoverable credential: a fresh browser, no session.
    client.cookies.clear()
    location, verifier = _start(client, tenant)
    page = client.get(location)
    csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    state = parse_qs(urlsplit(location).query)["state"][0]
    options = client.post(f"/u/login/passkey/options?state={state}", json={}, headers={"x-csrf-token": csrf})
    assertion = authenticator.get(options.json()["publicKey"], origin="http://localhost")
    signed_in = client.post(
        f"/u/login/passkey?state={state}", json={"credential": assertion}, headers={"x-csrf-token": csrf}
    )
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json()["redirect"].startswith(tenant.redirect_uri)
    with core.db.read() as conn:
        passkey = MethodStore(conn).list(carol.id, type_="passkey")[0]
    assert passkey.data["sign_count"] >= 1 and passkey.last_auth_at is not None
    # A replayed assertion (same challenge, old counter) is refused.
    replay = client.post(
        f"/u/login/passkey?state={state}", json={"credential": assertion}, headers={"x-csrf-token": csrf}
    )
    assert replay.status_code == 400


def test_progressive_passkey_enrollment(client: TestClient, tenant: Tenant, core: Core) -> None:
    location, _ = _start(client, tenant)
    offer = _password(client, location, tenant)
    assert offer.headers["location"].startswith("/u/passkey-enroll")
    page = client.get(offer.headers["location"])
    csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    state = parse_qs(urlsplit(offer.headers["location"]).query)["state"][0]
    options = client.post(f"/u/passkey-enroll/options?state={state}", json={}, headers={"x-csrf-token": csrf})
    credential = SoftAuthenticator().create(options.json()["publicKey"], origin="http://localhost")
    done = client.post(
        f"/u/passkey-enroll/complete?state={state}", json={"credential": credential}, headers={"x-csrf-token": csrf}
    )
    assert done.status_code == 200 and done.json()["redirect"].startswith(tenant.redirect_uri)
    with core.db.read() as conn:
        assert MethodStore(conn).count(tenant.user.id, type_="passkey") == 1


def test_dont_ask_again_is_remembered(client: TestClient, tenant: Tenant) -> None:
    location, _ = _start(client, tenant)
    offer = _password(client, location, tenant)
    _code(skip_passkey_offer(client, offer, action="never"), tenant)
    client.cookies.clear()
    location, _ = _start(client, tenant)
    _code(_password(client, location, tenant), tenant)


def test_csrf_is_required_on_script_endpoints(client: TestClient, tenant: Tenant) -> None:
    location, _ = _start(client, tenant)
    state = parse_qs(urlsplit(location).query)["state"][0]
    response = client.post(f"/u/login/passkey/options?state={state}", json={}, headers={"x-csrf-token": "nope"})
    assert response.status_code == 403


def test_default_policy_steps_up_an_existing_session(
    client: TestClient, tenant: Tenant, me: Me, core: Core, clock: FrozenClock
) -> None:
    secret = enroll_totp(me, clock)
    location, _ = _start(client, tenant)
    _code(skip_passkey_offer(client, _password(client, location, tenant)), tenant)
    _set(core, "my_account_default_policy", True)
    audience = core.settings.my_account_audience
    silent, _ = _start(client, tenant, audience=audience, prompt="none")
    assert parse_qs(urlsplit(silent).query)["error"] == ["unmet_authentication_requirements"]
    step_up, verifier = _start(client, tenant, audience=audience)
    assert step_up.startswith("/u/mfa")
    page = client.get(step_up)
    done = client.post(step_up, data={"csrf_token": csrf_from(page.text), "code": totp_now(secret, clock)})
    tokens = _tokens(client, tenant, _code(done, tenant), verifier)
    assert tokens["access_token"]
    # Within 15 minutes the session satisfies the policy silently.
    clock.advance(minutes=5)
    again, _ = _start(client, tenant, audience=audience, prompt="none")
    assert "code" in parse_qs(urlsplit(again).query)


def test_max_age_and_prompt_login_force_a_new_login(client: TestClient, tenant: Tenant, clock: FrozenClock) -> None:
    location, _ = _start(client, tenant)
    _code(skip_passkey_offer(client, _password(client, location, tenant)), tenant)
    assert _start(client, tenant)[0].startswith(tenant.redirect_uri)
    assert _start(client, tenant, prompt="login")[0].startswith("/u/login")
    clock.advance(minutes=10)
    assert _start(client, tenant, max_age="300")[0].startswith("/u/login")
    assert _start(client, tenant, max_age="3600")[0].startswith(tenant.redirect_uri)
