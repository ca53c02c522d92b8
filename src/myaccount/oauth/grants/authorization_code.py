"""RFC 6749 §4.1.3: exchange an authorization code (+ RFC 7636 PKCE verifier) for tokens.

A code is single use. A second presentation means it leaked: the tokens the first one produced are revoked
(RFC 6749 §4.1.2, "SHOULD revoke … all tokens previously issued based on that authorization code").
"""

from collections.abc import Mapping

from myaccount.audit import Caller, record
from myaccount.core import Core
from myaccount.oauth import pkce
from myaccount.oauth.errors import InvalidGrant, InvalidRequest
from myaccount.oauth.issuance import Authentication, persist_issue, prepare_issue
from myaccount.policy.scopes import split_scope
from myaccount.store.clients import Client
from myaccount.store.grants import GrantStore
from myaccount.store.users import UserStore

__all__ = ["CODE_PURPOSE", "exchange"]

GRANT_TYPE = "authorization_code"
CODE_PURPOSE = "authorization-code"


def exchange(core: Core, client: Client, params: Mapping[str, str], caller: Caller) -> dict[str, object]:
    code = params.get("code")
    if not code:
        raise InvalidRequest("Missing required parameter: code")
    code_hash = core.fingerprint(code, purpose=CODE_PURPOSE)
    try:
        return _exchange(core, client, params, caller, code_hash)
    except _Reused:
        pass
    with core.db.write() as conn:
        grants = GrantStore(conn)
        stored = grants.code(code_hash)
        assert stored is not None
        now = core.clock.now()
        if stored.refresh_family_id:
            grants.revoke_family(stored.refresh_family_id, now=now)
        if stored.access_token_jti:
            grants.revoke_access_token(stored.access_token_jti, expires_at=now + core.settings.access_token_ttl)
            core.tokens.revoked_jtis.add(stored.access_token_jti)
        record(
            conn,
            core.clock,
            "feacft",
            caller=caller,
            outcome="failure",
            user_id=stored.user_id,
            client_id=client.client_id,
            description="Authorization code reused; issued tokens revoked",
        )
    raise InvalidGrant("Invalid authorization code")


class _Reused(Exception):
    """Raised inside the exchange transaction so that it rolls back whole."""


def _exchange(
    core: Core, client: Client, params: Mapping[str, str], caller: Caller, code_hash: str
) -> dict[str, object]:
    now = core.clock.now()
    # Checks and the new tokens (RS256 signatures) from reads; the write transaction then consumes the code
    # (conditionally: of concurrent exchanges exactly one does) and stores what was issued. A failed check
    # consumes nothing, as before. On SQLite a write transaction holds the database's one write lock: signing
    # inside it made every login's exchange wait for the others' signatures.
    with core.db.read() as conn:
        stored = GrantStore(conn).code(code_hash)
        if stored is None or stored.client_id != client.client_id:
            raise InvalidGrant("Invalid authorization code")
        if stored.consumed_at is not None:
            raise _Reused  # before any other check: a replayed code revokes what it issued, whatever else is sent
        if stored.expires_at <= now:
            raise InvalidGrant("Authorization code has expired")
        redirect_uri = params.get("redirect_uri")
        if redirect_uri is not None and redirect_uri != stored.redirect_uri:
            raise InvalidGrant("redirect_uri does not match the one used in the authorization request")
        if stored.code_challenge:
            verifier = params.get("code_verifier")
            if not verifier:
                raise InvalidGrant("Missing code_verifier: this authorization request used PKCE")
            if not pkce.verify(verifier, stored.code_challenge):
                raise InvalidGrant("Failed to verify code verifier")
        elif client.is_public:
            raise InvalidGrant("Public clients must use PKCE")
        bound_key = (stored.claims or {}).get("dpop_jkt")
        if bound_key and bound_key != caller.dpop_jkt:
            # RFC 9449 §10: a code requested with dpop_jkt is redeemed only with a proof by that key.
            raise InvalidGrant("This authorization code is bound to a DPoP key: send a proof signed with it.")
        user = UserStore(conn).get(stored.user_id)
        if user is None or user.blocked:
            raise InvalidGrant("user is blocked" if user else "Invalid authorization code")
        prepared = prepare_issue(
            core,
            conn,
            user=user,
            client=client,
            audience=stored.audience,
            requested=split_scope(stored.scope),
            authn=Authentication(
                auth_time=stored.auth_time,
                amr=tuple(stored.amr),
                mfa_time=stored.mfa_time,
                session_id=stored.session_id,
            ),
            caller=caller,
            nonce=stored.nonce,
            grant_label=GRANT_TYPE,
            extra_access_claims=(stored.claims or {}).get("access"),
            extra_id_claims=(stored.claims or {}).get("id"),
        )
    with core.db.write() as conn:
        grants = GrantStore(conn)
        if not grants.consume_code(code_hash, now=now):
            raise _Reused
        issued = persist_issue(core, conn, prepared, caller=caller)
        grants.link_code(
            code_hash, refresh_family_id=issued.refresh_family_id, access_token_jti=issued.access_token_jti
        )
    return issued.body
