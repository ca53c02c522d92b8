"""Client authentication at the token endpoint: `client_secret_post`, `client_secret_basic`, or none (public)."""

import hmac

from myaccount.crypto.sealing import Sealer
from myaccount.oauth.errors import InvalidClient, InvalidRequest
from myaccount.store.clients import Client, ClientStore

__all__ = ["SECRET_PURPOSE", "authenticate_client", "hash_secret"]

SECRET_PURPOSE = "client-secret"


def hash_secret(sealer: Sealer, secret: str) -> str:
    return sealer.fingerprint(secret, purpose=SECRET_PURPOSE)


def authenticate_client(
    store: ClientStore,
    sealer: Sealer,
    *,
    client_id: str | None,
    client_secret: str | None,
    basic: tuple[str, str] | None,
) -> Client:
    """RFC 6749 §2.3. A client may use one method only; public clients present no secret that matters."""
    # JSON bodies can carry anything: only strings may reach the store (an object here was a 500).
    if not isinstance(client_id, str | None) or not isinstance(client_secret, str | None):
        raise InvalidRequest("client_id and client_secret must be strings.")
    if basic is not None:
        if client_id and client_id != basic[0]:
            raise InvalidRequest("client_id in the body does not match the Authorization header.")
        if client_secret:
            raise InvalidRequest("Use one client authentication method, not two.")
        client_id, client_secret = basic
    if not client_id:
        raise InvalidRequest("Missing required parameter: client_id")
    client = store.get(client_id)
    if client is None:
        # Spend the same work as for a real client, so ids cannot be probed by timing.
        hmac.compare_digest(hash_secret(sealer, client_secret or ""), "0" * 64)
        raise InvalidClient("Unknown client or invalid client credentials.", basic=basic is not None)
    if client.is_public:
        return client
    if not client_secret or client.secret_hash is None:
        raise InvalidClient("Client authentication is required for this client.", basic=basic is not None)
    if not hmac.compare_digest(hash_secret(sealer, client_secret), client.secret_hash):
        raise InvalidClient("Unknown client or invalid client credentials.", basic=basic is not None)
    return client
