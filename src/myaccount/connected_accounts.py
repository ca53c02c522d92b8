"""Connected accounts (My Account API, contracts/auth0-wire-notes.md §4) and the Token Vault behind them.

The connect flow has four legs, each a single-use step of one `connect_requests` row:

1. `POST /me/v1/connected-accounts/connect` (the app, with the user's token) opens the request: it answers the
   opaque `auth_session` (kept by the app) and a `ticket` for the browser. Both are stored as keyed hashes.
2. `GET /connect?ticket=…` (the browser) spends the ticket and goes to the provider's authorization endpoint
   with our own `state` and PKCE pair (RFC 6749 §4.1.1, RFC 7636 §4.3). A cookie binds the rest of the leg to
   this browser (RFC 6749 §10.12).
3. `GET /connect/callback` (the browser, back from the provider) checks state and cookie, redeems the code at the
   provider's token endpoint (RFC 6749 §4.1.3) and sends the browser to the app's `redirect_uri` with a one-time
   `connect_code` and the app's `state`, or with `error`/`error_description` (RFC 6749 §4.1.2.1).
4. `POST /me/v1/connected-accounts/complete` (the app) presents `auth_session`, `connect_code`, the same
   `redirect_uri` and, when it sent a `code_challenge`, the `code_verifier` (RFC 7636 §4.6). Only then is the
   connected account written, with the provider's tokens sealed at rest.

The Token Vault (`vault_token`) hands out the provider's access token and refreshes it upstream (RFC 6749 §6)
when it has expired; one node refreshes at a time, since providers that rotate refresh tokens revoke the whole
grant when an old one is used twice. `reseal` re-encrypts everything sealed under a retired key.
"""

import base64
import hmac
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote_plus, urlencode, urlsplit, urlunsplit

import httpx
from sqlalchemy import Connection

from myaccount.audit import Caller, record
from myaccount.connections import SECRET_PURPOSE, Upstream, upstream_of
from myaccount.core import Core
from myaccount.crypto.sealing import SealError
from myaccount.errors import BadRequest, Conflict, FieldError, NotFound
from myaccount.ids import alnum, token
from myaccount.oauth import pkce
from myaccount.oauth.tokens import AccessClaims
from myaccount.store.clients import ClientStore
from myaccount.store.connected import (
    ConnectedAccount,
    ConnectedAccountStore,
    ConnectionRecord,
    ConnectionStore,
    ConnectRequest,
    ConnectRequestStore,
)
from myaccount.store.users import UserStore
from myaccount.timefmt import iso_ms

__all__ = [
    "CALLBACK_PATH",
    "CONNECT_PATH",
    "COOKIE_PREFIX",
    "ConnectPageError",
    "ConnectedAccounts",
    "NotConnected",
    "Redirect",
    "RefreshRefused",
    "ResealReport",
    "TokenSet",
    "UpstreamClient",
    "UpstreamError",
    "UpstreamUnavailable",
    "VaultError",
    "VaultToken",
    "VaultUnavailable",
    "reseal",
    "revoke_connection_tokens",
    "vault_token",
]

log = logging.getLogger("myaccount.connected_accounts")

CONNECT_PATH = "/connect"
CALLBACK_PATH = "/connect/callback"
COOKIE_PREFIX = "myaccount_connect_"
VAULT_PURPOSE = "token-vault"
REQUEST_PURPOSE = "connect-request"
HTTP_TIMEOUT = 10.0
MAX_TAKE = 20
DEFAULT_TAKE = 10
# A vaulted access token is handed out only while it has this much life left; closer to expiry it is refreshed.
EXPIRY_MARGIN = timedelta(seconds=30)
# Providers that send no `expires_in` (RFC 6749 §5.1 makes it optional): assume an hour, as most document.
ASSUMED_LIFETIME = timedelta(hours=1)
REFRESH_LEASE = timedelta(seconds=30)
REFRESH_WAIT_SECONDS = 10.0

_PENDING, _REDIRECTED, _RETURNED, _COMPLETED, _FAILED = "pending", "redirected", "returned", "completed", "failed"
_ACCOUNT_ID = re.compile(r"^cac_[A-Za-z0-9]+$")
_CONNECTION_ID = re.compile(r"^con_[A-Za-z0-9]+$")
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,255}$")  # RFC 6749 §3.3 scope-token
_ERROR_CODE = re.compile(r"^[a-z_]{1,64}$")
_UI_LOCALES = re.compile(r"^[a-zA-Z]{2}(-[a-zA-Z]{2})?(\s[a-zA-Z]{2}(-[a-zA-Z]{2})?)*$")
_SESSION_ERROR = "The auth_session is invalid, expired or already used."

# `authorization_params` of the connect request (OAS `AuthorizationParams`): name -> (max length, allowed values).
_AUTHORIZATION_PARAMS: dict[str, tuple[int, tuple[str, ...]]] = {
    "acr_values": (1024, ()),
    "audience": (512, ()),
    "resource": (512, ()),
    "display": (8, ("page", "popup", "touch", "wap")),
    "id_token_hint": (4096, ()),
    "login_hint": (255, ()),
    "prompt": (16, ("none", "login", "consent", "select_account")),
    "ui_locales": (100, ()),
}


# ---------------------------------------------------------------------------------------------------------------
# The provider: an OAuth 2.0 client over httpx


