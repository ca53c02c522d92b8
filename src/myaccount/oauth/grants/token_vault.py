"""Token Vault: Auth0's federated-connection access token exchange, an RFC 8693 token exchange.

A confidential client presents one of the user's tokens from this server (`subject_token`, RFC 8693 §2.1): a
refresh token it holds (`urn:ietf:params:oauth:token-type:refresh_token`, what auth0-server-python sends) or an
access token issued to it (`…:access_token`). It names a `connection` and asks for
`http://auth0.com/oauth/token-type/federated-connection-access-token`; the answer (RFC 8693 §2.2.1) carries the
provider's access token from the user's connected account, refreshed upstream when it had expired.

Errors: a subject token that is not the client's, or no connected account → `invalid_grant`; the provider
refusing the refresh → `invalid_grant` (the user must connect again); the provider unreachable → 503
`temporarily_unavailable`.
"""

from collections.abc import Mapping
from typing import ClassVar

import jwt

from myaccount.audit import Caller, record
from myaccount.connected_accounts import VaultError, VaultUnavailable, vault_token
from myaccount.core import Core
from myaccount.oauth.errors import InvalidGrant, InvalidRequest, InvalidToken, OAuthError, UnauthorizedClient
from myaccount.oauth.issuance import REFRESH_PURPOSE
from myaccount.store.clients import Client
from myaccount.store.grants import GrantStore
from myaccount.store.users import UserStore

__all__ = ["ACCESS_TOKEN_TYPE", "GRANT_TYPE", "REFRESH_TOKEN_TYPE", "REQUESTED_TOKEN_TYPE", "exchange"]

GRANT_TYPE = "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token"
REQUESTED_TOKEN_TYPE = "http://auth0.com/oauth/token-type/federated-connection-access-token"
REFRESH_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:refresh_token"  # RFC 8693 §3
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # RFC 8693 §3


class TemporarilyUnavailable(OAuthError):
    error = "temporarily_unavailable"
    status: ClassVar[int] = 503


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"Missing required parameter: {name}")
    return value


def _subject(core: Core, client: Client, subject_token: str, token_type: str) -> str:
    """The user the subject token speaks for, if it is a live token of this server held by this client."""
    if token_type == REFRESH_TOKEN_TYPE:
        with core.db.read() as conn:
            stored = GrantStore(conn).refresh(core.fingerprint(subject_token, purpose=REFRESH_PURPOSE))
        now = core.clock.now()
        if (
            stored is None
            or stored.client_id != client.client_id
            or stored.revoked_at is not None
            or stored.rotated_at is not None
            or stored.expires_at <= now
            or stored.family_expires_at <= now
        ):
            raise InvalidGrant("The subject_token is not a valid refresh token of this client.")
        return stored.user_id
    if token_type == ACCESS_TOKEN_TYPE:
        try:
            audience = jwt.decode(subject_token, options={"verify_signature": False}).get("aud")
        except jwt.PyJWTError as exc:
            raise InvalidGrant("The subject_token is not a valid access token.") from exc
        first = audience[0] if isinstance(audience, list) and audience else audience
        if not isinstance(first, str):
            raise InvalidGrant("The subject_token is not a valid access token.")
        core.keyring.maybe_reload()
        try:
            # The audience was only read to ask for it; the signature, issuer and expiry are checked here.
            claims = core.tokens.verify_access_token(subject_token, audience=first)
        except InvalidToken as exc:
            raise InvalidGrant(f"The subject_token is not a valid access token: {exc.description}") from exc
        if not claims.is_user or claims.client_id != client.client_id:
            raise InvalidGrant("The subject_token was not issued to this client for a user.")
        return claims.subject
    raise InvalidRequest(f"Unsupported subject_token_type: use {REFRESH_TOKEN_TYPE} or {ACCESS_TOKEN_TYPE}.")


def exchange(core: Core, client: Client, params: Mapping[str, str], caller: Caller) -> dict[str, object]:
    """RFC 8693 §2.1/§2.2 for Auth0's federated-connection access token."""
    if client.is_public:
        # The vault hands out another service's credentials: only an authenticated client may ask.
        raise UnauthorizedClient("Token Vault exchanges require client authentication.")
    subject_token = _required(params, "subject_token")
    token_type = _required(params, "subject_token_type")
    requested = _required(params, "requested_token_type")
    connection = _required(params, "connection")
    login_hint = params.get("login_hint") or None
    if requested != REQUESTED_TOKEN_TYPE:
        raise InvalidRequest(f"requested_token_type must be {REQUESTED_TOKEN_TYPE}.")
    if len(connection) > 128 or (login_hint is not None and len(login_hint) > 255):
        raise InvalidRequest("connection or login_hint is too long.")
    user_id = _subject(core, client, subject_token, token_type)
    with core.db.read() as conn:
        user = UserStore(conn).get(user_id)
    if user is None or user.blocked:
        raise InvalidGrant("The user is blocked or no longer exists.")
    try:
        vaulted = vault_token(core, user_id=user_id, connection=connection, login_hint=login_hint)
    except VaultError as exc:
        with core.db.write() as conn:
            record(
                conn,
                core.clock,
                "token_vault.exchange",
                caller=caller,
                outcome="failure",
                user_id=user_id,
                client_id=client.client_id,
                description=str(exc),
                connection=connection,
            )
        if isinstance(exc, VaultUnavailable):
            raise TemporarilyUnavailable(str(exc)) from exc
        # NotConnected, RefreshRefused: this grant cannot give a token until the user connects (again).
        raise InvalidGrant(str(exc)) from exc
    with core.db.write() as conn:
        record(
            conn,
            core.clock,
            "token_vault.exchange",
            caller=caller,
            user_id=user_id,
            client_id=client.client_id,
            description=f"Federated connection access token for {connection}",
            connection=connection,
        )
    return {
        "access_token": vaulted.access_token,
        "issued_token_type": REQUESTED_TOKEN_TYPE,
        "token_type": "Bearer",
        "expires_in": vaulted.expires_in,
        "scope": " ".join(vaulted.scopes),
    }
