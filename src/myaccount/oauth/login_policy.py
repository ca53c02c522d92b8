"""Applying the sign-in policy (policy/mfa.py) in the token grants, and Auth0's `mfa_required` answer.

`mfa_required` carries an `mfa_token`: an auth_session holding what the grant would have issued, so the MFA API
(`/mfa/challenge` and the mfa-* grants) can finish the sign-in once a second factor checks out.
"""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection

from myaccount import auth_sessions
from myaccount.audit import Caller
from myaccount.core import Core
from myaccount.oauth.errors import AccessDenied, MfaRequired, UnmetAuthenticationRequirements
from myaccount.oauth.issuance import Authentication
from myaccount.policy.mfa import LoginContext, Verdict, evaluate
from myaccount.store.clients import Client
from myaccount.store.users import User
from myaccount.timefmt import iso_ms

__all__ = ["MFA_TOKEN_TTL", "check", "event_user", "raise_for"]

MFA_TOKEN_TTL = timedelta(minutes=10)
_CHALLENGE_NAMES = {
    "totp": "otp",
    "phone": "phone",
    "email": "email",
    "push-notification": "push-notification",
    "recovery-code": "recovery-code",
    "webauthn-roaming": "webauthn-roaming",
    "webauthn-platform": "webauthn-platform",
    "passkey": "webauthn-platform",
}


def event_user(user: User) -> dict[str, Any]:
    return {
        "user_id": user.id,
        "email": user.email,
        "email_verified": user.email_verified,
        "name": user.name,
        "nickname": user.nickname,
        "app_metadata": dict(user.app_metadata),
        "user_metadata": dict(user.user_metadata),
        "logins_count": user.logins_count,
        "created_at": iso_ms(user.created_at),
    }


def check(
    core: Core,
    conn: Connection,
    *,
    user: User,
    client: Client,
    audience: str | None,
    requested: Sequence[str],
    authn: Authentication,
    interactive: bool,
    protocol: str,
    caller: Caller,
    acr_values: Sequence[str] = (),
    mfa_in_this_login: bool = False,
) -> Verdict:
    ctx = LoginContext(
        user_id=user.id,
        user=event_user(user),
        client_id=client.client_id,
        client_name=client.name,
        audience=audience,
        scopes=tuple(requested),
        amr=authn.amr,
        auth_time=authn.auth_time,
        mfa_time=authn.mfa_time,
        now=core.clock.now(),
        interactive=interactive,
        protocol=protocol,
        acr_values=tuple(acr_values),
        ip=caller.ip,
        user_agent=caller.user_agent,
        mfa_in_this_login=mfa_in_this_login,
    )
    return evaluate(conn, ctx, my_account_audience=core.settings.my_account_audience, actions=core.actions)


def raise_for(
    core: Core,
    verdict: Verdict,
    *,
    user: User,
    client: Client,
    audience: str | None,
    requested: Sequence[str],
    authn: Authentication,
    family_id: str | None = None,
) -> None:
    """Turn a verdict into the grant's error, if it calls for one. Opens the mfa_token session when needed.

    Call it outside any open transaction: the mfa_token is written and committed here, before the error is raised.
    """
    if verdict.denied:
        raise AccessDenied(verdict.denied)
    if verdict.unmet:
        raise UnmetAuthenticationRequirements(
            "The authentication requirements of this API are not met; sign in again interactively."
        )
    if not verdict.mfa_required:
        return
    state = {
        "audience": audience,
        "scope": list(requested),
        "amr": list(authn.amr),
        "auth_time": authn.auth_time.isoformat(),
        "session_id": authn.session_id,
        "factors": list(verdict.factors),
        "access_claims": verdict.access_claims,
        "id_claims": verdict.id_claims,
        "family_id": family_id,
    }
    with core.db.write() as conn:
        token = auth_sessions.open_session(
            core, conn, user_id=user.id, client_id=client.client_id, kind="mfa", state=state, ttl=MFA_TOKEN_TTL
        )
    names = []
    for factor in verdict.factors:
        name = _CHALLENGE_NAMES.get(factor, factor)
        if {"type": name} not in names:
            names.append({"type": name})
    requirements = {"enroll": names or [{"type": "otp"}]} if verdict.enroll else {"challenge": names}
    raise MfaRequired(
        "Multifactor authentication required", extra={"mfa_token": token, "mfa_requirements": requirements}
    )
