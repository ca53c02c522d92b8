"""Auth0's SPA SDK (`@auth0/auth0-spa-js` 2.28.3, its exported `MyAccountApiClient`) against a running server,
from Node: connect and complete through the SDK's methods, list and delete through the fetcher an app gets from
the SDK (2.28.3 has no such methods) with the SDK's own response handling; errors surface as `MyAccountApiError`.

tests/connected/node/drive.mjs runs the SDK; the browser leg between connect and complete runs here in Python.
Node 20+ and npm are required: without them the test fails, it never skips.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from myaccount.store.connected import ConnectionRecord
from tests.conftest import LiveServer
from tests.connected import APP_REDIRECT, CONNECTION, App, Browser, check, pkce_pair
from tests.support.node import NodeDriver, find_node, npm_ci

NODE_DIR = Path(__file__).parent / "node"
SDK = NODE_DIR / "node_modules" / "@auth0" / "auth0-spa-js" / "package.json"
INSTALL_TIMEOUT = 300
ANSWER_TIMEOUT = 60


class Sdk(NodeDriver):
    """One Node process holding one `MyAccountApiClient`; `call` runs an operation and returns its answer."""

    def __init__(self, node: str, api_base: str, token: str) -> None:
        super().__init__(node, NODE_DIR / "drive.mjs", {"apiBase": api_base, "token": token})


@pytest.fixture
def node() -> str:
    node = find_node("this test drives Auth0's SPA SDK (tests/connected/node).")
    npm_ci(NODE_DIR, SDK)
    return node


@pytest.fixture
def sdk(node: str, live_server: LiveServer, our_app: App, connection: ConnectionRecord) -> Iterator[Sdk]:
    driver = Sdk(node, f"{live_server.url}/me/", our_app.tokens()["access_token"])
    yield driver
    driver.close()


class _Answered:
    """The server's response to the SDK's last request, rebuilt for the contract check: status and headers as the
    driver saw them, and the body the SDK parsed."""

    def __init__(self, answer: dict[str, Any], body: Any) -> None:
        response = answer["requests"][-1]["response"]
        self.status_code: int = response["status"]
        self.headers: dict[str, str] = response["headers"]
        self.content = b"" if body is None else json.dumps(body).encode()


def test_connect_complete_list_delete_through_the_sdk(sdk: Sdk, live_server: LiveServer, browser: Browser) -> None:
    verifier, challenge = pkce_pair()
    connected = sdk.call(
        "connect",
        connection=CONNECTION,
        redirect_uri=APP_REDIRECT,
        state="spa-state",
        code_challenge=challenge,
        code_challenge_method="S256",
        scopes=["openid", "offline_access", "read:calendar"],
    )
    assert connected["ok"], connected
    (sent,) = connected["requests"]
    assert sent["method"] == "POST" and sent["url"] == f"{live_server.url}/me/v1/connected-accounts/connect"
    assert sent["scope"] == ["create:me:connected_accounts"] and sent["headers"]["content-type"] == "application/json"
    started = connected["result"]
    check(_Answered(connected, started), "/connected-accounts/connect", "post")

    finished = browser.connect(started["connect_uri"], started["connect_params"]["ticket"])
    assert finished.query["state"] == "spa-state"
    completion = {
        "auth_session": started["auth_session"],
        "connect_code": finished.query["connect_code"],
        "redirect_uri": APP_REDIRECT,
        "code_verifier": verifier,
    }
    completed = sdk.call("complete", **completion)
    assert completed["ok"], completed
    account = completed["result"]
    check(_Answered(completed, account), "/connected-accounts/complete", "post")
    assert account["connection"] == CONNECTION and set(account["scopes"]) == {
        "openid",
        "offline_access",
        "read:calendar",
    }

    reused = sdk.call("complete", **completion)
    assert not reused["ok"] and reused["error"]["name"] == "MyAccountApiError"
    assert reused["error"]["status"] == 409 and reused["error"]["title"] == "Conflict"
    error_body = {k: v for k, v in reused["error"].items() if k != "name" and v is not None}
    check(_Answered(reused, error_body), "/connected-accounts/complete", "post")

    listed = sdk.call("list", connection=CONNECTION)
    assert listed["ok"] and listed["result"] == {"accounts": [account]}
    check(_Answered(listed, listed["result"]), "/connected-accounts/accounts", "get")
    available = sdk.call("connections")
    assert available["ok"] and [c["name"] for c in available["result"]["connections"]] == [CONNECTION]

    deleted = sdk.call("delete", id=account["id"])
    assert deleted["ok"] and deleted["result"] == {"status": 204}
    check(_Answered(deleted, None), "/connected-accounts/accounts/{id}", "delete")
    assert sdk.call("list")["result"] == {"accounts": []}
    again = sdk.call("delete", id=account["id"])
    assert not again["ok"] and again["error"]["status"] == 404


def test_sdk_errors_are_my_account_api_errors(sdk: Sdk) -> None:
    refused = sdk.call("connect", connection="no-such-connection", redirect_uri=APP_REDIRECT)
    assert not refused["ok"]
    error = refused["error"]
    assert error["name"] == "MyAccountApiError" and error["status"] == 400
    assert error["type"] == "https://auth0.com/api-errors/A0E-400-0001"
    assert error["validation_errors"] == [
        {
            "detail": "No connection named no-such-connection is available for connected accounts.",
            "field": "connection",
            "pointer": "/connection",
        }
    ]
    bad_take = sdk.call("list", take=50)
    assert not bad_take["ok"] and bad_take["error"]["status"] == 400