@dataclass(frozen=True, slots=True)
class TokenSet:
    """A successful token response (RFC 6749 §5.1)."""

    access_token: str
    expires_in: int | None
    refresh_token: str | None
    refresh_token_expires_in: int | None
    scopes: list[str] | None


class UpstreamError(Exception):
    """The provider answered with an OAuth error (RFC 6749 §5.2): it refuses, and retrying will not help."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


class UpstreamUnavailable(Exception):
    """The provider could not be reached, or answered something that is not OAuth."""


def _seconds(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and value >= 0:
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


class UpstreamClient:
    """The calls this server makes to a provider, as the OAuth client registered there."""

    def __init__(self, upstream: Upstream, *, timeout: float = HTTP_TIMEOUT) -> None:
        self.upstream = upstream
        self.timeout = timeout

    def authorization_url(
        self,
        *,
        redirect_uri: str,
        state: str,
        scopes: Sequence[str],
        code_challenge: str | None,
        extra: Mapping[str, str],
    ) -> str:
        """RFC 6749 §4.1.1, with RFC 7636 §4.3 when the connection uses PKCE."""
        params: dict[str, str] = {**extra}
        params.update(response_type="code", client_id=self.upstream.client_id, redirect_uri=redirect_uri, state=state)
        if scopes:
            params["scope"] = " ".join(scopes)
        if code_challenge:
            params.update(code_challenge=code_challenge, code_challenge_method=pkce.S256)
        parts = urlsplit(self.upstream.authorization_endpoint)
        query = (parts.query + "&" if parts.query else "") + urlencode(params)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))

    def _authenticated(self, params: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
        """RFC 6749 §2.3.1: the client secret in the body or in HTTP Basic (each part form-encoded first)."""
        upstream = self.upstream
        headers = {"Accept": "application/json"}
        if upstream.auth_method == "client_secret_basic" and upstream.client_secret is not None:
            pair = f"{quote_plus(upstream.client_id)}:{quote_plus(upstream.client_secret)}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            params = {**params, "client_id": upstream.client_id}
            if upstream.auth_method == "client_secret_post" and upstream.client_secret is not None:
                params["client_secret"] = upstream.client_secret
        return params, headers

    def _post(self, url: str, params: dict[str, str]) -> httpx.Response:
        body, headers = self._authenticated(params)
        try:
            return httpx.post(url, data=body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise UpstreamUnavailable(f"{self.upstream.name}: {exc.__class__.__name__}") from exc

    def _tokens(self, params: dict[str, str]) -> TokenSet:
        response = self._post(self.upstream.token_endpoint, params)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise UpstreamUnavailable(f"{self.upstream.name}: the token endpoint answered HTTP {response.status_code}")
        if response.status_code != 200:
            error = body.get("error")
            if 400 <= response.status_code < 500 and isinstance(error, str):
                description = body.get("error_description")
                raise UpstreamError(error, description if isinstance(description, str) else "")
            raise UpstreamUnavailable(f"{self.upstream.name}: the token endpoint answered HTTP {response.status_code}")
        access = body.get("access_token")
        kind = body.get("token_type", "Bearer")
        if not isinstance(access, str) or not access:
            raise UpstreamUnavailable(f"{self.upstream.name}: the token response has no access_token")
        if not isinstance(kind, str) or kind.lower() != "bearer":
            # RFC 6749 §7.1: a client must not use a token whose type it does not understand.
            raise UpstreamError("unsupported_token_type", f"token_type {kind!r} is not Bearer")
        refresh = body.get("refresh_token")
        scope = body.get("scope")
        return TokenSet(
            access_token=access,
            expires_in=_seconds(body.get("expires_in")),
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            refresh_token_expires_in=_seconds(body.get("refresh_token_expires_in")),
            scopes=scope.split() if isinstance(scope, str) else None,
        )

    def exchange_code(self, code: str, *, redirect_uri: str, code_verifier: str | None) -> TokenSet:
        """RFC 6749 §4.1.3 (+ RFC 7636 §4.5)."""
        params = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier:
            params["code_verifier"] = code_verifier
        return self._tokens(params)

    def refresh(self, refresh_token: str) -> TokenSet:
        """RFC 6749 §6; without `scope`, the provider grants the original scope."""
        return self._tokens({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def userinfo(self, access_token: str) -> dict[str, Any] | None:
        """OIDC Core §5.3, only to learn the provider's user id; any failure just leaves it unknown."""
        if not self.upstream.userinfo_endpoint:
            return None
        try:
            response = httpx.get(
                self.upstream.userinfo_endpoint,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
                timeout=self.timeout,
            )
            body = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None
        return body if isinstance(body, dict) else None

    def revoke(self, token_value: str, *, hint: str) -> bool:
        """RFC 7009 §2.1. Providers without a revocation endpoint (many plain OAuth 2.0 ones) cannot be asked."""
        if not self.upstream.revocation_endpoint:
            return False
        try:
            response = self._post(self.upstream.revocation_endpoint, {"token": token_value, "token_type_hint": hint})
        except UpstreamUnavailable:
            return False
        return response.status_code == 200


# ---------------------------------------------------------------------------------------------------------------
# Sealing


def _seal(core: Core, value: str | None, purpose: str = VAULT_PURPOSE) -> str | None:
    return core.sealer.seal(value.encode(), purpose=purpose) if value is not None else None


