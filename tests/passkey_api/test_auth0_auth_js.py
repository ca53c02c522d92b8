"""Auth0's JS SDK (`@auth0/auth0-auth-js` 1.16.0, `AuthClient.passkey`) against a running server, from Node.

The SDK's passkey client requests, unchanged; tests/passkey_api/node/drive.mjs runs it and the SoftAuthenticator
here answers the challenges it prints. The SDK hard-codes `https://${domain}`, so the server runs with the public
origin `https://localhost:PORT` and serves plain HTTP, as it would behind a TLS-terminating proxy; the driver's
`customFetch` is that proxy (it changes the scheme and address of requests, never their content).
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from myaccount.app import create_app
from myaccount.core import Core
from myaccount.settings import Settings
from myaccount.store.tenant import TenantSettingsStore
from myaccount.store.users import UserStore
from tests.passkey_api import ALL_ME_SCOPES, GRANT_TYPE, REALM, PasskeyTenant, make_passkey_tenant
from tests.support.live import free_port, serve
from tests.support.node import NodeDriver, find_node, npm_ci
from tests.support.soft_authenticator import SoftAuthenticator

NODE_DIR = Path(__file__).parent / "node"
SDK = NODE_DIR / "node_modules" / "@auth0" / "auth0-auth-js" / "package.json"
INSTALL_TIMEOUT = 300
ANSWER_TIMEOUT = 60


@dataclass(frozen=True)
class ProxiedServer:
    public_url: str  # https://localhost:PORT: issuer, WebAuthn origin, what the SDK is told
    listen_url: str  # http://127.0.0.1:PORT: where the server really listens
    core: Core

    @property
    def domain(self) -> str:
        return self.public_url.removeprefix("https://")


@pytest.fixture
def server(make_settings: Callable[..., Settings], make_core: Callable[[Settings], Core]) -> Iterator[ProxiedServer]:
    port = free_port()
    settings = make_settings(public_url=f"https://localhost:{port}")
    core = make_core(settings)
    with serve(create_app(settings, core=core), port):
        yield ProxiedServer(settings.public_url, f"http://127.0.0.1:{port}", core)


class Sdk(NodeDriver):
    """One Node process holding one `AuthClient`; `call` runs a passkey client method and returns its answer."""

    def __init__(self, node: str, server: ProxiedServer, client_id: str, client_secret: str | None) -> None:
        config = {
            "domain": server.domain,
            "serverUrl": server.listen_url,
            "clientId": client_id,
            "clientSecret": client_secret,
        }
        super().__init__(node, NODE_DIR / "drive.mjs", config)


@pytest.fixture
def node() -> str:
    node = find_node("this test drives Auth0's JS SDK (tests/passkey_api/node).")
    npm_ci(NODE_DIR, SDK)
    return node


@pytest.fixture
def pk(server: ProxiedServer) -> PasskeyTenant:
    return make_passkey_tenant(server.core)


@pytest.fixture
def sdk(node: str, server: ProxiedServer, pk: PasskeyTenant) -> Iterator[Sdk]:
    # The SDK's token exchange authenticates the client (it raises MissingClientAuthError without a secret),
    # so it drives the confidential application.
    driver = Sdk(node, server, pk.web.client_id, pk.web.secret)
    yield driver
    driver.close()


def _only(answer: dict[str, Any], path: str) -> dict[str, Any]:
    """The one request the SDK made to `path`."""
    (request,) = [r for r in answer["requests"] if r["url"].endswith(path)]
    found: dict[str, Any] = request
    return found


def test_signup_and_login_through_the_sdk(sdk: Sdk, server: ProxiedServer, pk: PasskeyTenant) -> None:
    authenticator = SoftAuthenticator()
    registered = sdk.call("register", email="sdk@example.com", name="Sdk User", realm=REALM)
    assert registered["ok"], registered
    sent = _only(registered, "/passkey/register")
    assert sent["method"] == "POST" and sent["url"] == f"{server.public_url}/passkey/register"
    assert sent["headers"]["content-type"] == "application/json"
    assert json.loads(sent["body"]) == {
        "client_id": pk.web.client_id,
        "client_secret": pk.web.secret,
        "user_profile": {"email": "sdk@example.com", "name": "Sdk User"},
        "realm": REALM,
    }
    options = registered["result"]["authnParamsPublicKey"]
    assert options["rp"] == {"id": "localhost", "name": "localhost"}
    credential = authenticator.create(options, origin=server.public_url)

    scope = f"openid profile email offline_access {ALL_ME_SCOPES}"
    common = {"realm": REALM, "scope": scope, "audience": pk.audience}
    signed_up = sdk.call("token", authSession=registered["result"]["authSession"], credential=credential, **common)
    assert signed_up["ok"], signed_up
    exchange = _only(signed_up, "/oauth/token")
    assert exchange["headers"]["content-type"] == "application/json"
    body = json.loads(exchange["body"])
    # The SDK's form-to-JSON shim: authn_response arrives as an object (wire notes §6.3).
    assert body["grant_type"] == GRANT_TYPE and body["authn_response"] == credential
    assert body["client_secret"] == pk.web.secret
    tokens = signed_up["result"]
    with server.core.db.read() as conn:
        user = UserStore(conn).by_email("sdk@example.com")
    assert user is not None and user.password_hash is None
    assert tokens["claims"]["sub"] == user.id and tokens["claims"]["amr"] == ["passkey", "mfa"]
    assert tokens["refreshToken"] and set(tokens["scope"].split()) >= set(ALL_ME_SCOPES.split())

    challenged = sdk.call("challenge", realm=REALM)
    assert challenged["ok"], challenged
    assert json.loads(_only(challenged, "/passkey/challenge")["body"]) == {
        "client_id": pk.web.client_id,
        "client_secret": pk.web.secret,
        "realm": REALM,
    }
    request_options = challenged["result"]["authnParamsPublicKey"]
    assert request_options["rpId"] == "localhost" and "allowCredentials" not in request_options
    assertion = authenticator.get(request_options, origin=server.public_url)
    session = challenged["result"]["authSession"]
    signed_in = sdk.call("token", authSession=session, credential=assertion, realm=REALM, scope="openid")
    assert signed_in["ok"], signed_in
    assert signed_in["result"]["claims"]["sub"] == user.id

    reused = sdk.call("token", authSession=session, credential=assertion, realm=REALM, scope="openid")
    assert not reused["ok"]
    assert reused["error"]["name"] == "PasskeyGetTokenError" and reused["error"]["statusCode"] == 400
    assert reused["error"]["cause"]["error"] == "invalid_grant"


def test_errors_surface_as_the_sdk_expects(sdk: Sdk, server: ProxiedServer, pk: PasskeyTenant) -> None:
    authenticator = SoftAuthenticator()
    first = sdk.call("register", email="twice@example.com", realm=REALM)
    credential = authenticator.create(first["result"]["authnParamsPublicKey"], origin=server.public_url)
    assert sdk.call("token", authSession=first["result"]["authSession"], credential=credential, realm=REALM)["ok"]

    again = sdk.call("register", email="twice@example.com", realm=REALM)
    assert not again["ok"]
    assert again["error"]["name"] == "PasskeyRegisterError" and again["error"]["statusCode"] == 400
    assert again["error"]["cause"]["error"] == "invalid_request"
    assert again["error"]["message"] == "The user already exists."

    wrong_realm = sdk.call("challenge", realm="elsewhere")
    assert wrong_realm["error"]["name"] == "PasskeyChallengeError" and wrong_realm["error"]["statusCode"] == 400

    # A second factor demanded by policy: the SDK hands over mfa_token and mfa_requirements.
    with server.core.db.write() as conn:
        TenantSettingsStore(conn).set("mfa_policy", "always")
    authenticator.user_verification = False
    challenged = sdk.call("challenge", realm=REALM)
    assertion = authenticator.get(challenged["result"]["authnParamsPublicKey"], origin=server.public_url)
    refused = sdk.call("token", authSession=challenged["result"]["authSession"], credential=assertion, realm=REALM)
    assert not refused["ok"] and refused["error"]["statusCode"] == 403
    cause = refused["error"]["cause"]
    assert cause["error"] == "mfa_required" and cause["mfa_token"]
    assert cause["mfa_requirements"] == {"challenge": [{"type": "webauthn-platform"}]}
