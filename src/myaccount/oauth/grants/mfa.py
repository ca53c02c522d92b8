"""Auth0's MFA API grants: finish a sign-in that answered `mfa_required`, with the `mfa_token` and a second factor.

- `http://auth0.com/oauth/grant-type/mfa-otp`: `otp` from an authenticator app.
- `http://auth0.com/oauth/grant-type/mfa-oob`: `oob_code` from `/mfa/challenge`, plus `binding_code` (the code
  sent by email or SMS); for push, no binding code: the answer is `authorization_pending` until approved.
- `http://auth0.com/oauth/grant-type/mfa-recovery-code`: `recovery_code`; the answer carries a new one.

The mfa_token allows five attempts; each is reserved before the factor is checked.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from myaccount import auth_sessions
from myaccount.audit import Caller, record
from myaccount.core import Core
from myaccount.mfa import CodeCheckFailed, MfaError, SecondFactors
from myaccount.oauth.errors import InvalidGrant, InvalidRequest, OAuthError, TooManyRequests
from myaccount.oauth.issuance import Authentication, persist_issue, prepare_issue
from myaccount.store.clients import Client
from myaccount.store.grants import GrantStore
from myaccount.store.users import UserStore

__all__ = [
    "MFA_OOB",
    "MFA_OTP",
    "MFA_RECOVERY_CODE",
    "exchange_oob",
    "exchange_otp",
    "exchange_recovery_code",
    "load_mfa_session",
]

MFA_OTP = "http://auth0.com/oauth/grant-type/mfa-otp"
MFA_OOB = "http://auth0.com/oauth/grant-type/mfa-oob"
MFA_RECOVERY_CODE = "http://auth0.com/oauth/grant-type/mfa-recovery-code"
MAX_ATTEMPTS = 5


class AuthorizationPending(OAuthError):
    error = "authorization_pending"


class ExpiredToken(OAuthError):
    error = "expired_token"


def load_mfa_session(core: Core, client: Client, raw: str | None) -> auth_sessions.OpenSession:
    if not raw:
        raise InvalidRequest("Missing required parameter: mfa_token")
    with core.db.read() as conn:
        opened = auth_sessions.load(core, conn, raw)
    if opened is None or opened.record.kind != "mfa" or opened.record.client_id != client.client_id:
        raise ExpiredToken("The mfa_token is invalid or expired.")
    return opened


def _attempt(core: Core, opened: auth_sessions.OpenSession, caller: Caller, client: Client) -> None:
    if not auth_sessions.reserve_attempt(core, opened.record.id, limit=MAX_ATTEMPTS):
        with core.db.write() as conn:
            record(
                conn,
                core.clock,
                "gd_otp_rate_limit_exceed",
                caller=caller,
                outcome="failure",
                user_id=opened.record.user_id,
                client_id=client.client_id,
                description="Too many failed second-factor attempts",
            )
        raise TooManyRequests("Too many failed attempts.")


def _failed(core: Core, opened: auth_sessions.OpenSession, caller: Caller, client: Client, exc: MfaError) -> None:
    with core.db.write() as conn:
        record(
            conn,
            core.clock,
            "gd_auth_failed",
            caller=caller,
            outcome="failure",
            user_id=opened.record.user_id,
            client_id=client.client_id,
            description=exc.detail,
        )
    raise InvalidGrant(exc.detail) from exc


def _finish(
    core: Core,
    client: Client,
    opened: auth_sessions.OpenSession,
    caller: Caller,
    factor: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, object]:
    state = opened.state
    now = core.clock.now()
    # The tokens are made and signed from reads; the write transaction then consumes the mfa_token (conditionally:
    # of concurrent uses exactly one does) and stores what was issued. On SQLite a write transaction holds the
    # database's one write lock, which must not wait on signatures.
    with core.db.read() as conn:
        user = UserStore(conn).get(opened.record.user_id or "")
        if user is None or user.blocked:
            raise InvalidGrant("user is blocked" if user else "Unknown user.")
        amr = tuple(dict.fromkeys([*state.get("amr", []), "mfa", factor]))
        prepared = prepare_issue(
            core,
            conn,
            user=user,
            client=client,
            audience=state.get("audience"),
            requested=list(state.get("scope", [])),
            authn=Authentication(
                auth_time=datetime.fromisoformat(state["auth_time"]),
                amr=amr,
                mfa_time=now,
                session_id=state.get("session_id"),
            ),
            caller=caller,
            grant_label="mfa",
            extra_access_claims=state.get("access_claims") or {},
            extra_id_claims=state.get("id_claims") or {},
        )
    with core.db.write() as conn:
        if not auth_sessions.consume(core, conn, opened.record):
            raise ExpiredToken("The mfa_token is invalid or expired.")
        if state.get("family_id"):
            # The refresh token that needed a second factor is replaced by the tokens issued now.
            GrantStore(conn).revoke_family(str(state["family_id"]), now=now)
        record(
            conn,
            core.clock,
            "gd_auth_succeed",
            caller=caller,
            user_id=user.id,
            client_id=client.client_id,
            description=f"Second factor accepted ({factor})",
        )
        issued = persist_issue(core, conn, prepared, caller=caller)
    return {**issued.body, **(extra or {})}


def _allowed(opened: auth_sessions.OpenSession, type_: str) -> None:
    factors = opened.state.get("factors") or []
    if factors and type_ not in factors:
        raise InvalidGrant(f"This sign-in requires one of: {', '.join(factors)}.")


def exchange_otp(core: Core, client: Client, params: Mapping[str, str], caller: Caller) -> dict[str, object]:
    opened = load_mfa_session(core, client, params.get("mfa_token"))
    otp = params.get("otp")
    if not otp:
        raise InvalidRequest("Missing required parameter: otp")
    _allowed(opened, "totp")
    _attempt(core, opened, caller, client)
    try:
        SecondFactors(core).check_totp(opened.record.user_id or "", otp)
    except MfaError as exc:
        _failed(core, opened, caller, client, exc)
    return _finish(core, client, opened, caller, "otp")


def exchange_oob(core: Core, client: Client, params: Mapping[str, str], caller: Caller) -> dict[str, object]:
    opened = load_mfa_session(core, client, params.get("mfa_token"))
    oob_code = params.get("oob_code")
    if not oob_code:
        raise InvalidRequest("Missing required parameter: oob_code")
    key = core.fingerprint(oob_code, purpose="oob-code")
    challenge = (opened.state.get("oob") or {}).get(key)
    if not isinstance(challenge, dict):
        raise InvalidGrant("Invalid oob_code.")
    if challenge.get("push_challenge"):
        from myaccount import push

        status = push.challenge_status(core, str(challenge["push_challenge"]))
        if status == "pending":
            raise AuthorizationPending("Authorization pending: approve the request on your device.")
        if status != "approved":
            with core.db.write() as conn:
                record(
                    conn,
                    core.clock,
                    "gd_auth_rejected",
                    caller=caller,
                    outcome="failure",
                    user_id=opened.record.user_id,
                    client_id=client.client_id,
                    description=f"Push {status}",
                )
            raise InvalidGrant(f"The push notification was {status}.")
        return _finish(core, client, opened, caller, "push")
    binding = params.get("binding_code")
    if not binding:
        raise InvalidRequest("Missing required parameter: binding_code")
    _attempt(core, opened, caller, client)
    try:
        SecondFactors(core).check_code(dict(challenge["code"]), binding)
    except CodeCheckFailed as exc:
        _failed(core, opened, caller, client, exc)
    return _finish(core, client, opened, caller, "oob")


def exchange_recovery_code(core: Core, client: Client, params: Mapping[str, str], caller: Caller) -> dict[str, object]:
    opened = load_mfa_session(core, client, params.get("mfa_token"))
    code = params.get("recovery_code")
    if not code:
        raise InvalidRequest("Missing required parameter: recovery_code")
    _attempt(core, opened, caller, client)
    factors = SecondFactors(core)
    user_id = opened.record.user_id or ""
    try:
        factors.use_recovery_code(user_id, code)
    except MfaError as exc:
        with core.db.write() as conn:
            record(
                conn,
                core.clock,
                "gd_recovery_failed",
                caller=caller,
                outcome="failure",
                user_id=user_id,
                client_id=client.client_id,
                description=exc.detail,
            )
        raise InvalidGrant(exc.detail) from exc
    new_code = factors.new_recovery_code(user_id)
    return _finish(core, client, opened, caller, "recovery-code", {"recovery_code": new_code})
