"""RFC 6749 §6 with rotation (OAuth 2.0 Security BCP §4.14.2): every use returns a new refresh token; using an
already-rotated one is reuse, and revokes the whole family."""

from collections.abc import Mapping

from myaccount.audit import Caller, record
from myaccount.core import Core
from myaccount.oauth import login_policy
from myaccount.oauth.errors import InvalidDpopProof, InvalidGrant, InvalidScope
from myaccount.oauth.issuance import REFRESH_PURPOSE, Authentication, persist_issue, prepare_issue
from myaccount.policy.mfa import Verdict
from myaccount.policy.scopes import split_scope
from myaccount.store.clients import Client
from myaccount.store.grants import GrantStore
from myaccount.store.users import User, UserStore

__all__ = ["exchange"]

GRANT_TYPE = "refresh_token"


def exchange(core: Core, client: Client, params: Mapping[str, str], caller: Caller) -> dict[str, object]:
    raw = params.get("refresh_token")
    if not raw:
        raise InvalidGrant("Missing required parameter: refresh_token")
    now = core.clock.now()
    token_hash = core.fingerprint(raw, purpose=REFRESH_PURPOSE)
    try:
        return _rotate(core, client, params, caller, token_hash)
    except _Reused:
        pass
    except _PolicyStop as stop:
        login_policy.raise_for(
            core,
            stop.verdict,
            user=stop.user,
            client=client,
            audience=stop.audience,
            requested=stop.requested,
            authn=stop.authn,
            family_id=stop.family_id,
        )
        raise AssertionError("raise_for raises for a stopping verdict") from None
    # Reuse (or a lost race, which is indistinguishable): revoke the family in its own transaction.
    with core.db.write() as conn:
        grants = GrantStore(conn)
        stored = grants.refresh(token_hash)
        if stored is not None:
            grants.revoke_family(stored.family_id, now=now)
            record(
                conn,
                core.clock,
                "ferrt",
                caller=caller,
                outcome="failure",
                user_id=stored.user_id,
                client_id=client.client_id,
                description="Refresh token reuse detected; family revoked",
                family_id=stored.family_id,
            )
    raise InvalidGrant("Unknown or invalid refresh token.")


class _Reused(Exception):
    """The token was rotated already (or revoked, or lost a race): raised inside the rotation transaction so that
    it rolls back whole."""


class _PolicyStop(Exception):
    """The sign-in policy stops this refresh (MFA, unmet requirements, an action's deny): leave the transaction
    first, then answer."""

    def __init__(
        self,
        verdict: Verdict,
        user: User,
        audience: str | None,
        requested: list[str],
        authn: Authentication,
        family_id: str,
    ) -> None:
        super().__init__("policy")
        self.verdict, self.user, self.audience = verdict, user, audience
        self.requested, self.authn, self.family_id = requested, authn, family_id


def _rotate(
    core: Core, client: Client, params: Mapping[str, str], caller: Caller, token_hash: str
) -> dict[str, object]:
    now = core.clock.now()
    # Checks, policy and the new tokens (two RS256 signatures) from reads; the write transaction then only rotates
    # and stores. On SQLite a write transaction holds the database's one write lock: signing inside it made every
    # refresh of every user wait for the others' signatures.
    with core.db.read() as conn:
        grants = GrantStore(conn)
        stored = grants.refresh(token_hash)
        if stored is None or stored.client_id != client.client_id:
            raise InvalidGrant("Unknown or invalid refresh token.")
        if stored.revoked_at is not None:
            raise InvalidGrant("Unknown or invalid refresh token.")
        if stored.rotated_at is not None:
            raise _Reused
        if stored.expires_at <= now or stored.family_expires_at <= now:
            raise InvalidGrant("Unknown or invalid refresh token.")
        if stored.dpop_jkt and stored.dpop_jkt != caller.dpop_jkt:
            raise InvalidDpopProof("This refresh token is bound to a DPoP key: send a proof signed with that key.")
        user = UserStore(conn).get(stored.user_id)
        if user is None or user.blocked:
            raise InvalidGrant("user is blocked" if user else "Unknown or invalid refresh token.")
        original = split_scope(stored.scope)
        requested = split_scope(params.get("scope")) or original
        if not set(requested) <= set(original):
            raise InvalidScope("The requested scope exceeds the scope originally granted.")
        if "offline_access" in original and "offline_access" not in requested:
            requested.append("offline_access")  # rotation: the new token replaces the old one
        authn = Authentication(
            auth_time=stored.auth_time,
            amr=tuple(stored.amr),
            mfa_time=stored.mfa_time,
            session_id=stored.session_id,
        )
        verdict = login_policy.check(
            core,
            conn,
            user=user,
            client=client,
            audience=stored.audience,
            requested=requested,
            authn=authn,
            interactive=False,
            protocol="oauth2-refresh-token",
            caller=caller,
        )
        if verdict.denied or verdict.unmet or verdict.mfa_required:
            raise _PolicyStop(verdict, user, stored.audience, requested, authn, stored.family_id)
        prepared = prepare_issue(
            core,
            conn,
            user=user,
            client=client,
            audience=stored.audience,
            requested=requested,
            authn=authn,
            caller=caller,
            family=stored,
            grant_label=GRANT_TYPE,
            extra_access_claims=verdict.access_claims,
            extra_id_claims=verdict.id_claims,
        )
    with core.db.write() as conn:
        # Conditional update (not rotated, not revoked): of concurrent refreshes with one token exactly one rotates
        # it, and a token revoked since the reads above rotates none. Nothing is stored unless it does.
        if prepared.refresh_token_id is None or not GrantStore(conn).rotate(
            stored.id, replaced_by=prepared.refresh_token_id, now=now
        ):
            raise _Reused
        return persist_issue(core, conn, prepared, caller=caller).body