def _open(core: Core, sealed: str | None, purpose: str = VAULT_PURPOSE) -> str | None:
    if sealed is None:
        return None
    try:
        return core.sealer.open(sealed, purpose=purpose).decode()
    except SealError:
        return None


def _seal_state(core: Core, state: Mapping[str, Any]) -> str:
    return core.sealer.seal(json.dumps(state).encode(), purpose=REQUEST_PURPOSE)


def _open_state(core: Core, request: ConnectRequest) -> dict[str, Any] | None:
    try:
        value = json.loads(core.sealer.open(request.state, purpose=REQUEST_PURPOSE))
    except (SealError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _hash(core: Core, value: str, purpose: str) -> str:
    return core.fingerprint(value, purpose=purpose)


# ---------------------------------------------------------------------------------------------------------------
# My Account: the connect flow, listing and disconnecting


def _invalid(detail: str, pointer: str | None = None) -> BadRequest:
    field = pointer.strip("/").split("/")[-1] if pointer else None
    errors = [FieldError(detail=detail, pointer=pointer, field=field)] if pointer else []
    return BadRequest(detail, validation_errors=errors)


def _text(body: Mapping[str, Any], name: str, *, low: int, high: int, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise _invalid(f"{name} is required.", f"/{name}")
        return None
    if not isinstance(value, str) or not low <= len(value) <= high:
        raise _invalid(f"{name} must be a string of {low} to {high} characters.", f"/{name}")
    return value


def _only(body: Mapping[str, Any], allowed: set[str], prefix: str = "") -> None:
    extra = sorted(set(body) - allowed)
    if extra:
        raise _invalid(f"Unexpected property: {prefix}{extra[0]}", f"/{prefix}{extra[0]}")


def _absolute_uri(value: str, name: str) -> None:
    parts = urlsplit(value)
    if not parts.scheme or not (parts.netloc or parts.path) or any(c.isspace() for c in value):
        raise _invalid(f"{name} must be an absolute URI.", f"/{name}")


def _take(value: str | None) -> int:
    if value is None or value == "":
        return DEFAULT_TAKE
    if not value.isdigit() or not 1 <= int(value) <= MAX_TAKE:
        raise _invalid(f"take must be an integer from 1 to {MAX_TAKE}.", "/take")
    return int(value)


def _cursor(value: str | None, pattern: re.Pattern[str]) -> str | None:
    if value is None or value == "":
        return None
    if len(value) > 64 or not pattern.match(value):
        raise _invalid("from is not a cursor this API returned.", "/from")
    return value


def _authorization_params(value: object) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid("authorization_params must be an object.", "/authorization_params")
    _only(value, {*_AUTHORIZATION_PARAMS, "max_age"}, "authorization_params/")
    out: dict[str, str] = {}
    for name, item in value.items():
        pointer = f"/authorization_params/{name}"
        if name == "max_age":
            if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item <= 2_147_483_647:
                raise _invalid("max_age must be an integer from 0 to 2147483647.", pointer)
            out[name] = str(item)
            continue
        high, allowed = _AUTHORIZATION_PARAMS[name]
        if not isinstance(item, str) or not 1 <= len(item) <= high:
            raise _invalid(f"{name} must be a string of 1 to {high} characters.", pointer)
        if allowed and item not in allowed:
            raise _invalid(f"{name} must be one of {', '.join(allowed)}.", pointer)
        if name == "ui_locales" and not _UI_LOCALES.match(item):
            raise _invalid("ui_locales must be space-separated BCP 47 language tags.", pointer)
        out[name] = item
    return out


def _requested_scopes(value: object) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not 1 <= len(value) <= 100:
        raise _invalid("scopes must be an array of 1 to 100 scopes.", "/scopes")
    if len(set(map(str, value))) != len(value):
        raise _invalid("scopes must not repeat a scope.", "/scopes")
    for item in value:
        if not isinstance(item, str) or not _SCOPE.match(item):
            raise _invalid(f"{item!r} is not a valid scope (RFC 6749 §3.3).", "/scopes")
    return list(value)


def _with_query(uri: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(uri)
    query = (parts.query + "&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _account_wire(account: ConnectedAccount) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": account.id,
        "connection": account.connection,
        "access_type": "offline",
        "scopes": list(account.scopes),
        "created_at": iso_ms(account.created_at),
    }
    if account.refresh_token_expires_at is not None:
        body["expires_at"] = iso_ms(account.refresh_token_expires_at)
    return body


@dataclass(frozen=True, slots=True)
class Redirect:
    """Where the connect pages send the browser, and the binding cookie to set or clear on the way."""

    location: str
    cookie: tuple[str, str, int] | None = None  # name, value, max-age
    clear_cookie: str | None = None


class ConnectPageError(Exception):
    """A connect page that cannot send the browser back to an app (unknown ticket, no flow in this browser):
    rendered as an error page."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


class ConnectedAccounts:
    """The My Account use cases for connected accounts; each acts for `claims.subject` only."""

    def __init__(self, core: Core) -> None:
        self.core = core

    @property
    def _ttl(self) -> timedelta:
        return self.core.settings.auth_session_ttl

    # reading
    def connections(
        self, claims: AccessClaims, *, cursor: str | None, take: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The connections this application may connect accounts with (`GET …/connections`)."""
        limit = _take(take)
        after = _cursor(cursor, _CONNECTION_ID)
        found: list[ConnectionRecord] = []
        with self.core.db.read() as conn:
            store = ConnectionStore(conn)
            # Filtering by application happens after the query, so read in pages until one is full.
            while len(found) <= limit:
                page = store.find(after=after, limit=limit + 1, active_only=True)
                found.extend(c for c in page if c.enabled_for(claims.client_id))
                if len(page) < limit + 1:
                    break
                after = page[-1].id
        items = [{"name": c.name, "strategy": c.strategy, "scopes": list(c.options.get("scopes") or [])} for c in found]
        more = len(found) > limit
        return items[:limit], found[limit - 1].id if more else None

    def accounts(
        self, claims: AccessClaims, *, connections: Sequence[str], cursor: str | None, take: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The user's connected accounts (`GET …/accounts`), optionally for some connections only."""
        limit = _take(take)
        after = _cursor(cursor, _ACCOUNT_ID)
        if len(connections) > 20 or any(not 0 < len(name) <= 128 for name in connections):
            raise _invalid("connection takes 1 to 20 connection names of at most 128 characters.", "/connection")
        with self.core.db.read() as conn:
            found = ConnectedAccountStore(conn).find(
                claims.subject, connection_names=connections, after=after, limit=limit + 1
            )
        more = len(found) > limit
        return [_account_wire(a) for a in found[:limit]], found[limit - 1].id if more else None

    # 1. connect
    def start(self, claims: AccessClaims, body: Mapping[str, Any], caller: Caller) -> dict[str, Any]:
        """`POST …/connect`: open a connect request; answer the auth_session, the ticket and where to use it."""
        _only(
            body,
            {
                "connection",
                "redirect_uri",
                "state",
                "code_challenge",
                "code_challenge_method",
                "scopes",
                "authorization_params",
            },
        )
        name = _text(body, "connection", low=1, high=128, required=True)
        redirect_uri = _text(body, "redirect_uri", low=1, high=2048, required=True)
        assert name is not None and redirect_uri is not None
        _absolute_uri(redirect_uri, "redirect_uri")
        app_state = _text(body, "state", low=1, high=4096)
        challenge = _text(body, "code_challenge", low=43, high=128)
        method = body.get("code_challenge_method")
        if challenge is not None:
            if method is None:
                raise _invalid("code_challenge_method is required with code_challenge.", "/code_challenge_method")
            if not pkce.valid_challenge(challenge):
                raise _invalid("code_challenge must be a base64url SHA-256 digest (RFC 7636 §4.2).", "/code_challenge")
        # A method without a challenge is allowed (the contract's dependency runs one way only) and means nothing:
        # auth0-server-python always sends `code_challenge_method: S256`, with or without a challenge.
        if method is not None and method != pkce.S256:
            raise _invalid("code_challenge_method must be S256.", "/code_challenge_method")
        scopes = _requested_scopes(body.get("scopes"))
        params = _authorization_params(body.get("authorization_params"))
        now = self.core.clock.now()
        auth_session, ticket = token(32), token(32)
        with self.core.db.write() as conn:
            client = ClientStore(conn).get(claims.client_id)
            if client is None or redirect_uri not in client.callbacks:
                # RFC 6749 §10.6: the connect_code goes only to a redirect URI registered for the calling app.
                raise _invalid("redirect_uri is not an allowed callback URL of this application.", "/redirect_uri")
            user = UserStore(conn).get(claims.subject)
            if user is None or user.blocked:
                raise NotFound("User not found.")
            connection = ConnectionStore(conn).by_name(name)
            if connection is None or not connection.connected_accounts_active:
                raise _invalid(f"No connection named {name} is available for connected accounts.", "/connection")
            if not connection.enabled_for(client.client_id):
                raise _invalid(f"The connection {name} is not enabled for this application.", "/connection")
            default = [str(s) for s in connection.options.get("scopes") or []]
            if scopes is None:
                final = default
            else:
                # Requested scopes replace the connection's, but offline_access stays: without a refresh token
                # there is nothing to keep in the vault.
                final = scopes + (
                    ["offline_access"] if "offline_access" in default and "offline_access" not in scopes else []
                )
            requests = ConnectRequestStore(conn)
            requests.purge(before=now - timedelta(days=1))
            requests.add(
                ConnectRequest(
                    id=_hash(self.core, auth_session, "connect-session"),
                    ticket_hash=_hash(self.core, ticket, "connect-ticket"),
                    user_id=user.id,
                    client_id=client.client_id,
                    connection_id=connection.id,
                    status=_PENDING,
                    state=_seal_state(
                        self.core,
                        {
                            "redirect_uri": redirect_uri,
                            "app_state": app_state,
                            "code_challenge": challenge,
                            "scopes": final,
                            "authorization_params": params,
                        },
                    ),
                    created_at=now,
                    expires_at=now + self._ttl,
                )
            )
            self._audit(conn, claims, caller, "connect_started", connection=name)
        return {
            "auth_session": auth_session,
            "connect_uri": f"{self.core.settings.origin}{CONNECT_PATH}",
            "connect_params": {"ticket": ticket},
            "expires_in": int(self._ttl.total_seconds()),
        }

    # 2. the browser arrives with the ticket
    def open_ticket(self, ticket: str | None) -> Redirect:
        """`GET /connect?ticket=…`: spend the ticket and send the browser to the provider."""
        if not ticket or len(ticket) > 128:
            raise ConnectPageError("invalid_request", "The connect link has no ticket.")
        core = self.core
        now = core.clock.now()
        with core.db.read() as conn:
            request = ConnectRequestStore(conn).by_ticket(_hash(core, ticket, "connect-ticket"))
            connection = ConnectionStore(conn).get(request.connection_id) if request else None
        state = _open_state(core, request) if request else None
        if request is None or connection is None or state is None:
            raise ConnectPageError("invalid_request", "The connect link is invalid or has already been used.")
        if request.status != _PENDING:
            raise ConnectPageError("invalid_request", "The connect link is invalid or has already been used.")
        if request.expires_at <= now:
            raise ConnectPageError("invalid_request", "The connect link has expired. Start again from the app.")
        upstream = upstream_of(core, connection)
        upstream_state, verifier, binding = token(32), token(48), token(32)
        state.update(upstream_state=upstream_state, code_verifier=verifier if upstream.pkce else None)
        deadline = now + core.settings.login_transaction_ttl  # the user may take a while at the provider
        with core.db.write() as conn:
            moved = ConnectRequestStore(conn).advance(
                request.id,
                from_status=_PENDING,
                to_status=_REDIRECTED,
                binding_hash=_hash(core, binding, "connect-binding"),
                state=_seal_state(core, state),
                expires_at=deadline,
            )
        if not moved:
            raise ConnectPageError("invalid_request", "The connect link is invalid or has already been used.")
        location = UpstreamClient(upstream).authorization_url(
            redirect_uri=f"{core.settings.origin}{CALLBACK_PATH}",
            state=upstream_state,
            scopes=state["scopes"],
            code_challenge=pkce.challenge_for(verifier) if upstream.pkce else None,
            extra={**upstream.auth_params, **state["authorization_params"]},
        )
        max_age = int(core.settings.login_transaction_ttl.total_seconds())
        return Redirect(location, cookie=(COOKIE_PREFIX + alnum(12), binding, max_age))

    # 3. the browser comes back from the provider
    def callback(self, params: Mapping[str, str], cookies: Mapping[str, str], caller: Caller) -> Redirect:
        """`GET /connect/callback`: check state and browser, redeem the code upstream, hand the app a connect_code."""
        core = self.core
        now = core.clock.now()
        candidates: list[tuple[str, ConnectRequest, dict[str, Any]]] = []
        with core.db.read() as conn:
            store = ConnectRequestStore(conn)
            for name, value in cookies.items():
                if not name.startswith(COOKIE_PREFIX) or not value or len(value) > 128:
                    continue
                request = store.by_binding(_hash(core, value, "connect-binding"))
                state = _open_state(core, request) if request else None
                if request is not None and state is not None and request.status == _REDIRECTED:
                    candidates.append((name, request, state))
        if not candidates:
            raise ConnectPageError(
                "invalid_request", "No account connection is in progress in this browser, or it has expired."
            )
        sent_state = params.get("state") or ""
        match = [c for c in candidates if hmac.compare_digest(c[2]["upstream_state"].encode(), sent_state.encode())]
        if not match:
            if len(candidates) > 1:
                raise ConnectPageError("invalid_request", "The state returned by the identity provider is unknown.")
            # RFC 6749 §10.12: a callback whose state is not ours is not processed; this flow is over.
            return self._fail(
                candidates[0], "invalid_request", "The state returned by the identity provider does not match.", caller
            )
        cookie_name, request, state = match[0]
        if request.expires_at <= now:
            return self._fail(match[0], "access_denied", "The connect request expired; start again.", caller)
        with core.db.read() as conn:
            connection = ConnectionStore(conn).get(request.connection_id)
        if connection is None:
            return self._fail(match[0], "invalid_request", "The connection no longer exists.", caller)
        upstream = upstream_of(core, connection)
        if "error" in params:
            error = params["error"] if _ERROR_CODE.match(params["error"]) else "access_denied"
            description = (params.get("error_description") or f"The identity provider answered {error}.")[:500]
            return self._fail(match[0], error, description, caller)
        issuer = params.get("iss")
        if issuer is not None and upstream.issuer and issuer != upstream.issuer:
            # RFC 9207 §2.4: an authorization response from another issuer is a mix-up attack.
            return self._fail(match[0], "invalid_request", "The response came from an unexpected issuer.", caller)
        code = params.get("code")
        if not code or len(code) > 2048:
            return self._fail(match[0], "invalid_request", "The identity provider returned no code.", caller)
        client = UpstreamClient(upstream)
        try:
            tokens = client.exchange_code(
                code, redirect_uri=f"{core.settings.origin}{CALLBACK_PATH}", code_verifier=state.get("code_verifier")
            )
        except UpstreamError as exc:
            return self._fail(match[0], "access_denied", f"The identity provider refused the code: {exc}"[:500], caller)
        except UpstreamUnavailable as exc:
            log.warning("connect: code exchange failed: %s", exc)
            return self._fail(
                match[0], "temporarily_unavailable", "The identity provider could not be reached.", caller
            )
        info = client.userinfo(tokens.access_token)
        subject = info.get("sub") if info else None
        connect_code = token(32)  # 43 characters: the contract allows 46
        now = core.clock.now()
        state.update(
            code_verifier=None,
            upstream_state=None,
            upstream_user_id=subject if isinstance(subject, str) and len(subject) <= 255 else None,
            tokens={
                "access_token": tokens.access_token,
                "expires_in": tokens.expires_in,
                "refresh_token": tokens.refresh_token,
                "refresh_token_expires_in": tokens.refresh_token_expires_in,
                "scopes": tokens.scopes,
                "issued_at": now.timestamp(),
            },
        )
        with core.db.write() as conn:
            moved = ConnectRequestStore(conn).advance(
                request.id,
                from_status=_REDIRECTED,
                to_status=_RETURNED,
                code_hash=_hash(core, connect_code, "connect-code"),
                state=_seal_state(core, state),
                expires_at=now + self._ttl,
            )
        if not moved:
            raise ConnectPageError("invalid_request", "This connect request has already been answered.")
        answer = {"connect_code": connect_code}
        if state.get("app_state") is not None:
            answer["state"] = state["app_state"]
        return Redirect(_with_query(state["redirect_uri"], answer), clear_cookie=cookie_name)

    def _fail(
        self, candidate: tuple[str, ConnectRequest, dict[str, Any]], error: str, description: str, caller: Caller
    ) -> Redirect:
        """End the flow and tell the app, at its redirect_uri, why (RFC 6749 §4.1.2.1)."""
        cookie_name, request, state = candidate
        with self.core.db.write() as conn:
            ConnectRequestStore(conn).advance(request.id, from_status=request.status, to_status=_FAILED)
            record(
                conn,
                self.core.clock,
                "connected_accounts.connect_failed",
                caller=caller,
                outcome="failure",
                user_id=request.user_id,
                client_id=request.client_id,
                description=description,
                error=error,
            )
        answer = {"error": error, "error_description": description}
        if state.get("app_state") is not None:
            answer["state"] = state["app_state"]
        return Redirect(_with_query(state["redirect_uri"], answer), clear_cookie=cookie_name)

    # 4. complete
    def complete(self, claims: AccessClaims, body: Mapping[str, Any], caller: Caller) -> dict[str, Any]:
        """`POST …/complete`: check the connect_code, redirect_uri and PKCE verifier; store the account."""
        _only(body, {"auth_session", "connect_code", "redirect_uri", "code_verifier"})
        raw_session = _text(body, "auth_session", low=1, high=64, required=True)
        code = _text(body, "connect_code", low=1, high=46, required=True)
        redirect_uri = _text(body, "redirect_uri", low=1, high=2048, required=True)
        verifier = _text(body, "code_verifier", low=43, high=128)
        assert raw_session is not None and code is not None and redirect_uri is not None
        core = self.core
        now = core.clock.now()
        with core.db.read() as conn:
            request = ConnectRequestStore(conn).get(_hash(core, raw_session, "connect-session"))
        state = _open_state(core, request) if request else None
        if (
            request is None
            or state is None
            or request.user_id != claims.subject
            or request.client_id != claims.client_id
        ):
            # One answer for unknown and someone else's: nothing to learn by probing.
            raise _invalid(_SESSION_ERROR, "/auth_session")
        if request.status == _COMPLETED:
            raise Conflict("This connect request has already been completed: the connect_code was used.")
        if request.status == _FAILED:
            raise _invalid("This connect request failed or was abandoned; start again.", "/auth_session")
        if request.expires_at <= now:
            raise _invalid("The auth_session has expired; start again.", "/auth_session")
        if request.status != _RETURNED:
            raise _invalid("The user has not finished connecting the account at connect_uri yet.", "/connect_code")
        problem: BadRequest | None = None
        if not request.code_hash or not hmac.compare_digest(request.code_hash, _hash(core, code, "connect-code")):
            problem = _invalid("The connect_code is invalid.", "/connect_code")
        elif redirect_uri != state["redirect_uri"]:
            problem = _invalid(
                "redirect_uri does not match the one the connect request was made with.", "/redirect_uri"
            )
        elif state.get("code_challenge") and not verifier:
            problem = _invalid("code_verifier is required: the connect request had a code_challenge.", "/code_verifier")
        elif state.get("code_challenge") and not pkce.verify(verifier or "", state["code_challenge"]):
            problem = _invalid("The code_verifier does not match the code_challenge (RFC 7636 §4.6).", "/code_verifier")
        elif verifier and not state.get("code_challenge"):
            problem = _invalid(
                "code_verifier was sent, but the connect request had no code_challenge.", "/code_verifier"
            )
        if problem is not None:
            # A failed redemption ends the request, as a failed authorization code exchange spends the code.
            with core.db.write() as conn:
                ConnectRequestStore(conn).advance(request.id, from_status=_RETURNED, to_status=_FAILED)
                self._audit(conn, claims, caller, "connect_failed", outcome="failure", reason=problem.detail)
            raise problem
        tokens: dict[str, Any] = state["tokens"]
        issued_at = datetime.fromtimestamp(tokens["issued_at"], tz=now.tzinfo)
        access_expires = issued_at + (
            timedelta(seconds=tokens["expires_in"]) if tokens.get("expires_in") is not None else ASSUMED_LIFETIME
        )
        refresh_in = tokens.get("refresh_token_expires_in")
        refresh_expires = issued_at + timedelta(seconds=refresh_in) if refresh_in is not None else None
        scopes = tokens.get("scopes") or state["scopes"]  # RFC 6749 §5.1: no scope means the requested one
        replaced_refresh: str | None = None
        with core.db.write() as conn:
            requests = ConnectRequestStore(conn)
            if not requests.advance(request.id, from_status=_RETURNED, to_status=_COMPLETED):
                raise Conflict("This connect request has already been completed: the connect_code was used.")
            store = ConnectedAccountStore(conn)
            values: dict[str, Any] = {
                "upstream_user_id": state.get("upstream_user_id"),
                "scopes": scopes,
                "access_token": _seal(core, tokens["access_token"]),
                "access_token_expires_at": access_expires,
                "refresh_token": _seal(core, tokens.get("refresh_token")),
                "refresh_token_expires_at": refresh_expires,
                "refresh_lease_until": None,
                "updated_at": now,
            }
            existing = store.for_connection(claims.subject, request.connection_id)
            if existing is not None:
                # Connecting again (new scopes, another provider account) replaces the tokens, keeps the id.
                replaced_refresh = existing.refresh_token
                store.update(existing.id, **values)
                account_id = existing.id
            else:
                account_id = f"cac_{alnum(22)}"
                store.add(
                    {"id": account_id, "user_id": claims.subject, "connection_id": request.connection_id}
                    | values
                    | {"created_at": now}
                )
            account = store.by_id(account_id)
            assert account is not None
            self._audit(conn, claims, caller, "connected", connection=account.connection, account_id=account_id)
            connection = ConnectionStore(conn).get(request.connection_id)
        if replaced_refresh is not None and connection is not None:
            old = _open(core, replaced_refresh)
            if old is not None and old != tokens.get("refresh_token"):
                UpstreamClient(upstream_of(core, connection)).revoke(old, hint="refresh_token")
        return _account_wire(account)

    # disconnect
    def delete(self, claims: AccessClaims, account_id: str, caller: Caller) -> None:
        """`DELETE …/accounts/{id}`: revoke the tokens at the provider where it allows (RFC 7009), then forget."""
        if len(account_id) > 64 or not _ACCOUNT_ID.match(account_id):
            raise _invalid("The connected account id must look like cac_<letters and digits>.", "/id")
        core = self.core
        with core.db.read() as conn:
            account = ConnectedAccountStore(conn).get(claims.subject, account_id)
            connection = ConnectionStore(conn).get(account.connection_id) if account else None
        if account is None or connection is None:
            raise NotFound("Connected account not found.")
        revoked = _revoke_account(core, upstream_of(core, connection), account)
        with core.db.write() as conn:
            ConnectedAccountStore(conn).delete(claims.subject, account_id)
            self._audit(
                conn,
                claims,
                caller,
                "disconnected",
                connection=account.connection,
                account_id=account_id,
                revoked_upstream=revoked,
            )

    def _audit(
        self,
        conn: Connection,
        claims: AccessClaims,
        caller: Caller,
        event: str,
        *,
        outcome: str = "success",
        **details: Any,
    ) -> None:
        record(
            conn,
            self.core.clock,
            f"connected_accounts.{event}",
            caller=caller,
            outcome=outcome,
            user_id=claims.subject,
            client_id=claims.client_id,
            description=event.replace("_", " "),
            **details,
        )


def _revoke_account(core: Core, upstream: Upstream, account: ConnectedAccount) -> bool:
    """RFC 7009 §2.1: revoking the refresh token ends the grant (§2.1: the provider should revoke its access
    tokens too); without one, revoke the access token."""
    client = UpstreamClient(upstream)
    refresh = _open(core, account.refresh_token)
    if refresh is not None:
        return client.revoke(refresh, hint="refresh_token")
    access = _open(core, account.access_token)
    return client.revoke(access, hint="access_token") if access is not None else False


def revoke_connection_tokens(core: Core, connection: ConnectionRecord) -> int:
    """Before a connection is deleted: revoke every account's grant at the provider, best effort."""
    with core.db.read() as conn:
        accounts = ConnectedAccountStore(conn).find(None, connection_id=connection.id)
    upstream = upstream_of(core, connection)
    return sum(1 for account in accounts if _revoke_account(core, upstream, account))


# ---------------------------------------------------------------------------------------------------------------
# The Token Vault


@dataclass(frozen=True, slots=True)
class VaultToken:
    access_token: str
    expires_in: int
    scopes: list[str]
    upstream_user_id: str | None


class VaultError(Exception):
    """The vault cannot give a token for this user and connection."""


class NotConnected(VaultError):
    """No such connection, or the user has not connected an account with it."""


class RefreshRefused(VaultError):
    """The stored access token expired and the provider refused to refresh it: the user must connect again."""


class VaultUnavailable(VaultError):
    """The provider could not be reached to refresh the token; retrying later may work."""


def _usable(core: Core, account: ConnectedAccount, now: datetime) -> VaultToken | None:
    expires = account.access_token_expires_at
    if expires is None or expires - now <= EXPIRY_MARGIN:
        return None
    access = _open(core, account.access_token)
    if access is None:
        return None
    return VaultToken(access, int((expires - now).total_seconds()), list(account.scopes), account.upstream_user_id)


def vault_token(core: Core, *, user_id: str, connection: str, login_hint: str | None = None) -> VaultToken:
    """The provider's access token for this user's account on `connection`, refreshed upstream when expired."""
    with core.db.read() as conn:
        found = ConnectionStore(conn).by_name(connection)
        account = ConnectedAccountStore(conn).for_connection(user_id, found.id) if found else None
    if found is None or not found.connected_accounts_active:
        raise NotConnected(f"There is no connection named {connection} for connected accounts.")
    if account is None:
        raise NotConnected(f"The user has not connected an account with {connection}.")
    if login_hint is not None and account.upstream_user_id is not None and login_hint != account.upstream_user_id:
        raise NotConnected(f"The user has no account with {connection} for that login_hint.")
    deadline = time.monotonic() + REFRESH_WAIT_SECONDS
    while True:
        now = core.clock.now()
        usable = _usable(core, account, now)
        if usable is not None:
            return usable
        if _open(core, account.refresh_token) is None:
            raise RefreshRefused(
                f"The {connection} access token has expired and there is no refresh token to renew it."
            )
        with core.db.write() as conn:
            claimed = ConnectedAccountStore(conn).claim_refresh(account.id, now=now, until=now + REFRESH_LEASE)
        if claimed:
            # Read the row again under the lease: a refresh that finished since our first read has already spent
            # the refresh token we hold (the provider would see its reuse as theft), and left a fresh token.
            with core.db.read() as conn:
                current = ConnectedAccountStore(conn).by_id(account.id)
            if current is None:
                raise NotConnected(f"The user has disconnected the {connection} account.")
            usable = _usable(core, current, core.clock.now())
            if usable is not None:
                with core.db.write() as conn:
                    ConnectedAccountStore(conn).update(current.id, refresh_lease_until=None)
                return usable
            return _refresh(core, found, current)
        # Another request is refreshing this account: wait for its result rather than spend the token twice.
        if time.monotonic() > deadline:
            raise VaultUnavailable(f"A refresh of the {connection} token is still running; retry shortly.")
        time.sleep(0.05)
        with core.db.read() as conn:
            reloaded = ConnectedAccountStore(conn).by_id(account.id)
        if reloaded is None:
            raise NotConnected(f"The user has disconnected the {connection} account.")
        account = reloaded


def _refresh(core: Core, connection: ConnectionRecord, account: ConnectedAccount) -> VaultToken:
    refresh_token = _open(core, account.refresh_token)
    try:
        if refresh_token is None:
            raise UpstreamError("invalid_grant", "there is no readable refresh token")
        tokens = UpstreamClient(upstream_of(core, connection)).refresh(refresh_token)
    except (UpstreamError, UpstreamUnavailable) as exc:
        with core.db.write() as conn:
            ConnectedAccountStore(conn).update(account.id, refresh_lease_until=None)
        if isinstance(exc, UpstreamError):
            raise RefreshRefused(f"{connection.name} refused to refresh the token: {exc}") from exc
        raise VaultUnavailable(f"{connection.name} could not be reached to refresh the token.") from exc
    now = core.clock.now()
    expires = now + (timedelta(seconds=tokens.expires_in) if tokens.expires_in is not None else ASSUMED_LIFETIME)
    values: dict[str, Any] = {
        "access_token": _seal(core, tokens.access_token),
        "access_token_expires_at": expires,
        "refresh_lease_until": None,
        "updated_at": now,
    }
    if tokens.refresh_token is not None:  # rotated (OAuth 2.0 Security BCP §4.14.2): keep only the new one
        values["refresh_token"] = _seal(core, tokens.refresh_token)
        if tokens.refresh_token_expires_in is not None:
            values["refresh_token_expires_at"] = now + timedelta(seconds=tokens.refresh_token_expires_in)
    if tokens.scopes is not None:
        values["scopes"] = tokens.scopes
    with core.db.write() as conn:
        ConnectedAccountStore(conn).update(account.id, **values)
    scopes = tokens.scopes if tokens.scopes is not None else list(account.scopes)
    return VaultToken(tokens.access_token, int((expires - now).total_seconds()), scopes, account.upstream_user_id)


# ---------------------------------------------------------------------------------------------------------------
# Key rotation


@dataclass(frozen=True, slots=True)
class ResealReport:
    resealed: int  # values now sealed under the first (current) key
    unreadable: int  # values no configured key opens: left as they are


def reseal(core: Core) -> ResealReport:
    """Re-seal every vaulted token, connection secret and pending connect request under the current key, so an
    old key can be dropped from `secret_key` afterwards."""
    sealer = core.sealer
    resealed = unreadable = 0

    def again(value: str | None, purpose: str) -> str | None:
        nonlocal resealed, unreadable
        if value is None or not sealer.needs_reseal(value):
            return None
        try:
            plain = sealer.open(value, purpose=purpose)
        except SealError:
            unreadable += 1
            return None
        resealed += 1
        return sealer.seal(plain, purpose=purpose)

    with core.db.write() as conn:
        accounts = ConnectedAccountStore(conn)
        for account_id, access, refresh in accounts.sealed_rows():
            values = {
                name: new
                for name, new in (
                    ("access_token", again(access, VAULT_PURPOSE)),
                    ("refresh_token", again(refresh, VAULT_PURPOSE)),
                )
                if new is not None
            }
            if values:
                accounts.update(account_id, **values)
        connections = ConnectionStore(conn)
        for connection in connections.find():
            secret = again(connection.client_secret, SECRET_PURPOSE)
            if secret is not None:
                connections.update(connection.id, client_secret=secret)
        requests = ConnectRequestStore(conn)
        for request_id, state in requests.sealed_rows():
            sealed = again(state, REQUEST_PURPOSE)
            if sealed is not None:
                requests.update(request_id, state=sealed)
    return ResealReport(resealed=resealed, unreadable=unreadable)
