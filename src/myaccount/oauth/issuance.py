"""Minting a token response for a user: access token, ID token, refresh token, with the policy applied.

Every user-facing grant (authorization code, refresh token, password, passkey) ends here, so the scope rules,
the token shapes and the refresh-token family bookkeeping exist once.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from myaccount.audit import Caller, record
from myaccount.core import Core
from myaccount.ids import alnum, token
from myaccount.oauth.errors import AccessDenied, InvalidRequest, InvalidScope
from myaccount.policy.scopes import OIDC_SCOPES, api_scopes
from myaccount.store.clients import Client, ClientStore, ResourceServer
from myaccount.store.grants import GrantStore, RefreshToken
from myaccount.store.users import User, UserStore
from myaccount.timefmt import unix

__all__ = [
    "REFRESH_PURPOSE",
    "Authentication",
    "Issued",
    "Prepared",
    "persist_issue",
    "prepare_issue",
    "resolve_api",
    "user_claims",
]

REFRESH_PURPOSE = "refresh-token"

_PROFILE_CLAIMS = ("name", "nickname", "picture", "given_name", "family_name")


@dataclass(frozen=True, slots=True)
class Authentication:
    """How the user proved who they are, carried from login through every refresh."""

    auth_time: datetime
    amr: tuple[str, ...]
    mfa_time: datetime | None = None
    session_id: str | None = None


@dataclass(frozen=True, slots=True)
class Issued:
    body: dict[str, Any]
    access_token_jti: str
    refresh_family_id: str | None
    refresh_token_id: str | None


@dataclass(frozen=True, slots=True)
class Prepared:
    """Tokens made and signed, not yet stored: `persist_issue` stores the refresh token and the audit event."""

    body: dict[str, Any]
    access_token_jti: str
    refresh: RefreshToken | None
    log_type: str
    user_id: str
    client_id: str
    grant_label: str
    audience: str | None
    scope: str

    @property
    def refresh_token_id(self) -> str | None:
        return self.refresh.id if self.refresh else None


def resolve_api(store: ClientStore, audience: str | None) -> ResourceServer | None:
    if not audience:
        return None
    api = store.resource_server(audience)
    if api is None:
        raise AccessDenied(f"Service not found: {audience}")
    return api


def user_claims(user: User, scopes: set[str] | frozenset[str]) -> dict[str, Any]:
    """OIDC Core §5.4: standard claims by scope."""
    claims: dict[str, Any] = {}
    if "profile" in scopes:
        for name in _PROFILE_CLAIMS:
            claims[name] = getattr(user, name)
        claims["nickname"] = user.nickname or (user.email.split("@")[0] if user.email else None)
        claims["name"] = user.name or user.email
        claims["updated_at"] = user.updated_at.isoformat().replace("+00:00", "Z")
    if "email" in scopes:
        claims["email"] = user.email
        claims["email_verified"] = user.email_verified
    if "phone" in scopes and user.phone_number:
        claims["phone_number"] = user.phone_number
    return {k: v for k, v in claims.items() if v is not None}


def prepare_issue(
    core: Core,
    conn: Connection,
    *,
    user: User,
    client: Client,
    audience: str | None,
    requested: Sequence[str],
    authn: Authentication,
    caller: Caller,
    nonce: str | None = None,
    family: RefreshToken | None = None,
    grant_label: str,
    extra_access_claims: dict[str, Any] | None = None,
    extra_id_claims: dict[str, Any] | None = None,
) -> Prepared:
    """The scopes to grant and the signed tokens, from reads only: this runs outside any write transaction (the
    RS256 signatures take milliseconds, and on SQLite a write transaction holds the database's one write lock).
    Nothing is valid until `persist_issue` has stored the refresh token in a committed transaction."""
    settings, now = core.settings, core.clock.now()
    clients = ClientStore(conn)
    api = resolve_api(clients, audience)
    oidc = [s for s in requested if s in OIDC_SCOPES]
    granted_api: frozenset[str] = frozenset()
    if api is not None:
        permissions = UserStore(conn).permissions(user.id, api.identifier) if api.enforce_policies else None
        consent_required = not (client.is_first_party and api.skip_consent_for_verifiable_first_party_clients)
        decision = api_scopes(
            requested=requested,
            api=api,
            subject_type="user",
            grant=clients.grant(client.client_id, api.identifier, "user"),
            permissions=permissions,
            consented=clients.consent(user.id, client.client_id, api.identifier) if consent_required else None,
            consent_required=consent_required,
        )
        granted_api = decision.granted - decision.needs_consent
    offline_allowed = "refresh_token" in client.grant_types and (api is None or api.allow_offline_access)
    if "offline_access" in oidc and not offline_allowed:
        oidc.remove("offline_access")
    scope_list = oidc + sorted(granted_api)
    scope = " ".join(scope_list)
    if not scope_list and requested:
        raise InvalidScope("None of the requested scopes can be granted.")

    access_claims: dict[str, Any] = dict(extra_access_claims or {})
    if caller.dpop_jkt:
        # RFC 9449 §6.1: the token is bound to the proof's key.
        access_claims["cnf"] = {"jkt": caller.dpop_jkt}
    elif api is not None and (api.proof_of_possession or {}).get("required"):
        raise InvalidRequest(f"{api.identifier} accepts only DPoP-bound tokens: send a DPoP proof.")
    if grant_label in ("password", "password-realm"):
        access_claims["gty"] = "password"
    # RFC 9068 §2.2.1: when the user last authenticated (a later second factor counts), for recent-auth checks.
    last_auth = max(authn.auth_time, authn.mfa_time) if authn.mfa_time else authn.auth_time
    access_claims["auth_time"] = unix(last_auth)
    if api is not None and api.enforce_policies and api.token_dialect == "access_token_authz":
        access_claims["permissions"] = sorted(granted_api)
    if api is not None:
        ttl = timedelta(seconds=api.token_lifetime)
    else:
        ttl = settings.access_token_ttl
    access = core.tokens.access_token(
        subject=user.id,
        audience=api.identifier if api else settings.userinfo_url,
        userinfo_audience=settings.userinfo_url if api is not None and "openid" in oidc else None,
        client_id=client.client_id,
        scope=scope,
        ttl=ttl,
        extra=access_claims,
    )
    body: dict[str, Any] = {
        "access_token": access.token,
        "token_type": "DPoP" if caller.dpop_jkt else "Bearer",
        "expires_in": access.expires_in,
        "scope": scope,
    }
    if "openid" in oidc:
        id_claims: dict[str, Any] = user_claims(user, set(oidc))
        id_claims.update(
            nonce=nonce,
            sid=authn.session_id,
            auth_time=unix(authn.auth_time),
            amr=list(authn.amr) if "mfa" in authn.amr else None,
        )
        id_claims.update(extra_id_claims or {})
        body["id_token"] = core.tokens.id_token(
            subject=user.id, client_id=client.client_id, ttl=settings.id_token_ttl, claims=id_claims
        )
    new: RefreshToken | None = None
    if "offline_access" in oidc:
        raw = token(48)
        family_id = family.family_id if family else alnum(24)
        family_expires = family.family_expires_at if family else now + settings.refresh_token_absolute_ttl
        new = RefreshToken(
            id=alnum(24),
            token_hash=core.fingerprint(raw, purpose=REFRESH_PURPOSE),
            family_id=family_id,
            client_id=client.client_id,
            user_id=user.id,
            audience=api.identifier if api else None,
            scope=scope,
            amr=list(authn.amr),
            auth_time=authn.auth_time,
            mfa_time=authn.mfa_time,
            session_id=authn.session_id,
            # RFC 9449 §5: a public client's refresh token is bound to its DPoP key (confidential clients
            # already prove themselves at every refresh).
            dpop_jkt=caller.dpop_jkt if client.is_public else None,
            created_at=now,
            expires_at=min(now + settings.refresh_token_idle_ttl, family_expires),
            family_expires_at=family_expires,
        )
        body["refresh_token"] = raw
    return Prepared(
        body=body,
        access_token_jti=access.jti,
        refresh=new,
        log_type=_LOG_TYPES.get(grant_label, "seacft"),
        user_id=user.id,
        client_id=client.client_id,
        grant_label=grant_label,
        audience=api.identifier if api else None,
        scope=scope,
    )


def persist_issue(core: Core, conn: Connection, prepared: Prepared, *, caller: Caller) -> Issued:
    """Store what `prepare_issue` made (the refresh token, the audit event), in the caller's write transaction."""
    if prepared.refresh is not None:
        GrantStore(conn).add_refresh(prepared.refresh)
    record(
        conn,
        core.clock,
        prepared.log_type,
        caller=caller,
        user_id=prepared.user_id,
        client_id=prepared.client_id,
        description=f"Tokens issued ({prepared.grant_label})",
        audience=prepared.audience,
        scope=prepared.scope,
    )
    return Issued(
        body=prepared.body,
        access_token_jti=prepared.access_token_jti,
        refresh_family_id=prepared.refresh.family_id if prepared.refresh else None,
        refresh_token_id=prepared.refresh_token_id,
    )


# Auth0 tenant log event codes, so `/api/v2/logs` reads like Auth0's.
_LOG_TYPES = {
    "authorization_code": "seacft",
    "refresh_token": "sertft",
    "password": "sepft",
    "password-realm": "sepft",
    "webauthn": "sepkft",
}
