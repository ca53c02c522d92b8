"""Paths and components of the Management API (`/api/v2`): Auth0's shapes, client-credentials tokens only.

Objects a `fields` projection may trim (users, clients, logs, connections) declare no required properties.
Every operation answers 401 (no or bad token, or a user's token) and 403 (scope) in Auth0's Management error
shape `{statusCode, error, message, errorCode}`; operations with a body add 400, 413 and 415; operations on one
object add 404; creates and updates add 409.
"""

from typing import Any

from myaccount.openapi._shapes import json_body, json_response, no_content, obj, op, param, ref, string

__all__ = ["components", "paths"]

_STR = string()
_BOOL = {"type": "boolean"}
_STRS = {"type": "array", "items": _STR}
_ANY_OBJECT = {"type": "object"}
_ERROR = ref("ManagementError")

components: dict[str, Any] = {
    "schemas": {
        "ManagementError": obj(
            {"statusCode": {"type": "integer"}, "error": _STR, "message": _STR, "errorCode": _STR},
            required=("statusCode", "error", "message"),
        ),
        "ManagementUser": obj(
            {
                "user_id": _STR,
                "email": _STR,
                "email_verified": _BOOL,
                "username": _STR,
                "phone_number": _STR,
                "name": _STR,
                "nickname": _STR,
                "created_at": _STR,
                "updated_at": _STR,
                "identities": {"type": "array", "items": _ANY_OBJECT},
                "app_metadata": _ANY_OBJECT,
                "user_metadata": _ANY_OBJECT,
                "blocked": _BOOL,
            },
        ),
        "ManagementUserCreate": obj(
            {
                "email": _STR,
                "password": _STR,
                "connection": string(examples=["Username-Password-Authentication"]),
                "email_verified": _BOOL,
                "username": _STR,
                "user_id": _STR,
                "blocked": _BOOL,
                "phone_number": _STR,
                "verify_email": _BOOL,
                "name": _STR,
                "given_name": _STR,
                "family_name": _STR,
                "nickname": _STR,
                "picture": _STR,
                "user_metadata": _ANY_OBJECT,
                "app_metadata": _ANY_OBJECT,
            }
        ),
        "ManagementUserUpdate": obj(
            {
                "blocked": _BOOL,
                "email_verified": _BOOL,
                "email": _STR,
                "phone_number": _STR,
                "password": _STR,
                "connection": _STR,
                "username": _STR,
                "name": _STR,
                "nickname": _STR,
                "user_metadata": _ANY_OBJECT,
                "app_metadata": _ANY_OBJECT,
            }
        ),
        "ManagementRoleIds": obj({"roles": _STRS}, required=("roles",)),
        "ManagementMethod": obj(
            {
                "id": _STR,
                "type": _STR,
                "created_at": _STR,
                "confirmed": _BOOL,
                "name": _STR,
                "email": _STR,
                "phone_number": _STR,
                "preferred_authentication_method": _STR,
                "key_id": _STR,
                "public_key": _STR,
                "identity_user_id": _STR,
                "last_auth_at": _STR,
            },
            required=("id", "type", "created_at"),
        ),
        "ManagementMethodCreate": obj(
            {
                "type": string(examples=["email", "phone", "totp", "passkey", "webauthn-roaming"]),
                "name": _STR,
                "email": _STR,
                "phone_number": _STR,
                "preferred_authentication_method": string(examples=["sms", "voice"]),
                "totp_secret": _STR,
                "key_id": _STR,
                "public_key": _STR,
                "relying_party_identifier": _STR,
            },
            required=("type",),
        ),
        "ManagementMethodUpdate": obj({"name": _STR, "preferred_authentication_method": _STR}),
        "GuardianFactor": obj({"name": _STR, "enabled": _BOOL, "trial_expired": _BOOL}, required=("name", "enabled")),
        "GuardianFactorUpdate": obj({"enabled": _BOOL}, required=("enabled",)),
        "GuardianFactorState": obj({"enabled": _BOOL}, required=("enabled",)),
        "ManagementClient": obj(
            {
                "client_id": _STR,
                "name": _STR,
                "description": _STR,
                "app_type": _STR,
                "is_first_party": _BOOL,
                "oidc_conformant": _BOOL,
                "callbacks": _STRS,
                "allowed_origins": _STRS,
                "web_origins": _STRS,
                "allowed_logout_urls": _STRS,
                "grant_types": _STRS,
                "token_endpoint_auth_method": _STR,
                "client_secret": _STR,
            },
        ),
        "ManagementClientWrite": obj(
            {
                "name": _STR,
                "description": _STR,
                "app_type": string(examples=["spa", "regular_web", "native", "non_interactive"]),
                "is_first_party": _BOOL,
                "oidc_conformant": _BOOL,
                "callbacks": _STRS,
                "allowed_origins": _STRS,
                "web_origins": _STRS,
                "allowed_logout_urls": _STRS,
                "grant_types": _STRS,
                "token_endpoint_auth_method": string(examples=["none", "client_secret_post", "client_secret_basic"]),
                "cross_origin_authentication": _BOOL,
                "client_metadata": _ANY_OBJECT,
            }
        ),
        "ManagementResourceServer": obj(
            {
                "id": _STR,
                "name": _STR,
                "identifier": _STR,
                "is_system": _BOOL,
                "scopes": {"type": "array", "items": obj({"value": _STR, "description": _STR})},
                "signing_alg": _STR,
                "allow_offline_access": _BOOL,
                "token_lifetime": {"type": "integer"},
                "subject_type_authorization": _ANY_OBJECT,
            },
            required=("id", "identifier"),
        ),
        "ManagementResourceServerWrite": obj(
            {
                "identifier": _STR,
                "name": _STR,
                "scopes": {"type": "array", "items": obj({"value": _STR, "description": _STR})},
                "signing_alg": string(examples=["RS256"]),
                "allow_offline_access": _BOOL,
                "skip_consent_for_verifiable_first_party_clients": _BOOL,
                "token_lifetime": {"type": "integer"},
                "token_dialect": _STR,
                "enforce_policies": _BOOL,
                "subject_type_authorization": _ANY_OBJECT,
                "proof_of_possession": _ANY_OBJECT,
            }
        ),
        "ManagementClientGrant": obj(
            {
                "id": _STR,
                "client_id": _STR,
                "audience": _STR,
                "scope": _STRS,
                "subject_type": _STR,
                "is_system": _BOOL,
            },
            required=("id", "client_id", "audience", "scope"),
        ),
        "ManagementClientGrantWrite": obj(
            {
                "client_id": _STR,
                "audience": _STR,
                "scope": _STRS,
                "subject_type": string(examples=["client", "user"]),
                "organization_usage": _STR,
                "allow_any_organization": _BOOL,
                "allow_all_scopes": _BOOL,
            }
        ),
        "ManagementRole": obj({"id": _STR, "name": _STR, "description": _STR}, required=("id", "name")),
        "ManagementRoleWrite": obj({"name": _STR, "description": _STR}),
        "ManagementPermission": obj(
            {
                "resource_server_identifier": _STR,
                "permission_name": _STR,
                "resource_server_name": _STR,
                "description": _STR,
            },
            required=("resource_server_identifier", "permission_name"),
        ),
        "ManagementPermissions": obj(
            {
                "permissions": {
                    "type": "array",
                    "items": obj({"resource_server_identifier": _STR, "permission_name": _STR}),
                }
            },
            required=("permissions",),
        ),
        "ManagementConnection": obj(
            {"id": _STR, "name": _STR, "strategy": _STR, "options": _ANY_OBJECT, "enabled_clients": _STRS},
        ),
        "ManagementConnectionWrite": obj(
            {
                "name": _STR,
                "strategy": string(examples=["oauth2", "oidc"]),
                "display_name": _STR,
                "options": _ANY_OBJECT,
                "enabled_clients": _STRS,
            }
        ),
        "ManagementLog": obj(
            {"log_id": _STR, "date": _STR, "type": _STR, "description": _STR, "user_id": _STR, "details": {}},
        ),
    },
    "securitySchemes": {
        "ManagementToken": {
            "type": "http",
            "scheme": "bearer",
            "description": "A client-credentials token for `{origin}/api/v2/` (Bearer, or DPoP with a proof)",
        }
    },
}


