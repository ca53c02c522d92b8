"""A small tenant for tests: a user, and applications of each kind with the grants they need."""

from dataclasses import dataclass

from myaccount import admin
from myaccount.core import Core
from myaccount.store.clients import Client
from myaccount.store.users import User
from myaccount.tenant import MY_ACCOUNT_SCOPES

__all__ = ["PASSWORD", "Tenant", "make_tenant"]

PASSWORD = "correct horse battery staple 9"
API = "https://api.example.test/"


@dataclass(frozen=True)
class Tenant:
    user: User
    password: str
    spa: Client  # public, authorization code + PKCE, refresh tokens, My Account grant
    web: Client  # confidential, code + refresh + password-realm + client credentials
    web_secret: str
    m2m: Client
    m2m_secret: str
    api: str

    @property
    def redirect_uri(self) -> str:
        return self.spa.callbacks[0]


def make_tenant(core: Core) -> Tenant:
    user = admin.create_user(core, email="alice@example.com", password=PASSWORD, email_verified=True, name="Alice")
    spa, _ = admin.create_client(
        core,
        name="Account page",
        app_type="spa",
        callbacks=["http://localhost:3000/callback"],
        allowed_origins=["http://localhost:3000"],
        web_origins=["http://localhost:3000"],
        allowed_logout_urls=["http://localhost:3000/"],
    )
    web, web_secret = admin.create_client(
        core,
        name="Web app",
        app_type="regular_web",
        callbacks=["https://app.example.test/callback"],
        grant_types=[
            "authorization_code",
            "refresh_token",
            "password",
            "http://auth0.com/oauth/grant-type/password-realm",
        ],
    )
    m2m, m2m_secret = admin.create_client(core, name="Backend", app_type="non_interactive")
    assert web_secret and m2m_secret
    admin.create_resource_server(
        core,
        identifier=API,
        name="Example API",
        scopes=["read:things", "write:things", "admin:things"],
        allow_offline_access=True,
    )
    for client in (spa, web):
        admin.create_client_grant(
            core,
            client_id=client.client_id,
            audience=core.settings.my_account_audience,
            scope=list(MY_ACCOUNT_SCOPES),
            subject_type="user",
        )
    admin.create_client_grant(core, client_id=m2m.client_id, audience=API, scope=["read:things"], subject_type="client")
    return Tenant(
        user=user, password=PASSWORD, spa=spa, web=web, web_secret=web_secret, m2m=m2m, m2m_secret=m2m_secret, api=API
    )
