"""The tenant's built-in objects: the My Account API and the Management API resource servers.

They exist from the first start (idempotently re-asserted at every start) and are marked `is_system`.
"""

import secrets
from datetime import datetime

from myaccount.settings import Settings
from myaccount.store.clients import ClientStore, ResourceServer
from myaccount.store.db import Database

__all__ = ["MANAGEMENT_SCOPES", "MY_ACCOUNT_SCOPES", "ensure_system_apis"]

MY_ACCOUNT_SCOPES = {
    "read:me:authentication_methods": "Read the user's authentication methods",
    "create:me:authentication_methods": "Enroll authentication methods for the user",
    "update:me:authentication_methods": "Update the user's authentication methods",
    "delete:me:authentication_methods": "Delete the user's authentication methods",
    "read:me:factors": "Read the factors available to the user",
    "create:me:connected_accounts": "Connect accounts for the user",
    "read:me:connected_accounts": "Read the user's connected accounts",
    "delete:me:connected_accounts": "Disconnect the user's connected accounts",
}

_MANAGEMENT_RESOURCES = (
    "users",
    "users_app_metadata",
    "clients",
    "client_grants",
    "resource_servers",
    "roles",
    "connections",
    "authentication_methods",
    "signing_keys",
    "guardian_factors",
)
MANAGEMENT_SCOPES = {
    f"{verb}:{resource}": f"{verb.capitalize()} {resource.replace('_', ' ')}"
    for resource in _MANAGEMENT_RESOURCES
    for verb in ("read", "create", "update", "delete")
}
MANAGEMENT_SCOPES.update(
    {
        "read:logs": "Read tenant logs",
        "delete:guardian_enrollments": "Delete users' MFA enrollments",
        "read:guardian_enrollments": "Read users' MFA enrollments",
        "read:role_members": "Read role members",
        "create:role_members": "Add members to roles",
        "delete:role_members": "Remove members from roles",
        "read:client_keys": "Read client secrets",
        "update:client_keys": "Rotate client secrets",
        "read:logs_users": "Read users' logs",
    }
)


def _scopes(scopes: dict[str, str]) -> list[dict[str, str]]:
    return [{"value": value, "description": description} for value, description in scopes.items()]


def ensure_system_apis(db: Database, settings: Settings, *, now: datetime) -> None:
    with db.write() as conn:
        store = ClientStore(conn)
        my_account = store.resource_server(settings.my_account_audience)
        if my_account is None:
            store.create_resource_server(
                ResourceServer(
                    id=f"rs_{secrets.token_hex(8)}",
                    identifier=settings.my_account_audience,
                    name="My Account API",
                    scopes=_scopes(MY_ACCOUNT_SCOPES),
                    signing_alg="RS256",
                    token_lifetime=int(settings.my_account_token_ttl.total_seconds()),
                    allow_offline_access=True,
                    skip_consent_for_verifiable_first_party_clients=True,
                    enforce_policies=False,
                    token_dialect="access_token",
                    subject_type_authorization={
                        "user": {"policy": "require_client_grant"},
                        "client": {"policy": "deny_all"},
                    },
                    is_system=True,
                ),
                now=now,
            )
        else:
            # The scope list follows the release; the client policy is fixed at deny_all.
            sta = dict(my_account.subject_type_authorization)
            sta["client"] = {"policy": "deny_all"}
            store.update_resource_server(
                my_account.id, scopes=_scopes(MY_ACCOUNT_SCOPES), subject_type_authorization=sta
            )
        management = store.resource_server(settings.management_audience)
        if management is None:
            store.create_resource_server(
                ResourceServer(
                    id=f"rs_{secrets.token_hex(8)}",
                    identifier=settings.management_audience,
                    name="Management API",
                    scopes=_scopes(MANAGEMENT_SCOPES),
                    signing_alg="RS256",
                    token_lifetime=86400,
                    allow_offline_access=False,
                    skip_consent_for_verifiable_first_party_clients=True,
                    enforce_policies=False,
                    token_dialect="access_token",
                    subject_type_authorization={
                        "user": {"policy": "deny_all"},
                        "client": {"policy": "require_client_grant"},
                    },
                    is_system=True,
                ),
                now=now,
            )
        else:
            store.update_resource_server(management.id, scopes=_scopes(MANAGEMENT_SCOPES))