def _page(key: str, item: str, *, length: bool = False) -> dict[str, Any]:
    """A bare array, or with include_totals `{start, limit, [length,] total, <key>}`."""
    items = {"type": "array", "items": ref(item)}
    totals: dict[str, Any] = {"start": {"type": "integer"}, "limit": {"type": "integer"}, "total": {"type": "integer"}}
    if length:
        totals["length"] = {"type": "integer"}
    return {"oneOf": [items, obj({**totals, key: items}, required=("start", "limit", "total", key))]}


_PAGING = [
    param("page", schema={"type": "integer", "minimum": 0}),
    param("per_page", schema={"type": "integer", "minimum": 1, "maximum": 100}),
    param("include_totals", schema={"type": "boolean"}),
]
_FIELDS = [param("fields"), param("include_fields", schema={"type": "boolean"})]
_ID = param("id", "path")


def _mgmt(
    summary: str,
    operation_id: str,
    scopes: tuple[str, ...],
    ok: tuple[int, dict[str, Any]],
    *,
    body: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    missing: bool = False,
    conflict: bool = False,
    tag: str,
) -> dict[str, Any]:
    status, response = ok
    responses: dict[int | str, dict[str, Any]] = {
        status: response,
        400: json_response("Invalid request or query string", _ERROR),
        401: json_response("Missing or invalid token, or not a client's token", _ERROR),
        403: json_response("Insufficient scope", _ERROR),
    }
    if body is not None:
        responses[413] = json_response("The body is larger than 64 KiB", _ERROR)
        responses[415] = json_response("Not a JSON body", _ERROR)
    if missing:
        responses[404] = json_response("Not found", _ERROR)
    if conflict:
        responses[409] = json_response("Conflict", _ERROR)
    return op(
        summary,
        responses,
        tags=(tag,),
        operation_id=operation_id,
        parameters=parameters,
        body=json_body(body) if body is not None else None,
        security=[{"ManagementToken": list(scopes)}],
    )


