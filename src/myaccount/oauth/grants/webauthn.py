"""Auth0's passkey grant, `urn:okta:params:oauth:grant-type:webauthn` (Native Passkey API, contracts §6.3).

The client posts the `auth_session` from `/passkey/register` or `/passkey/challenge` and the authenticator's
answer as `authn_response`, a JSON object (Auth0 refuses it as a string: `"authn_response" must be of type
object`; a form body, where it can only be a string, is accepted here when that string is a JSON object).
A sign-up creates the user. The sign-in policy then runs as for the password grant, so a second factor can
be demanded with `mfa_required` and an `mfa_token`. A passkey whose authenticator verified the user (UV) is
multi-factor on its own, something held unlocked by something known or been (NIST SP 800-63B §5.1.8–5.1.9,
multi-factor cryptographic authenticators): its amr is `passkey` and `mfa`, and it counts as a second factor.
"""

import json
from collections.abc import Mapping
from typing import Any

from myaccount import passkey_api
from myaccount.audit import Caller
from myaccount.core import Core
from myaccount.oauth.errors import InvalidRequest
from myaccount.oauth.grants.direct_login import finish_direct_login
from myaccount.oauth.issuance import Authentication, resolve_api
from myaccount.passkey_api import DATABASE_CONNECTION, GRANT_TYPE
from myaccount.policy.abuse import Abuse
from myaccount.policy.scopes import split_scope
from myaccount.store.clients import Client, ClientStore

__all__ = ["GRANT_TYPE", "exchange"]

_NOT_OBJECT = '"authn_response" must be of type object'


def exchange(core: Core, client: Client, params: Mapping[str, str], caller: Caller) -> dict[str, object]:
    Abuse(core).check_login(caller, None, client_id=client.client_id)
    auth_session = params.get("auth_session")
    if not auth_session:
        raise InvalidRequest("Missing required parameter: auth_session")
    if not isinstance(auth_session, str):
        raise InvalidRequest('"auth_session" must be of type string')
    authn_response = _object(params.get("authn_response"))
    realm = params.get("realm")
    if realm and realm != DATABASE_CONNECTION:
        raise InvalidRequest(f"Unknown realm: {realm}")
    if params.get("organization"):
        raise InvalidRequest("Organizations are not supported by this server.")

    audience, requested = params.get("audience"), split_scope(params.get("scope"))
    with core.db.read() as conn:
        # An unknown API is refused before the ceremony is finished, so that a sign-up does not leave a user behind.
        resolve_api(ClientStore(conn), audience)

    signed_in = passkey_api.finish(
        core, client, auth_session=auth_session, authn_response=authn_response, caller=caller
    )
    user, now = signed_in.user, core.clock.now()
    verified = signed_in.user_verified
    authn = Authentication(
        auth_time=now, amr=("passkey", "mfa") if verified else ("passkey",), mfa_time=now if verified else None
    )
    return finish_direct_login(
        core,
        user=user,
        client=client,
        audience=audience,
        requested=requested,
        authn=authn,
        caller=caller,
        protocol="oauth2-webauthn",
        grant_label="webauthn",
        success="Successful login with a passkey",
        mfa_pending="Passkey accepted; MFA required",
        mfa_in_this_login=verified,
        signup=signed_in.signed_up,
    )


def _object(value: Any) -> Mapping[str, Any]:
    """`authn_response` as an object; a string (form bodies can carry nothing else) must hold a JSON object."""
    if value is None or value == "":
        raise InvalidRequest("Missing required parameter: authn_response")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise InvalidRequest(_NOT_OBJECT) from exc
    if not isinstance(value, Mapping):
        raise InvalidRequest(_NOT_OBJECT)
    return value
