from urllib.parse import parse_qs, urlsplit

from starlette.testclient import TestClient

from myaccount.oauth.pkce import challenge_for
from tests.support.flows import csrf_from, new_verifier, skip_passkey_offer
from tests.support.tenant import Tenant


def _params(tenant: Tenant, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": tenant.spa.client_id,
        "redirect_uri": tenant.redirect_uri,
        "scope": "openid",
        "state": "abc",
        "code_challenge": challenge_for(new_verifier()),
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return {k: v for k, v in params.items() if v != ""}


def _query(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_unregistered_redirect_uri_is_shown_not_redirected(client: TestClient, tenant: Tenant) -> None:
    for uri in (
        "https://evil.example/callback",
        "http://localhost:3000/callback/../x",
        "http://localhost:3000/callbackx",
        "http://localhost:3000",
    ):
        response = client.get("/authorize", params=_params(tenant, redirect_uri=uri))
        assert response.status_code == 400 and "location" not in response.headers
        assert "not in the list of allowed callback URLs" in response.text


def test_unknown_client_is_shown(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/authorize", params=_params(tenant, client_id="nope"))
    assert response.status_code == 400 and "location" not in response.headers


def test_pkce_required_for_public_clients_and_plain_refused(client: TestClient, tenant: Tenant) -> None:
    missing = client.get("/authorize", params=_params(tenant, code_challenge="", code_challenge_method=""))
    assert missing.status_code == 302 and _query(missing.headers["location"])["error"] == "invalid_request"
    plain = client.get("/authorize", params=_params(tenant, code_challenge="a" * 43, code_challenge_method="plain"))
    query = _query(plain.headers["location"])
    assert query["error"] == "invalid_request" and query["state"] == "abc"


def test_unsupported_response_type(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/authorize", params=_params(tenant, response_type="token"))
    assert _query(response.headers["location"])["error"] == "unsupported_response_type"


def test_unknown_audience_is_access_denied(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/authorize", params=_params(tenant, audience="https://nope.example/"))
    assert _query(response.headers["location"])["error"] == "access_denied"


def test_login_form_csrf(client: TestClient, tenant: Tenant) -> None:
    location = client.get("/authorize", params=_params(tenant)).headers["location"]
    page = client.get(location)
    assert page.headers["x-frame-options"] == "DENY"
    data = {"csrf_token": "forged", "username": "alice@example.com", "password": tenant.password}
    assert client.post(location, data=data).status_code == 403
    # The right token from a browser that lacks the transaction cookie (another site's form) is refused as well.
    data["csrf_token"] = csrf_from(page.text)
    client.cookies.clear()
    assert client.post(location, data=data).status_code == 403


def test_wrong_password_rerenders_with_generic_error(client: TestClient, tenant: Tenant) -> None:
    location = client.get("/authorize", params=_params(tenant)).headers["location"]
    page = client.get(location)
    response = client.post(
        location, data={"csrf_token": csrf_from(page.text), "username": "alice@example.com", "password": "nope"}
    )
    assert response.status_code == 400 and "Wrong email or password." in response.text
    unknown = client.post(
        location, data={"csrf_token": csrf_from(page.text), "username": "bob@example.com", "password": "nope"}
    )
    assert "Wrong email or password." in unknown.text


def test_session_is_fresh_after_login(client: TestClient, tenant: Tenant) -> None:
    client.cookies.set("myaccount_session", "planted-by-attacker")
    location = client.get("/authorize", params=_params(tenant)).headers["location"]
    page = client.get(location)
    done = client.post(
        location,
        data={"csrf_token": csrf_from(page.text), "username": "alice@example.com", "password": tenant.password},
    )
    done = skip_passkey_offer(client, done)
    assert done.status_code == 302
    set_cookie = done.headers["set-cookie"]
    assert "myaccount_session=" in set_cookie and "planted-by-attacker" not in set_cookie
    assert "HttpOnly" in set_cookie and "SameSite=lax" in set_cookie


def test_logout_clears_session_and_redirects_only_to_allowed_urls(client: TestClient, tenant: Tenant) -> None:
    ok = client.get("/v2/logout", params={"client_id": tenant.spa.client_id, "returnTo": "http://localhost:3000/"})
    assert ok.status_code == 302 and ok.headers["location"] == "http://localhost:3000/"
    evil = client.get("/v2/logout", params={"client_id": tenant.spa.client_id, "returnTo": "https://evil.example/"})
    assert evil.status_code == 200 and "location" not in evil.headers


def test_form_post_response_mode(client: TestClient, tenant: Tenant) -> None:
    location = client.get("/authorize", params=_params(tenant, response_mode="form_post")).headers["location"]
    page = client.get(location)
    done = client.post(
        location,
        data={"csrf_token": csrf_from(page.text), "username": "alice@example.com", "password": tenant.password},
    )
    done = skip_passkey_offer(client, done)
    assert done.status_code == 200 and 'name="code"' in done.text and 'value="abc"' in done.text
