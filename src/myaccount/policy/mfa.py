"""Who must present a second factor, and when: tenant MFA policy < My Account Default Policy < Actions.

- Tenant policy (`never` | `always` | `when_enrolled`), and `acr_values` asking for the multi-factor policy: met
  once the authentication carries a second factor.
- Default Policy (tenant switch, off by default) for the My Account audience: a user with an enrolled factor
  must have completed one within 15 minutes, at login and at every refresh; a user with none gets access, but
  a refresh more than 15 minutes after login answers `unmet_authentication_requirements`.
- Actions: `challenge_with` requires one of the named factors now, overriding both.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from myaccount.actions import Actions
from myaccount.store.methods import MethodStore
from myaccount.store.tenant import TenantSettingsStore
from myaccount.timefmt import unix

__all__ = ["MULTI_FACTOR_ACR", "LoginContext", "SECOND_FACTORS", "Verdict", "evaluate", "second_factors"]

MULTI_FACTOR_ACR = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
DEFAULT_POLICY_WINDOW = timedelta(minutes=15)
SECOND_FACTORS = (
    "totp",
    "push-notification",
    "phone",
    "email",
    "webauthn-roaming",
    "webauthn-platform",
    "passkey",
    "recovery-code",
)
MFA_POLICY_KEY = "mfa_policy"
DEFAULT_POLICY_KEY = "my_account_default_policy"


@dataclass(frozen=True, slots=True)
class LoginContext:
    user_id: str
    user: dict[str, Any]  # event.user
    client_id: str
    client_name: str
    audience: str | None
    scopes: tuple[str, ...]
    amr: tuple[str, ...]
    auth_time: datetime
    mfa_time: datetime | None
    now: datetime
    interactive: bool
    protocol: str  # oidc-basic-profile | oauth2-refresh-token | oauth2-password | oauth2-webauthn …
    acr_values: tuple[str, ...] = ()
    ip: str | None = None
    user_agent: str | None = None
    mfa_in_this_login: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    denied: str | None = None
    mfa_required: bool = False
    factors: tuple[str, ...] = ()  # method types that may satisfy the requirement (empty: must enroll one)
    enroll: bool = False
    unmet: bool = False
    access_claims: dict[str, Any] = field(default_factory=dict)
    id_claims: dict[str, Any] = field(default_factory=dict)


def second_factors(conn: Connection, user_id: str) -> list[str]:
    """The user's confirmed second-factor types, in the order a challenge page offers them."""
    present = {m.type for m in MethodStore(conn).list(user_id) if m.confirmed}
    return [t for t in SECOND_FACTORS if t in present]


def tenant_mfa_policy(conn: Connection) -> str:
    value = TenantSettingsStore(conn).get(MFA_POLICY_KEY, "never")
    return value if value in ("never", "always", "when_enrolled") else "never"


def default_policy_enabled(conn: Connection) -> bool:
    return bool(TenantSettingsStore(conn).get(DEFAULT_POLICY_KEY, False))


def _event(ctx: LoginContext) -> dict[str, Any]:
    return {
        "user": dict(ctx.user),
        "client": {"client_id": ctx.client_id, "name": ctx.client_name},
        "request": {"ip": ctx.ip, "user_agent": ctx.user_agent},
        "authentication": {
            "methods": [{"name": m, "timestamp": unix(ctx.auth_time)} for m in ctx.amr]
            + ([{"name": "mfa", "timestamp": unix(ctx.mfa_time)}] if ctx.mfa_time else [])
        },
        "transaction": {
            "requested_scopes": list(ctx.scopes),
            "protocol": ctx.protocol,
            "acr_values": list(ctx.acr_values),
        },
        "resource_server": {"identifier": ctx.audience} if ctx.audience else None,
        "stats": {"logins_count": ctx.user.get("logins_count", 0)},
    }


def evaluate(conn: Connection, ctx: LoginContext, *, my_account_audience: str, actions: Actions) -> Verdict:
    factors = second_factors(conn, ctx.user_id)
    recent_mfa = ctx.mfa_time is not None and ctx.now - ctx.mfa_time <= DEFAULT_POLICY_WINDOW
    required, satisfied, unmet = False, True, False
    allowed: tuple[str, ...] = tuple(factors)

    policy = tenant_mfa_policy(conn)
    if policy == "always" or (policy == "when_enrolled" and factors) or MULTI_FACTOR_ACR in ctx.acr_values:
        # A refresh inherits the second factor of the login it descends from.
        required, satisfied = True, ctx.mfa_time is not None

    if ctx.audience == my_account_audience and default_policy_enabled(conn):
        if factors:
            required, satisfied = True, recent_mfa
        elif not ctx.interactive and ctx.now - ctx.auth_time > DEFAULT_POLICY_WINDOW:
            unmet = True

    result = actions.run(_event(ctx)) if actions else None
    if result is not None:
        if result.denied:
            return Verdict(denied=result.denied)
        if result.challenge is not None:
            required = True
            satisfied = ctx.mfa_in_this_login if ctx.interactive else recent_mfa
            allowed = tuple(t for t in factors if t in result.challenge)
            unmet = False
            if not allowed:
                # The action asks for factors the user has not enrolled: they must enroll one first.
                return Verdict(
                    mfa_required=True,
                    enroll=True,
                    factors=result.challenge,
                    access_claims=result.access_claims,
                    id_claims=result.id_claims,
                )
    claims = (result.access_claims, result.id_claims) if result else ({}, {})
    if unmet:
        return Verdict(unmet=True, access_claims=claims[0], id_claims=claims[1])
    if required and not satisfied:
        return Verdict(
            mfa_required=True, factors=allowed, enroll=not allowed, access_claims=claims[0], id_claims=claims[1]
        )
    return Verdict(access_claims=claims[0], id_claims=claims[1])
