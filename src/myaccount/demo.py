"""The demo tenant: a user and two applications at the server's own origin, to try from a browser or with curl.

The account page (`/account/`) brings its own application, so the demo adds one user to sign in there with, a
public SPA client for trying an SPA SDK against the server, and a confidential client with the password-realm
grant for curl. Both clients have a My Account client grant.

It is a tenant file built in code and applied like any other, so it is idempotent and follows the origin: start
the demo on another port and the callbacks move with it. Its credentials are fixed and printed, hence public:
the demo is refused when `environment` is `production`.
"""

from typing import Any

from myaccount import tenant_file
from myaccount.core import Core
from myaccount.oauth.grants.password import DATABASE_CONNECTION, PASSWORD_REALM
from myaccount.tenant import MY_ACCOUNT_SCOPES

__all__ = [
    "EMAIL",
    "PASSWORD",
    "SPA_CLIENT_ID",
    "WEB_CLIENT_ID",
    "WEB_CLIENT_SECRET",
    "DemoRefused",
    "describe",
    "ensure",
    "tenant",
]

EMAIL = "demo@example.com"
PASSWORD = "demo-password-1234"
SPA_CLIENT_ID = "demo-spa"
WEB_CLIENT_ID = "demo-web-app"
WEB_CLIENT_SECRET = "demo-web-app-secret-not-for-production"
_READ_SCOPES = "openid profile email offline_access read:me:authentication_methods read:me:factors"


class DemoRefused(RuntimeError):
    """The demo's well-known credentials must not land in a production tenant."""


def tenant(origin: str) -> dict[str, Any]:
    """The demo as a tenant document (the same shape `myaccount tenant apply` reads)."""
    my_account = f"{origin}/me/"
    return {
        "clients": [
            {
                "client_id": SPA_CLIENT_ID,
                "name": "Demo SPA",
                "app_type": "spa",
                "grant_types": ["authorization_code", "refresh_token"],
                "callbacks": [f"{origin}/account/callback"],
                "allowed_logout_urls": [f"{origin}/account"],
                "allowed_origins": [origin],
                "web_origins": [origin],
            },
            {
                "client_id": WEB_CLIENT_ID,
                "client_secret": WEB_CLIENT_SECRET,
                "name": "Demo web app",
                "app_type": "regular_web",
                "grant_types": ["authorization_code", "refresh_token", PASSWORD_REALM],
                "callbacks": [f"{origin}/callback"],
            },
        ],
        "client_grants": [
            {"client_id": client_id, "audience": my_account, "scope": list(MY_ACCOUNT_SCOPES), "subject_type": "user"}
            for client_id in (SPA_CLIENT_ID, WEB_CLIENT_ID)
        ],
        "users": [{"email": EMAIL, "password": PASSWORD, "email_verified": True, "name": "Demo User"}],
    }


def ensure(core: Core) -> tenant_file.ApplyReport:
    """Create the demo objects, or bring them back to the demo's values (the user's password is left alone)."""
    if core.settings.environment == "production":
        raise DemoRefused("the demo tenant has public credentials; it is not created when environment=production")
    return tenant_file.apply(core, tenant(core.settings.origin))


def describe(core: Core) -> str:
    """What to paste: the URL, the demo user and clients, and a curl command that gets a My Account token."""
    origin = core.settings.origin
    audience = core.settings.my_account_audience
    token_request = (
        f"TOKEN=$(curl -s {origin}/oauth/token \\\n"
        f"  -d grant_type={PASSWORD_REALM} -d realm={DATABASE_CONNECTION} \\\n"
        f"  -d client_id={WEB_CLIENT_ID} -d client_secret={WEB_CLIENT_SECRET} \\\n"
        f"  -d username={EMAIL} -d password={PASSWORD} \\\n"
        f"  --data-urlencode audience={audience} --data-urlencode 'scope={_READ_SCOPES}' \\\n"
        "  | python3 -c 'import json, sys; print(json.load(sys.stdin)[\"access_token\"])')"
    )
    return "\n".join(
        [
            f"MyAccount demo tenant at {origin}",
            f"  account page          {origin}/account/  (sign in as the demo user)",
            f"  issuer                {core.settings.issuer}",
            f"  My Account API        {audience}v1/",
            "",
            "Fixed, public credentials: for trying things out, never for real users",
            f"  user                  {EMAIL}",
            f"  password              {PASSWORD}",
            f"  SPA client            {SPA_CLIENT_ID}  (public, callback {origin}/account/callback)",
            f"  web client            {WEB_CLIENT_ID}",
            f"  web client secret     {WEB_CLIENT_SECRET}",
            "",
            "Get a My Account token for the demo user (password-realm grant) and list their methods:",
            "",
            token_request,
            f'curl -s {audience}v1/authentication-methods -H "Authorization: Bearer $TOKEN"',
        ]
    )
