"""The account page's server side: its application (a system SPA client) and the configuration the page reads.

The page itself (`web/account/`) is an ordinary public client of the My Account API: it signs in with the
authorization code flow and PKCE, then calls `/me/v1` with the bearer token, exactly as any team's own page
would. So the server gives it nothing but an application and its settings:

- a public SPA client named "MyAccount account page" (`is_system`, found again by a marker in its metadata)
  with the callback and logout URL `{origin}/account/`, and the authorization code and refresh token grants;
- a user client grant for the My Account API with every `*:me:*` scope (the API's policy is
  `require_client_grant`, so without it the page would get no My Account scopes at all).

Both are asserted at every start, idempotently, like the system APIs (`tenant.py`). Callbacks, origins and
logout URLs an administrator added are kept; the page's own callback follows `public_url`.

DPoP (RFC 9449): `"dpop": true` in the configuration makes the page bind its tokens to a non-extractable
WebCrypto key (`static/dpop.js`). It is there when `settings.account_page_dpop` is on, or when the caller says
so: `page_uses_dpop(core)` is also true when the My Account API requires DPoP (`proof_of_possession.required`),
since the page would get no token at all otherwise. Without DPoP the key is left out, so the configuration of
a page that does not use it is unchanged.
"""

from typing import Any

from sqlalchemy.exc import IntegrityError

from myaccount.core import Core
from myaccount.ids import alnum
from myaccount.settings import Settings
from myaccount.store.clients import Client, ClientGrant, ClientStore
from myaccount.tenant import MY_ACCOUNT_SCOPES

__all__ = [
    "ACCOUNT_PAGE_NAME",
    "PAGE_PATH",
    "ensure_account_page_client",
    "find_account_page_client",
    "page_config",
    "page_scope",
    "page_uses_dpop",
]

ACCOUNT_PAGE_NAME = "MyAccount account page"
PAGE_PATH = "/account/"
GRANT_TYPES = ("authorization_code", "refresh_token")
# OIDC scopes for the header (who is signed in) and refresh tokens; then every My Account scope.
_OIDC_SCOPES = ("openid", "profile", "email", "offline_access")
_MARKER_KEY = "myaccount_system"
_MARKER_VALUE = "account_page"


def page_url(settings: Settings) -> str:
    return f"{settings.origin}{PAGE_PATH}"


def page_scope() -> str:
    return " ".join((*_OIDC_SCOPES, *MY_ACCOUNT_SCOPES))


def _is_page_client(client: Client) -> bool:
    return client.is_system and client.client_metadata.get(_MARKER_KEY) == _MARKER_VALUE


def find_account_page_client(store: ClientStore) -> Client | None:
    return next((c for c in store.all() if _is_page_client(c)), None)


def _client_id(core: Core) -> str:
    # Derived from the tenant's key, so two processes starting at once create the same client (one of them then
    # fails on the primary key and retries), yet ids differ between tenants as Auth0's random ones do.
    return core.fingerprint("account-page", purpose="system-client")[:32]


def ensure_account_page_client(core: Core) -> Client:
    """Create or repair the account page's application and its My Account client grant; returns the client."""
    try:
        return _ensure(core)
    except IntegrityError:
        return _ensure(core)  # another process created it at the same moment; now it is found


def _ensure(core: Core) -> Client:
    settings, now = core.settings, core.clock.now()
    url = page_url(settings)
    with core.db.write() as conn:
        store = ClientStore(conn)
        client = find_account_page_client(store)
        if client is None:
            client = store.create(
                Client(
                    client_id=_client_id(core),
                    name=ACCOUNT_PAGE_NAME,
                    app_type="spa",
                    token_endpoint_auth_method="none",
                    grant_types=list(GRANT_TYPES),
                    callbacks=[url],
                    allowed_origins=[],
                    web_origins=[],
                    allowed_logout_urls=[url],
                    cross_origin_authentication=False,
                    is_first_party=True,
                    description="The built-in account page at /account/ (a client of the My Account API).",
                    client_metadata={_MARKER_KEY: _MARKER_VALUE},
                    is_system=True,
                ),
                now=now,
            )
        else:
            changes: dict[str, Any] = {}
            if url not in client.callbacks:
                changes["callbacks"] = [*client.callbacks, url]
            if url not in client.allowed_logout_urls:
                changes["allowed_logout_urls"] = [*client.allowed_logout_urls, url]
            missing = [g for g in GRANT_TYPES if g not in client.grant_types]
            if missing:
                changes["grant_types"] = [*client.grant_types, *missing]
            if client.token_endpoint_auth_method != "none":
                changes.update(token_endpoint_auth_method="none", secret_hash=None)
            if changes:
                store.update(client.client_id, **changes)
                updated = store.get(client.client_id)
                assert updated is not None
                client = updated
        audience = settings.my_account_audience
        scopes = list(MY_ACCOUNT_SCOPES)
        grant = store.grant(client.client_id, audience, "user")
        if grant is None:
            store.create_grant(
                ClientGrant(
                    id=f"cgr_{alnum(16)}",
                    client_id=client.client_id,
                    audience=audience,
                    scope=scopes,
                    subject_type="user",
                ),
                now=now,
            )
        elif set(grant.scope) != set(scopes):
            store.update_grant(grant.id, scope=scopes)
        return client


def page_uses_dpop(core: Core) -> bool:
    """Whether the page should bind its tokens with DPoP: the setting, or a My Account API that requires it."""
    if core.settings.account_page_dpop:
        return True
    api = core.api(core.settings.my_account_audience)
    return bool(api is not None and (api.proof_of_possession or {}).get("required"))


def page_config(settings: Settings, client_id: str, *, dpop: bool = False) -> dict[str, Any]:
    """What `/account/config.json` tells the page: whom to sign in with and what to ask for.

    The same keys serve a copy of the page on another origin, with that origin's `redirect_uri`. `dpop` (or
    `settings.account_page_dpop`) adds `"dpop": true`; see `page_uses_dpop`.
    """
    origin = settings.origin
    config: dict[str, Any] = {
        "domain": origin.split("://", 1)[1],
        "origin": origin,
        "issuer": settings.issuer,
        "client_id": client_id,
        "audience": settings.my_account_audience,
        "scope": page_scope(),
        "redirect_uri": page_url(settings),
        "tenant_name": settings.tenant_name,
    }
    if dpop or settings.account_page_dpop:
        config["dpop"] = True
    return config
