"""Helpers for the Native Passkey API tests: applications with the passkey grant, and the three requests."""

import json
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
from sqlalchemy import func, select
from starlette.testclient import TestClient

from myaccount import admin
from myaccount.core import Core
from myaccount.passkey_api import GRANT_TYPE
from myaccount.store.schema import auth_sessions, authentication_methods, login_sessions, refresh_tokens, users
from myaccount.tenant import MY_ACCOUNT_SCOPES

__all__ = [
    "ALL_ME_SCOPES",
    "GRANT_TYPE",
    "MFA_OTP",
    "ORIGIN",
    "REALM",
    "PasskeyApp",
    "PasskeyTenant",
    "challenge",
    "make_passkey_tenant",
    "register",
    "row_counts",
    "token",
    "token_form",
]

ORIGIN = "http://localhost"  # the TestClient's base URL, so the server's own origin and RP ID `localhost`
REALM = "Username-Password-Authentication"
MFA_OTP = "http://auth0.com/oauth/grant-type/mfa-otp"
ALL_ME_SCOPES = " ".join(MY_ACCOUNT_SCOPES)


@dataclass(frozen=True)
class PasskeyApp:
    """An application and how it authenticates: a public native app (no secret) or a confidential one."""

    client_id: str
    secret: str | None = None

    def auth(self) -> dict[str, str]:
        return {"client_id": self.client_id} | ({"client_secret": self.secret} if self.secret else {})


@dataclass(frozen=True)
class PasskeyTenant:
    native: PasskeyApp  # public, webauthn + refresh_token + mfa-otp
    web: PasskeyApp  # confidential (client_secret_post), the same grants
    no_grant: PasskeyApp  # public, without the webauthn grant
    audience: str  # the My Account API


def make_passkey_tenant(core: Core) -> PasskeyTenant:
    grants = [GRANT_TYPE, "refresh_token", MFA_OTP]
    native, _ = admin.create_client(core, name="Native app", app_type="native", grant_types=grants)
    web, secret = admin.create_client(core, name="Web app", app_type="regular_web", grant_types=grants)
    other, _ = admin.create_client(core, name="Other app", app_type="native", grant_types=["refresh_token"])
    for client in (native, web):
        admin.create_client_grant(
            core,
            client_id=client.client_id,
            audience=core.settings.my_account_audience,
            scope=list(MY_ACCOUNT_SCOPES),
            subject_type="user",
        )
    return PasskeyTenant(
        native=PasskeyApp(native.client_id),
        web=PasskeyApp(web.client_id, secret),
        no_grant=PasskeyApp(other.client_id),
        audience=core.settings.my_account_audience,
    )


def register(client: TestClient, app: PasskeyApp, **body: Any) -> httpx.Response:
    profile = body.pop("user_profile", {"email": "new@example.com", "name": "New User"})
    return client.post("/passkey/register", json={**app.auth(), "user_profile": profile, **body})


def challenge(client: TestClient, app: PasskeyApp, **body: Any) -> httpx.Response:
    return client.post("/passkey/challenge", json={**app.auth(), **body})


def _token_params(app: PasskeyApp, auth_session: str, authn_response: Any, extra: dict[str, str]) -> dict[str, Any]:
    return {
        "grant_type": GRANT_TYPE,
        **app.auth(),
        "auth_session": auth_session,
        "authn_response": authn_response,
        "realm": REALM,
        **extra,
    }


def token(client: TestClient, app: PasskeyApp, auth_session: str, authn_response: Any, **extra: str) -> httpx.Response:
    """The exchange as Auth0's SDKs send it: JSON, `authn_response` an object."""
    return client.post("/oauth/token", json=_token_params(app, auth_session, authn_response, extra))


def token_form(
    client: TestClient, app: PasskeyApp, auth_session: str, authn_response: Any, **extra: str
) -> httpx.Response:
    """The exchange form-encoded, `authn_response` as a string (JSON text unless given as a string already)."""
    text = authn_response if isinstance(authn_response, str) else json.dumps(authn_response)
    return client.post("/oauth/token", data=_token_params(app, auth_session, text, extra))


def row_counts(core: Core) -> dict[str, int]:
    """What a failed exchange must not add to: users, methods, sign-in sessions, refresh tokens, open sessions."""
    with core.db.read() as conn:
        counts = {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in (users, authentication_methods, login_sessions, refresh_tokens)
        }
        open_sessions = select(func.count()).select_from(auth_sessions).where(auth_sessions.c.consumed_at.is_(None))
        counts["open_auth_sessions"] = int(conn.execute(open_sessions).scalar_one())
    return counts
