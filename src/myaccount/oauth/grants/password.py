"""Resource Owner Password grant (RFC 6749 §4.3) and Auth0's `password-realm` extension.

Auth0 answers a wrong password with 403 `invalid_grant` "Wrong email or password." and a blocked user with 401
`unauthorized` "user is blocked"; we do the same. The password check runs even for unknown users, so the time
taken does not tell whether an account exists.
"""

from collections.abc import Mapping

from myaccount.audit import Caller, record
from myaccount.core import Core
from myaccount.oauth.errors import InvalidGrant, InvalidRequest, OAuthError
from myaccount.oauth.grants.direct_login import DATABASE_CONNECTION, finish_direct_login
from myaccount.oauth.issuance import Authentication
from myaccount.policy.abuse import Abuse
from myaccount.policy.scopes import split_scope
from myaccount.store.clients import Client
from myaccount.store.users import UserStore

__all__ = ["DATABASE_CONNECTION", "PASSWORD", "PASSWORD_REALM", "exchange"]

PASSWORD = "password"
PASSWORD_REALM = "http://auth0.com/oauth/grant-type/password-realm"


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
    return finish_direct_login(
        core,
        user=user,
        client=client,
        audience=audience,
        requested=requested,
        authn=authn,
        caller=caller,
        protocol="oauth2-password",
        grant_label=label,
        success="Successful login",
        mfa_pending="First factor accepted; MFA required",
    )
