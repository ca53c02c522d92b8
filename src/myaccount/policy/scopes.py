"""Which scopes a token gets: requested ∩ (client grant or API policy) ∩ RBAC permissions ∩ consent.

Auth0's API access policies (`subject_type_authorization`) decide, per API and per subject type, whether any
client may get user tokens (`allow_all`), only clients with a client grant (`require_client_grant`), or none
(`deny_all`). The My Account API is `require_client_grant` for users and `deny_all` for clients, fixed.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from myaccount.oauth.errors import AccessDenied
from myaccount.store.clients import ClientGrant, ResourceServer

__all__ = ["OIDC_SCOPES", "ScopeDecision", "api_scopes", "split_scope"]

OIDC_SCOPES = frozenset({"openid", "profile", "email", "phone", "address", "offline_access"})


def split_scope(scope: str | None) -> list[str]:
    seen: dict[str, None] = {}
    for part in (scope or "").split():
        seen.setdefault(part, None)
    return list(seen)


@dataclass(frozen=True, slots=True)
class ScopeDecision:
    granted: frozenset[str]
    needs_consent: frozenset[str]


def api_scopes(
    *,
    requested: Iterable[str] | None,
    api: ResourceServer,
    subject_type: str,
    grant: ClientGrant | None,
    permissions: set[str] | None = None,
    consented: set[str] | None = None,
    consent_required: bool = False,
) -> ScopeDecision:
    """The API scopes a token may carry.

    Args:
        requested: the scopes asked for; None means "all the client may have" (client credentials without `scope`).
        permissions: the user's RBAC permissions on this API; only consulted when the API enforces RBAC.
        consented: what the user already consented to, for clients that need consent.
    """
    policy = api.policy(subject_type)
    if policy == "deny_all":
        raise AccessDenied(f"Client access to {api.identifier} is not allowed for subject type '{subject_type}'.")
    if policy == "require_client_grant":
        if grant is None:
            raise AccessDenied(
                f'Client is not authorized to access "{api.identifier}". '
                "You need to create a client-grant associated to this API."
            )
        allowed = set(grant.scope) & api.scope_values
    else:  # allow_all
        allowed = set(api.scope_values)
    wanted = allowed if requested is None else {s for s in requested if s not in OIDC_SCOPES}
    granted = wanted & allowed
    if subject_type == "user" and api.enforce_policies:
        granted &= permissions or set()
    needs_consent: set[str] = set()
    if consent_required:
        needs_consent = granted - (consented or set())
    return ScopeDecision(granted=frozenset(granted), needs_consent=frozenset(needs_consent))
