"""RFC 6749 §4.4: a confidential client gets a token for itself. The API's client policy must allow it: the
My Account API's is `deny_all`, fixed, so no machine token ever reaches a user's authentication methods."""

from collections.abc import Mapping
from datetime import timedelta

from myaccount.audit import Caller, record
from myaccount.core import Core
from myaccount.oauth.errors import AccessDenied, InvalidRequest, UnauthorizedClient
from myaccount.oauth.issuance import resolve_api
from myaccount.policy.scopes import api_scopes, split_scope
from myaccount.store.clients import Client, ClientStore

__all__ = ["exchange"]

GRANT_TYPE = "client_credentials"


def exchange(core: Core, client: Client, params: Mapping[str, str], caller: Caller) -> dict[str, object]:
    if client.is_public:
        raise UnauthorizedClient("Public clients cannot use the client_credentials grant.")
    audience = params.get("audience")
    if not audience:
        raise InvalidRequest("Missing required parameter: audience")
    with core.db.read() as conn:
        store = ClientStore(conn)
        api = resolve_api(store, audience)
        assert api is not None
        requested = split_scope(params.get("scope")) if params.get("scope") else None
        grant = store.grant(client.client_id, api.identifier, "client")
    try:
        decision = api_scopes(requested=requested, api=api, subject_type="client", grant=grant)
    except AccessDenied:
        with core.db.write() as conn:
            record(
                conn,
                core.clock,
                "feccft",
                caller=caller,
                outcome="failure",
                client_id=client.client_id,
                description=f"Client credentials refused for {api.identifier}",
            )
        raise
    scope = " ".join(sorted(decision.granted))
    extra: dict[str, object] = {"gty": "client-credentials"}
    if caller.dpop_jkt:
        extra["cnf"] = {"jkt": caller.dpop_jkt}  # RFC 9449 §6.1: bound to the proof's key
    elif (api.proof_of_possession or {}).get("required"):
        raise InvalidRequest(f"{api.identifier} accepts only DPoP-bound tokens: send a DPoP proof.")
    access = core.tokens.access_token(
        subject=f"{client.client_id}@clients",
        audience=api.identifier,
        client_id=client.client_id,
        scope=scope,
        ttl=timedelta(seconds=api.token_lifetime),
        extra=extra,
    )
    with core.db.write() as conn:
        record(
            conn,
            core.clock,
            "seccft",
            caller=caller,
            client_id=client.client_id,
            description="Client credentials exchanged",
            audience=api.identifier,
            scope=scope,
        )
    token_type = "DPoP" if caller.dpop_jkt else "Bearer"
    return {"access_token": access.token, "token_type": token_type, "expires_in": access.expires_in, "scope": scope}
