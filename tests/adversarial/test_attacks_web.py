"""Attack catalogue: the browser-facing surface (CORS, CSRF, session fixation, header injection) and user
enumeration through the login and sign-up answers and their timing."""

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from myaccount import admin
from myaccount.clock import FrozenClock
from myaccount.core import Core
from myaccount.crypto.passwords import PasswordHashing
from myaccount.oauth.pkce import challenge_for
from myaccount.store.tenant import TenantSettingsStore
from tests.adversarial import client_address
from tests.support.factors import enroll_recovery_code, enroll_totp
from tests.support.flows import csrf_from, new_verifier, skip_passkey_offer
from tests.support.me import Me, me_token
from tests.support.tenant import Tenant

ALLOWED = "http://localhost:3000"


def _authorize(client: TestClient, tenant: Tenant, **extra: str) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": tenant.spa.client_id,
        "redirect_uri": tenant.redirect_uri,
        "scope": "openid",
        "state": "st",
        "code_challenge": challenge_for(new_verifier()),
        "code_challenge_method": "S256",
        **extra,
    }
    return client.get("/authorize", params=params)


def _login_page(client: TestClient, tenant: Tenant) -> tuple[str, str]:
    location = _authorize(client, tenant).headers["location"]
    return location, csrf_from(client.get(location).text)


def _password_login(client: TestClient, location: str, csrf: str, username: str, password: str) -> httpx.Response:
    return client.post(location, data={"csrf_token": csrf, "username": username, "password": password})


