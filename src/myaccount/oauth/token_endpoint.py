"""`POST /oauth/token`: authenticate the client, check it may use the grant, dispatch to the grant module.

Grant handlers are registered by grant type (RFC 6749 §4, Auth0 extensions); later features add theirs to
`GRANTS` with the same signature.
"""

from collections.abc import Callable, Mapping
from functools import partial

from myaccount.audit import Caller
from myaccount.core import Core
from myaccount.oauth.clients import authenticate_client
from myaccount.oauth.errors import InvalidRequest, TooManyRequests, UnauthorizedClient, UnsupportedGrantType
from myaccount.oauth.grants import (
    authorization_code,
    client_credentials,
    mfa,
    password,
    refresh_token,
    token_vault,
    webauthn,
)
from myaccount.policy.abuse import TooManyAttempts
from myaccount.store.clients import Client, ClientStore

__all__ = ["GRANTS", "GrantHandler", "token_request"]

GrantHandler = Callable[[Core, Client, Mapping[str, str], Caller], dict[str, object]]

GRANTS: dict[str, GrantHandler] = {
    "authorization_code": authorization_code.exchange,
    "refresh_token": refresh_token.exchange,
    "client_credentials": client_credentials.exchange,
    password.PASSWORD: partial(password.exchange, grant_type=password.PASSWORD),
    password.PASSWORD_REALM: partial(password.exchange, grant_type=password.PASSWORD_REALM),
    mfa.MFA_OTP: mfa.exchange_otp,
    mfa.MFA_OOB: mfa.exchange_oob,
    mfa.MFA_RECOVERY_CODE: mfa.exchange_recovery_code,
    webauthn.GRANT_TYPE: webauthn.exchange,
    token_vault.GRANT_TYPE: token_vault.exchange,
}


def token_request(
    core: Core, params: Mapping[str, str], *, basic: tuple[str, str] | None, caller: Caller
) -> dict[str, object]:
    grant_type = params.get("grant_type")
    if not grant_type:
        raise InvalidRequest("Missing required parameter: grant_type")
    handler = GRANTS.get(grant_type)
    if handler is None:
        raise UnsupportedGrantType(f"Unsupported grant type: {grant_type}")
    with core.db.read() as conn:
        client = authenticate_client(
            ClientStore(conn),
            core.sealer,
            client_id=params.get("client_id"),
            client_secret=params.get("client_secret"),
            basic=basic,
        )
    if grant_type not in client.grant_types:
        raise UnauthorizedClient(f"Grant type '{grant_type}' not allowed for the client.")
    try:
        return handler(core, client, params, caller)
    except TooManyAttempts as exc:
        raise TooManyRequests(exc.detail, retry_after=exc.retry_after) from exc