def _ok(item: str, status: int = 200) -> tuple[int, dict[str, Any]]:
    return status, json_response("OK", ref(item))


_DONE = (204, no_content("Done"))
_USER = "/api/v2/users/{id}"

paths: dict[str, Any] = {
    "/api/v2/users": {
        "get": _mgmt(
            "List or search users",
            "listUsers",
            ("read:users",),
            (200, json_response("Users", _page("users", "ManagementUser", length=True))),
            parameters=[*_PAGING, *_FIELDS, param("q"), param("search_engine"), param("connection")],
            tag="users",
        ),
        "post": _mgmt(
            "Create a user",
            "createUser",
            ("create:users",),
            _ok("ManagementUser", 201),
            body=ref("ManagementUserCreate"),
            conflict=True,
            tag="users",
        ),
    },
    "/api/v2/users-by-email": {
        "get": _mgmt(
            "Find users by email",
            "usersByEmail",
            ("read:users",),
            (200, json_response("Users", {"type": "array", "items": ref("ManagementUser")})),
            parameters=[param("email", required=True), *_FIELDS],
            tag="users",
        )
    },
    _USER: {
        "get": _mgmt(
            "Get a user",
            "getUser",
            ("read:users",),
            _ok("ManagementUser"),
            parameters=[_ID, *_FIELDS],
            missing=True,
            tag="users",
        ),
        "patch": _mgmt(
            "Update a user",
            "updateUser",
            ("update:users", "update:users_app_metadata"),
            _ok("ManagementUser"),
            parameters=[_ID],
            body=ref("ManagementUserUpdate"),
            missing=True,
            conflict=True,
            tag="users",
        ),
        "delete": _mgmt(
            "Delete a user", "deleteUser", ("delete:users",), _DONE, parameters=[_ID], missing=True, tag="users"
        ),
    },
    f"{_USER}/roles": {
        "get": _mgmt(
            "A user's roles",
            "userRoles",
            ("read:users", "read:roles"),
            (200, json_response("Roles", _page("roles", "ManagementRole"))),
            parameters=[_ID, *_PAGING],
            missing=True,
            tag="users",
        ),
        "post": _mgmt(
            "Assign roles to a user",
            "assignUserRoles",
            ("create:role_members", "update:users"),
            _DONE,
            parameters=[_ID],
            body=ref("ManagementRoleIds"),
            missing=True,
            tag="users",
        ),
        "delete": _mgmt(
            "Remove roles from a user",
            "removeUserRoles",
            ("delete:role_members", "update:users"),
            _DONE,
            parameters=[_ID],
            body=ref("ManagementRoleIds"),
            missing=True,
            tag="users",
        ),
    },
    f"{_USER}/logs": {
        "get": _mgmt(
            "A user's log events",
            "userLogs",
            ("read:logs", "read:logs_users"),
            (200, json_response("Log events", _page("logs", "ManagementLog", length=True))),
            parameters=[_ID, *_PAGING, param("sort", schema=string(examples=["date:1", "date:-1"]))],
            tag="logs",
        )
    },
    f"{_USER}/authenticators": {
        "delete": _mgmt(
            "Delete all of a user's authenticators",
            "deleteAuthenticators",
            ("delete:guardian_enrollments",),
            _DONE,
            parameters=[_ID],
            missing=True,
            tag="authentication methods",
        )
    },
    f"{_USER}/authentication-methods": {
        "get": _mgmt(
            "A user's authentication methods",
            "listMethods",
            ("read:authentication_methods",),
            (200, json_response("Methods", _page("authenticators", "ManagementMethod"))),
            parameters=[_ID, *_PAGING],
            missing=True,
            tag="authentication methods",
        ),
        "post": _mgmt(
            "Create an authentication method",
            "createMethod",
            ("create:authentication_methods",),
            _ok("ManagementMethod", 201),
            parameters=[_ID],
            body=ref("ManagementMethodCreate"),
            missing=True,
            conflict=True,
            tag="authentication methods",
        ),
        "put": _mgmt(
            "Replace a user's authentication methods",
            "replaceMethods",
            ("update:authentication_methods",),
            (200, json_response("Methods", {"type": "array", "items": ref("ManagementMethod")})),
            parameters=[_ID],
            body={"type": "array", "items": ref("ManagementMethodCreate")},
            missing=True,
            conflict=True,
            tag="authentication methods",
        ),
        "delete": _mgmt(
            "Delete all of a user's authentication methods",
            "deleteMethods",
            ("delete:authentication_methods",),
            _DONE,
            parameters=[_ID],
            missing=True,
            tag="authentication methods",
        ),
    },
    f"{_USER}/authentication-methods/{{method_id}}": {
        "get": _mgmt(
            "Get an authentication method",
            "getMethod",
            ("read:authentication_methods",),
            _ok("ManagementMethod"),
            parameters=[_ID, param("method_id", "path")],
            missing=True,
            tag="authentication methods",
        ),
        "patch": _mgmt(
            "Update an authentication method",
            "updateMethod",
            ("update:authentication_methods",),
            _ok("ManagementMethod"),
            parameters=[_ID, param("method_id", "path")],
            body=ref("ManagementMethodUpdate"),
            missing=True,
            tag="authentication methods",
        ),
        "delete": _mgmt(
            "Delete an authentication method",
            "deleteMethod",
            ("delete:authentication_methods",),
            _DONE,
            parameters=[_ID, param("method_id", "path")],
            missing=True,
            tag="authentication methods",
        ),
    },
    "/api/v2/guardian/factors": {
        "get": _mgmt(
            "Guardian factors",
            "listFactors",
            ("read:guardian_factors",),
            (200, json_response("Factors", {"type": "array", "items": ref("GuardianFactor")})),
            tag="guardian",
        )
    },
    "/api/v2/guardian/factors/{name}": {
        "put": _mgmt(
            "Enable or disable a Guardian factor",
            "setFactor",
            ("update:guardian_factors",),
            _ok("GuardianFactorState"),
            parameters=[param("name", "path")],
            body=ref("GuardianFactorUpdate"),
            missing=True,
            tag="guardian",
        )
    },
    "/api/v2/clients": {
        "get": _mgmt(
            "List clients",
            "listClients",
            ("read:clients",),
            (200, json_response("Clients", _page("clients", "ManagementClient"))),
            parameters=[
                *_PAGING,
                *_FIELDS,
                param("app_type"),
                param("is_first_party", schema={"type": "boolean"}),
                param("is_global", schema={"type": "boolean"}),
                param("q"),
            ],
            tag="clients",
        ),
        "post": _mgmt(
            "Create a client",
            "createClient",
            ("create:clients",),
            _ok("ManagementClient", 201),
            body=ref("ManagementClientWrite"),
            conflict=True,
            tag="clients",
        ),
    },
    "/api/v2/clients/{id}": {
        "get": _mgmt(
            "Get a client",
            "getClient",
            ("read:clients",),
            _ok("ManagementClient"),
            parameters=[_ID, *_FIELDS],
            missing=True,
            tag="clients",
        ),
        "patch": _mgmt(
            "Update a client",
            "updateClient",
            ("update:clients",),
            _ok("ManagementClient"),
            parameters=[_ID],
            body=ref("ManagementClientWrite"),
            missing=True,
            conflict=True,
            tag="clients",
        ),
        "delete": _mgmt(
            "Delete a client",
            "deleteClient",
            ("delete:clients",),
            _DONE,
            parameters=[_ID],
            missing=True,
            conflict=True,
            tag="clients",
        ),
    },
    "/api/v2/clients/{id}/rotate-secret": {
        "post": _mgmt(
            "Rotate a client secret",
            "rotateSecret",
            ("update:client_keys", "update:clients"),
            _ok("ManagementClient"),
            parameters=[_ID],
            missing=True,
            conflict=True,
            tag="clients",
        )
    },
    "/api/v2/resource-servers": {
        "get": _mgmt(
            "List resource servers",
            "listResourceServers",
            ("read:resource_servers",),
            (200, json_response("Resource servers", _page("resource_servers", "ManagementResourceServer"))),
            parameters=[*_PAGING, param("identifiers")],
            tag="resource servers",
        ),
        "post": _mgmt(
            "Create a resource server",
            "createResourceServer",
            ("create:resource_servers",),
            _ok("ManagementResourceServer", 201),
            body=ref("ManagementResourceServerWrite"),
            conflict=True,
            tag="resource servers",
        ),
    },
    "/api/v2/resource-servers/{id}": {
        "get": _mgmt(
            "Get a resource server (by id or identifier)",
            "getResourceServer",
            ("read:resource_servers",),
            _ok("ManagementResourceServer"),
            parameters=[_ID],
            missing=True,
            tag="resource servers",
        ),
        "patch": _mgmt(
            "Update a resource server",
            "updateResourceServer",
            ("update:resource_servers",),
            _ok("ManagementResourceServer"),
            parameters=[_ID],
            body=ref("ManagementResourceServerWrite"),
            missing=True,
            conflict=True,
            tag="resource servers",
        ),
        "delete": _mgmt(
            "Delete a resource server",
            "deleteResourceServer",
            ("delete:resource_servers",),
            _DONE,
            parameters=[_ID],
            missing=True,
            conflict=True,
            tag="resource servers",
        ),
    },
    "/api/v2/client-grants": {
        "get": _mgmt(
            "List client grants",
            "listClientGrants",
            ("read:client_grants",),
            (
                200,
                json_response(
                    "Client grants",
                    {
                        "anyOf": [
                            _page("client_grants", "ManagementClientGrant"),
                            obj(
                                {
                                    "client_grants": {"type": "array", "items": ref("ManagementClientGrant")},
                                    "next": _STR,
                                },
                            ),
                        ]
                    },
                ),
            ),
            parameters=[
                *_PAGING,
                param("audience"),
                param("client_id"),
                param("subject_type"),
                param("allow_any_organization", schema={"type": "boolean"}),
                param("default_for"),
                param("from"),
                param("take", schema={"type": "integer", "minimum": 1, "maximum": 100}),
            ],
            tag="client grants",
        ),
        "post": _mgmt(
            "Create a client grant",
            "createClientGrant",
            ("create:client_grants",),
            _ok("ManagementClientGrant", 201),
            body=ref("ManagementClientGrantWrite"),
            missing=True,
            conflict=True,
            tag="client grants",
        ),
    },
    "/api/v2/client-grants/{id}": {
        "get": _mgmt(
            "Get a client grant",
            "getClientGrant",
            ("read:client_grants",),
            _ok("ManagementClientGrant"),
            parameters=[_ID],
            missing=True,
            tag="client grants",
        ),
        "patch": _mgmt(
            "Update a client grant",
            "updateClientGrant",
            ("update:client_grants",),
            _ok("ManagementClientGrant"),
            parameters=[_ID],
            body=ref("ManagementClientGrantWrite"),
            missing=True,
            conflict=True,
            tag="client grants",
        ),
        "delete": _mgmt(
            "Delete a client grant",
            "deleteClientGrant",
            ("delete:client_grants",),
            _DONE,
            parameters=[_ID],
            missing=True,
            conflict=True,
            tag="client grants",
        ),
    },
    "/api/v2/roles": {
        "get": _mgmt(
            "List roles",
            "listRoles",
            ("read:roles",),
            (200, json_response("Roles", _page("roles", "ManagementRole"))),
            parameters=[*_PAGING, param("name_filter")],
            tag="roles",
        ),
        "post": _mgmt(
            "Create a role",
            "createRole",
            ("create:roles",),
            _ok("ManagementRole", 201),
            body=ref("ManagementRoleWrite"),
            conflict=True,
            tag="roles",
        ),
    },
    "/api/v2/roles/{id}": {
        "get": _mgmt(
            "Get a role", "getRole", ("read:roles",), _ok("ManagementRole"), parameters=[_ID], missing=True, tag="roles"
        ),
        "patch": _mgmt(
            "Update a role",
            "updateRole",
            ("update:roles",),
            _ok("ManagementRole"),
            parameters=[_ID],
            body=ref("ManagementRoleWrite"),
            missing=True,
            conflict=True,
            tag="roles",
        ),
        "delete": _mgmt(
            "Delete a role", "deleteRole", ("delete:roles",), _DONE, parameters=[_ID], missing=True, tag="roles"
        ),
    },
    "/api/v2/roles/{id}/permissions": {
        "get": _mgmt(
            "A role's permissions",
            "rolePermissions",
            ("read:roles",),
            (200, json_response("Permissions", _page("permissions", "ManagementPermission"))),
            parameters=[_ID, *_PAGING],
            missing=True,
            tag="roles",
        ),
        "post": _mgmt(
            "Add permissions to a role",
            "addRolePermissions",
            ("update:roles",),
            (201, no_content("Added")),
            parameters=[_ID],
            body=ref("ManagementPermissions"),
            missing=True,
            tag="roles",
        ),
        "delete": _mgmt(
            "Remove permissions from a role",
            "removeRolePermissions",
            ("update:roles",),
            _DONE,
            parameters=[_ID],
            body=ref("ManagementPermissions"),
            missing=True,
            tag="roles",
        ),
    },
    "/api/v2/connections": {
        "get": _mgmt(
            "List connections",
            "listConnections",
            ("read:connections",),
            (
                200,
                json_response(
                    "Connections",
                    {
                        "anyOf": [
                            _page("connections", "ManagementConnection"),
                            obj(
                                {
                                    "connections": {"type": "array", "items": ref("ManagementConnection")},
                                    "next": _STR,
                                },
                            ),
                        ]
                    },
                ),
            ),
            parameters=[
                *_PAGING,
                *_FIELDS,
                param("strategy"),
                param("name"),
                param("from"),
                param("take", schema={"type": "integer", "minimum": 1, "maximum": 100}),
            ],
            tag="connections",
        ),
        "post": _mgmt(
            "Create a connection",
            "createConnection",
            ("create:connections",),
            _ok("ManagementConnection", 201),
            body=ref("ManagementConnectionWrite"),
            conflict=True,
            tag="connections",
        ),
    },
    "/api/v2/connections/{id}": {
        "get": _mgmt(
            "Get a connection",
            "getConnection",
            ("read:connections",),
            _ok("ManagementConnection"),
            parameters=[_ID, *_FIELDS],
            missing=True,
            tag="connections",
        ),
        "patch": _mgmt(
            "Update a connection",
            "updateConnection",
            ("update:connections",),
            _ok("ManagementConnection"),
            parameters=[_ID],
            body=ref("ManagementConnectionWrite"),
            missing=True,
            conflict=True,
            tag="connections",
        ),
        "delete": _mgmt(
            "Delete a connection",
            "deleteConnection",
            ("delete:connections",),
            (202, no_content("Deleted")),
            parameters=[_ID],
            missing=True,
            conflict=True,
            tag="connections",
        ),
    },
    "/api/v2/logs": {
        "get": _mgmt(
            "Search the tenant log",
            "listLogs",
            ("read:logs",),
            (200, json_response("Log events", _page("logs", "ManagementLog", length=True))),
            parameters=[
                *_PAGING,
                *_FIELDS,
                param("q"),
                param("search"),
                param("sort", schema=string(examples=["date:1", "date:-1"])),
                param("from"),
                param("take", schema={"type": "integer", "minimum": 1, "maximum": 100}),
            ],
            tag="logs",
        )
    },
    "/api/v2/logs/{id}": {
        "get": _mgmt(
            "Get a log event",
            "getLog",
            ("read:logs",),
            _ok("ManagementLog"),
            parameters=[_ID],
            missing=True,
            tag="logs",
        )
    },
}
