"""Resource Owner Password grant (RFC 6749 §4.3) and Auth0's `password-realm` extension.

Auth0 answers a wrong password with 403 `invalid_grant` "Wrong email or password." and a blocked user with 401
`unauthorized` "user is blocked"; we do the same. The password check runs even for unknown users, so the time
taken does not tell whether an account exists.
"""

from collections.abc import Mapping

from myaccount.audit import Caller, record
from myaccount.core import Core
from myaccount.oauth import login_policy
from myaccount.oauth.errors import InvalidGrant, InvalidRequest, OAuthError
from myaccount.oauth.issuance import Authentication, issue_for_user
from myaccount.policy.abuse import Abuse
from myaccount.policy.scopes import split_scope
from myaccount.store.clients import Client
from myaccount.store.users import UserStore

__all__ = ["DATABASE_CONNECTION", "PASSWORD", "PASSWORD_REALM", "exchange"]

PASSWORD = "password"
PASSWORD_REALM = "http://auth0.com/oauth/grant-type/password-realm"
DATABASE_CONNECTION = "Username-Password-Authentication"


class WrongCredentials(InvalidGrant):
    status = 403


class Blocked(OAuthError):
    error = "unauthorized"
    status = 401


def exchange(
    core: Core, client: Client, params: Mapping[str, str], caller: Caller, *, grant_type: str
) -> dict[str, object]:
    username, password = params.get("username"), params.get("password")
    if not username or not password:
        raise InvalidRequest("Missing required parameters: username and password")
    if len(password) > 1024 or len(username) > 320:
        raise InvalidRequest("username or password is too long")
    realm = params.get("realm")
    if grant_type == PASSWORD_REALM and not realm:
        raise InvalidRequest("Missing required parameter: realm")
    if realm and realm != DATABASE_CONNECTION:
        raise InvalidRequest(f"Unknown realm: {realm}")
    abuse = Abuse(core)
    abuse.check_login(caller, username, client_id=client.client_id)
    with core.db.read() as conn:
        user = UserStore(conn).by_login(username)
    ok = core.passwords.verify(user.password_hash if user else None, password)
    if not ok:
        abuse.failed_login(caller, username, user_id=user.id if user else None, client_id=client.client_id)
    label = "password-realm" if grant_type == PASSWORD_REALM else "password"
    if user is None or not ok:
        with core.db.write() as conn:
            record(
                conn,
                core.clock,
                "fp" if user else "fu",
                caller=caller,
                outcome="failure",
                user_id=user.id if user else None,
                client_id=client.client_id,
                description="Wrong email or password.",
                username=username[:320],
            )
        raise WrongCredentials("Wrong email or password.")
    if user.blocked:
        with core.db.write() as conn:
            record(
                conn,
                core.clock,
                "f",
                caller=caller,
                outcome="failure",
                user_id=user.id,
                client_id=client.client_id,
                description="user is blocked",
            )
        raise Blocked("user is blocked")
    now = core.clock.now()
    authn = Authentication(auth_time=now, amr=("pwd",))
    audience, requested = params.get("audience"), split_scope(params.get("scope"))
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
            protocol="oauth2-password",
            caller=caller,
        )
    with core.db.write() as conn:
        UserStore(conn).record_login(user.id, now=now, ip=caller.ip)
        record(
            conn,
            core.clock,
            "s" if not verdict.mfa_required else "gd_auth_started",
            caller=caller,
            user_id=user.id,
            client_id=client.client_id,
            connection=DATABASE_CONNECTION,
            description="Successful login" if not verdict.mfa_required else "First factor accepted; MFA required",
        )
    login_policy.raise_for(core, verdict, user=user, client=client, audience=audience, requested=requested, authn=authn)
    with core.db.write() as conn:
        issued = issue_for_user(
            core,
            conn,
            user=user,
            client=client,
            audience=audience,
            requested=requested,
            authn=authn,
            caller=caller,
            grant_label=label,
            extra_access_claims=verdict.access_claims,
            extra_id_claims=verdict.id_claims,
        )
    return issued.body
