"""The end of a sign-in made without a browser (the password and passkey grants): the login policy (Actions,
MFA, access), the login recorded and audited, then the tokens, or `mfa_required` with an mfa_token."""

from collections.abc import Sequence
from typing import Any

from myaccount.audit import Caller, record
from myaccount.core import Core
from myaccount.oauth import login_policy
from myaccount.oauth.issuance import Authentication, persist_issue, prepare_issue
from myaccount.store.clients import Client
from myaccount.store.users import User, UserStore

__all__ = ["DATABASE_CONNECTION", "finish_direct_login"]

DATABASE_CONNECTION = "Username-Password-Authentication"


def finish_direct_login(
    core: Core,
    *,
    user: User,
    client: Client,
    audience: str | None,
    requested: Sequence[str],
    authn: Authentication,
    caller: Caller,
    protocol: str,
    grant_label: str,
    success: str,
    mfa_pending: str,
    mfa_in_this_login: bool = False,
    **details: Any,
) -> dict[str, object]:
    """`success` and `mfa_pending` describe the audit event of either outcome; `details` go into it."""
    with core.db.read() as conn:
        verdict = login_policy.check(
            core,
            conn,
            user=user,
            client=client,
            audience=audience,
            requested=requested,
            authn=authn,
            interactive=False,
            protocol=protocol,
            caller=caller,
            mfa_in_this_login=mfa_in_this_login,
        )
    with core.db.write() as conn:
        UserStore(conn).record_login(user.id, now=authn.auth_time, ip=caller.ip)
        record(
            conn,
            core.clock,
            "s" if not verdict.mfa_required else "gd_auth_started",
            caller=caller,
            user_id=user.id,
            client_id=client.client_id,
            connection=DATABASE_CONNECTION,
            description=success if not verdict.mfa_required else mfa_pending,
            **details,
        )
    login_policy.raise_for(core, verdict, user=user, client=client, audience=audience, requested=requested, authn=authn)
    with core.db.read() as conn:  # signing outside the write transaction (SQLite: its one write lock)
        prepared = prepare_issue(
            core,
            conn,
            user=user,
            client=client,
            audience=audience,
            requested=requested,
            authn=authn,
            caller=caller,
            grant_label=grant_label,
            extra_access_claims=verdict.access_claims,
            extra_id_claims=verdict.id_claims,
        )
    with core.db.write() as conn:
        return persist_issue(core, conn, prepared, caller=caller).body