@pytest.mark.parametrize(
    "path", ["/me/v1/authentication-methods", "/oauth/token", "/userinfo", "/api/v2/users", "/passkey/challenge"]
)
def test_cors_preflight_from_an_unlisted_origin_is_refused(client: TestClient, tenant: Tenant, path: str) -> None:
    headers = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    allowed = client.options(path, headers={"Origin": ALLOWED, **headers})
    assert allowed.status_code == 204 and allowed.headers["access-control-allow-origin"] == ALLOWED
    for origin in ("https://evil.example", "http://localhost:3000.evil.example", "null", "http://localhost:3001"):
        refused = client.options(path, headers={"Origin": origin, **headers})
        assert refused.status_code == 403, origin
        assert "access-control-allow-origin" not in refused.headers
    # The actual request from that origin is not readable cross-origin either.
    response = client.get("/me/v1/factors", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_csrf_on_the_hosted_login_form_is_refused(client: TestClient, tenant: Tenant) -> None:
    location, csrf = _login_page(client, tenant)
    # Another site's form: a made-up token, no token, or the victim's token without the victim's cookie.
    assert _password_login(client, location, "forged", "alice@example.com", tenant.password).status_code == 403
    assert client.post(location, data={"username": "alice@example.com", "password": tenant.password}).status_code == 403
    cookies = dict(client.cookies)
    client.cookies.clear()
    assert _password_login(client, location, csrf, "alice@example.com", tenant.password).status_code == 403
    # The script endpoints want the header too.
    state = parse_qs(urlsplit(location).query)["state"][0]
    assert client.post(f"/u/login/passkey/options?state={state}", json={}).status_code == 403
    client.cookies.update(cookies)
    done = skip_passkey_offer(client, _password_login(client, location, csrf, "alice@example.com", tenant.password))
    assert done.status_code == 302 and done.headers["location"].startswith(tenant.redirect_uri)


def test_session_fixation_on_login_is_prevented(client: TestClient, tenant: Tenant, core: Core) -> None:
    planted = "attacker-chosen-session-id"
    client.cookies.set("myaccount_session", planted)
    location, csrf = _login_page(client, tenant)
    done = skip_passkey_offer(client, _password_login(client, location, csrf, "alice@example.com", tenant.password))
    assert done.status_code == 302
    issued = re.search(r"myaccount_session=([^;]+)", done.headers["set-cookie"])
    assert issued and issued.group(1) != planted
    assert "HttpOnly" in done.headers["set-cookie"] and "SameSite=lax" in done.headers["set-cookie"]
    # The planted id does not give the attacker a session: a fresh browser with it must log in.
    attacker = TestClient(client.app, base_url="http://localhost", follow_redirects=False, client=client_address())
    attacker.cookies.set("myaccount_session", planted)
    assert _authorize(attacker, tenant).headers["location"].startswith("/u/login")


@pytest.mark.parametrize("payload", ["x\r\nSet-Cookie: pwned=1", "x\nLocation: https://evil.example", "x\r\n\r\n<h1>"])
def test_header_injection_in_location_is_neutralised(client: TestClient, tenant: Tenant, payload: str) -> None:
    redirected = [
        _authorize(client, tenant, state=payload, prompt="none"),  # back to the app with login_required
        _authorize(client, tenant, state=payload, code_challenge_method="plain"),  # back with invalid_request
        client.get(
            "/v2/logout", params={"client_id": tenant.spa.client_id, "returnTo": f"{ALLOWED}/", "state": payload}
        ),
    ]
    for response in redirected:
        assert response.status_code == 302, response.text
        location = response.headers["location"]
        assert "\r" not in location and "\n" not in location
        assert location.startswith(tenant.redirect_uri) or location.startswith(ALLOWED)
        assert parse_qs(urlsplit(location).query)["state"] == [payload]  # carried, encoded
        assert "pwned" not in response.headers.get("set-cookie", "")
    # A method id with CR/LF cannot reach the Location of /me/v1 either: it is only ever our own id, quoted.
    me = Me(client, me_token(client, tenant, core=client.app.state.core))  # type: ignore[attr-defined]
    started = me.enroll({"type": "recovery-code"})
    assert re.fullmatch(
        r"http://localhost/me/v1/authentication-methods/recovery-code%7Cdev_\w{16}", started.headers["location"]
    )
    assert me.get("/authentication-methods/x%0D%0ASet-Cookie:%20a=1").status_code == 404


def test_login_answers_do_not_tell_whether_the_user_exists(client: TestClient, tenant: Tenant) -> None:
    location, csrf = _login_page(client, tenant)
    wrong = _password_login(client, location, csrf, "alice@example.com", "not the password")
    unknown = _password_login(client, location, csrf, "nobody@example.com", "not the password")
    assert wrong.status_code == unknown.status_code == 400
    assert "Wrong email or password." in wrong.text and "Wrong email or password." in unknown.text

    def token(username: str) -> Any:
        return client.post(
            "/oauth/token",
            data={
                "grant_type": "password",
                "client_id": tenant.web.client_id,
                "client_secret": tenant.web_secret,
                "username": username,
                "password": "not the password",
            },
        )

    known_answer, unknown_answer = token("alice@example.com"), token("nobody@example.com")
    assert known_answer.status_code == unknown_answer.status_code
    assert known_answer.json() == unknown_answer.json()


def test_login_timing_does_not_tell_whether_the_user_exists(client: TestClient, tenant: Tenant, core: Core) -> None:
    """An unknown user costs the same argon2id verification as a known one: the same number of verifications,
    against a hash with the same parameters (so the same work). Checked by counting, not by the clock: wall-clock
    ratios on a shared CI machine measure the machine, not the code."""
    core.passwords = PasswordHashing()  # production parameters
    admin.create_user(core, email="carol@example.com", password="carol's real password 77", email_verified=True)
    calls: list[str] = []

    class Counting:
        """The argon2 hasher, recording the hash each verification runs against."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def verify(self, hashed: str, password: str) -> bool:
            calls.append(hashed)
            return bool(self.inner.verify(hashed, password))

    core.passwords._hasher = Counting(core.passwords._hasher)  # type: ignore[assignment]

    def attempt(username: str) -> list[str]:
        before = len(calls)
        response = client.post(
            "/oauth/token",
            data={
                "grant_type": "password",
                "client_id": tenant.web.client_id,
                "client_secret": tenant.web_secret,
                "username": username,
                "password": "wrong password guess",
            },
        )
        assert response.status_code == 403, response.text
        return calls[before:]

    known = [attempt("carol@example.com") for _ in range(3)]
    unknown = [attempt(f"nobody{n}@example.com") for n in range(3)]
    assert [len(c) for c in known] == [len(c) for c in unknown] == [1, 1, 1]

    def parameters(hashed: str) -> str:
        # $argon2id$v=19$m=65536,t=3,p=4$salt$hash: everything before the salt sets the cost.
        return "$".join(hashed.split("$")[:4])

    assert {parameters(c[0]) for c in unknown} == {parameters(c[0]) for c in known}
    assert parameters(known[0][0]).startswith("$argon2id$")


def test_signup_answers_do_not_tell_whether_the_user_exists(client: TestClient, tenant: Tenant) -> None:
    location = _authorize(client, tenant, screen_hint="signup").headers["location"]
    page = client.get(location)
    csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    state = parse_qs(urlsplit(location).query)["state"][0]

    def options(email: str) -> httpx.Response:
        return client.post(f"/u/signup/options?state={state}", json={"email": email}, headers={"x-csrf-token": csrf})

    existing, new = options("alice@example.com"), options("newcomer@example.com")
    assert existing.status_code == new.status_code == 200
    assert set(existing.json()["publicKey"]) == set(new.json()["publicKey"])
    assert existing.json()["publicKey"].get("excludeCredentials", []) == []  # no hint of alice's passkeys


PAGES = ["/u/login", "/u/signup", "/u/mfa", "/u/mfa-enroll", "/u/recovery-code", "/u/passkey-enroll", "/u/continue"]
SCRIPTS = [
    "/u/login/passkey/options",
    "/u/login/passkey",
    "/u/signup/options",
    "/u/signup/passkey",
    "/u/mfa/webauthn/options",
    "/u/mfa/webauthn",
    "/u/passkey-enroll/options",
    "/u/passkey-enroll/complete",
]


def test_skipping_sign_in_steps_is_refused(client: TestClient, tenant: Tenant) -> None:
    """A live transaction before the password: every later step must refuse (no code, no 5xx, no new secrets)."""
    location, csrf = _login_page(client, tenant)
    state = parse_qs(urlsplit(location).query)["state"][0]
    for path in PAGES:
        got = client.get(f"{path}?state={state}")
        assert got.status_code < 500, (path, got.text[:300])
        assert tenant.redirect_uri not in got.headers.get("location", ""), path
        if path != "/u/continue":
            posted = client.post(f"{path}?state={state}", data={"csrf_token": csrf, "code": "000000"})
            assert posted.status_code < 500, (path, posted.text[:300])
            assert tenant.redirect_uri not in posted.headers.get("location", ""), path
    page = client.get(location)
    script_csrf = re.search(r'data-csrf="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    for script in SCRIPTS:
        answer = client.post(f"{script}?state={state}", json={"credential": {}}, headers={"x-csrf-token": script_csrf})
        assert answer.status_code < 500, (script, answer.text[:300])
        assert tenant.redirect_uri not in answer.text, script


def test_mfa_bypass_through_the_new_recovery_code_page_is_refused(
    client: TestClient, tenant: Tenant, core: Core, clock: FrozenClock
) -> None:
    """The attacker knows the password only. The page that shows a fresh recovery code (after one was used) must
    not mint one for a sign-in that has not passed its second factor: that code would be the second factor."""
    me = Me(client, me_token(client, tenant, core))
    enroll_totp(me, clock)
    victims_code = enroll_recovery_code(me)
    with core.db.write() as conn:
        TenantSettingsStore(conn).set("mfa_policy", "always")
    client.cookies.clear()
    location, csrf = _login_page(client, tenant)
    after_password = _password_login(client, location, csrf, "alice@example.com", tenant.password)
    assert after_password.status_code == 303 and after_password.headers["location"].startswith("/u/mfa")
    state = parse_qs(urlsplit(location).query)["state"][0]

    minted = client.get(f"/u/recovery-code?state={state}")
    assert minted.status_code in (400, 403), minted.text[:300]
    assert not re.search(r'id="recovery-code">([A-Z0-9]{24})<', minted.text)
    # The victim's own recovery code was not replaced behind their back.
    mfa_url = after_password.headers["location"]
    page = client.get(mfa_url)
    option = re.search(r"factor=(recovery-code[^\"&]+)", page.text)
    assert option, page.text
    chosen = client.get(f"{mfa_url}&factor={option.group(1)}")
    done = client.post(
        mfa_url, data={"csrf_token": csrf_from(chosen.text), "method_id": option.group(1), "code": victims_code}
    )
    assert done.status_code in (302, 303), done.text[:300]


def _after_password_with_totp(client: TestClient, tenant: Tenant, core: Core, clock: FrozenClock) -> str:
    """Alice has an authenticator app and the policy wants it; the attacker knows her password only."""
    enroll_totp(Me(client, me_token(client, tenant, core)), clock)
    with core.db.write() as conn:
        TenantSettingsStore(conn).set("mfa_policy", "always")
    client.cookies.clear()
    location, csrf = _login_page(client, tenant)
    after_password = _password_login(client, location, csrf, "alice@example.com", tenant.password)
    assert after_password.status_code == 303 and after_password.headers["location"].startswith("/u/mfa?")
    return parse_qs(urlsplit(location).query)["state"][0]


def test_mfa_bypass_by_enrolling_a_new_authenticator_app_is_refused(
    client: TestClient, tenant: Tenant, core: Core, clock: FrozenClock
) -> None:
    state = _after_password_with_totp(client, tenant, core, clock)
    page = client.get(f"/u/mfa-enroll?state={state}")
    assert page.status_code == 403, page.text[:300]
    assert not re.search(r'id="totp-secret">', page.text)
    posted = client.post(f"/u/mfa-enroll?state={state}", data={"csrf_token": "x", "code": "000000"})
    assert posted.status_code == 403


def test_mfa_bypass_by_enrolling_a_passkey_before_the_second_factor_is_refused(
    client: TestClient, tenant: Tenant, core: Core, clock: FrozenClock
) -> None:
    from tests.support.soft_authenticator import SoftAuthenticator

    state = _after_password_with_totp(client, tenant, core, clock)
    page = client.get(f"/u/mfa?state={state}")
    csrf = csrf_from(page.text)
    assert client.get(f"/u/passkey-enroll?state={state}").status_code == 403
    options = client.post(f"/u/passkey-enroll/options?state={state}", json={}, headers={"x-csrf-token": csrf})
    assert options.status_code == 403, options.text
    attacker = SoftAuthenticator()
    with core.db.read() as conn:
        from myaccount.store.methods import MethodStore

        assert MethodStore(conn).count(tenant.user.id, type_="passkey") == 0
    fake = attacker.create(
        {"rp": {"id": "localhost"}, "user": {"id": "AAAA"}, "challenge": "AAAA"}, origin="http://localhost"
    )
    completed = client.post(
        f"/u/passkey-enroll/complete?state={state}", json={"credential": fake}, headers={"x-csrf-token": csrf}
    )
    assert completed.status_code == 403
