"""`/api/v2`: the Management API routes. Each checks the token and scope, parses the query or body, calls one use
case from `myaccount.management`, and picks the status.

Tokens are client-credentials JWTs for the Management audience (`{origin}/api/v2/`); the API's user policy is
`deny_all`, so a user's token (a My Account token, say) fails on the audience. Errors are Auth0's Management
shape `{statusCode, error, message, errorCode}` (contracts/auth0-wire-notes.md §9). Every write is recorded as a
`sapi`/`fapi` tenant log event.
"""

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route

from myaccount.admin import AdminError, Conflict, NotFound
from myaccount.core import Core
from myaccount.errors import Problem
from myaccount.management import (
    client_grants,
    clients,
    factors,
    logs,
    methods,
    resource_servers,
    roles,
    users,
)
from myaccount.management.errors import Invalid, error_code
from myaccount.oauth.tokens import AccessClaims
from myaccount.web.guard import dpop_nonce_headers, require_token
from myaccount.web.http import BodyError, caller_of, core_of, read_json

__all__ = ["routes"]

log = logging.getLogger("myaccount.web")

_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
_MAX_PER_PAGE = 100


class Refusal(Exception):
    """An answer decided before any use case runs: 401, 403, 413, 415, a bad query string."""

    def __init__(self, status: int, message: str, code: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


def error_response(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"statusCode": status, "error": HTTPStatus(status).phrase, "message": message, "errorCode": code}
    return JSONResponse(body, status_code=status, headers=headers)


def _status_of(exc: AdminError) -> int:
    return 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 400


@dataclass(frozen=True, slots=True)
class Call:
    """One Management API request, authenticated: what handlers read."""

    request: Request
    core: Core
    claims: AccessClaims
    body: Any

    def path(self, name: str = "id") -> str:
        value: str = self.request.path_params[name]
        return value

    def query(self, name: str) -> str | None:
        return self.request.query_params.get(name)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.query(name)
        if value is None or value == "":
            return default
        if value.lower() not in ("true", "false"):
            raise Invalid(f"Query parameter {name} must be true or false.", code="invalid_query_string")
        return value.lower() == "true"

    def number(self, name: str, default: int, *, minimum: int = 0, maximum: int = 1_000_000) -> int:
        value = self.query(name)
        if value is None or value == "":
            return default
        if not value.isdigit() or not minimum <= int(value) <= maximum:
            raise Invalid(
                f"Query parameter {name} must be an integer from {minimum} to {maximum}.", code="invalid_query_string"
            )
        return int(value)


def _authenticate(request: Request, core: Core) -> AccessClaims:
    """The shared guard (Bearer, or DPoP with its proof and `cnf.jkt` binding) for the Management audience, its
    answers re-rendered in the Management shape; then only a client's own token passes."""
    try:
        claims = require_token(request, audience=core.settings.management_audience, scope=None)
    except Problem as exc:
        missing = "authorization" not in request.headers
        message = "Missing authentication" if missing else exc.detail
        raise Refusal(exc.status, message, "invalid_token", exc.headers) from exc
    if claims.is_user:
        # The Management API's user policy is deny_all; only a client's own token can reach it.
        raise Refusal(
            401,
            "The Management API accepts client-credentials tokens only.",
            "invalid_token",
            {"WWW-Authenticate": 'Bearer realm="myaccount", error="invalid_token"'},
        )
    return claims


def _authorize(claims: AccessClaims, scopes: Sequence[str]) -> None:
    if not claims.scopes & set(scopes):
        expected = ", ".join(scopes)
        raise Refusal(
            403,
            f"Insufficient scope, expected any of: {expected}",
            "insufficient_scope",
            {"WWW-Authenticate": f'Bearer realm="myaccount", error="insufficient_scope", scope="{" ".join(scopes)}"'},
        )


async def _body(request: Request, kind: type) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type != "application/json":
        raise Refusal(415, "Send the request body as application/json.", "unsupported_media_type")
    try:
        value = await read_json(request)
    except BodyError as exc:
        code = "payload_too_large" if exc.status == 413 else "invalid_body"
        raise Refusal(exc.status, exc.detail, code) from exc
    if not isinstance(value, kind):
        found = "null" if value is None else type(value).__name__
        expected = "array" if kind is list else "object"
        raise Invalid(f"Payload validation error: 'Expected type {expected} but found type {found}'.")
    if _has_nul(value):
        raise Invalid("Payload validation error: strings must not contain NUL characters.")
    return value


def _has_nul(value: Any) -> bool:
    """NUL cannot be stored in PostgreSQL text, nor compared with it: refuse it at the door (depth is bounded by
    `read_json`)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _check_url(request: Request) -> None:
    texts = [*request.path_params.values(), *(v for item in request.query_params.multi_items() for v in item)]
    if _has_nul(texts):
        raise Refusal(400, "The URL must not contain NUL characters.", "invalid_uri")


Handler = Callable[[Call], Response]


def endpoint(
    *scopes: str, label: str, body: type | None = None
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Token, scope and body checks around a synchronous handler (run in the thread pool: it hashes passwords
    and waits on the database), Management error rendering, and the tenant log record of each write."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            core = core_of(request)
            claims: AccessClaims | None = None
            message: str | None = None
            try:
                claims = _authenticate(request, core)
                _authorize(claims, scopes)
                _check_url(request)
                payload = await _body(request, body) if body is not None else None
                response = await run_in_threadpool(handler, Call(request, core, claims, payload))
            except Refusal as exc:
                message = exc.message
                response = error_response(exc.status, exc.message, exc.code, exc.headers)
            except AdminError as exc:
                message = str(exc)
                response = error_response(_status_of(exc), message, error_code(exc))
            except Exception:
                log.exception("unhandled error on %s %s", request.method, request.url.path)
                response = error_response(500, "Internal error.", "internal_error")
            if claims is not None and request.method in _WRITES:
                user_id = request.path_params.get("id") if request.url.path.startswith("/api/v2/users/") else None
                if user_id is not None and (len(user_id) > 100 or _has_nul(user_id)):
                    user_id = None  # not a user id this server could have made; the path still records it
                try:
                    await run_in_threadpool(
                        logs.record_call,
                        core,
                        caller=caller_of(request),
                        client_id=claims.client_id,
                        description=label,
                        method=request.method,
                        path=request.url.path,
                        status=response.status_code,
                        user_id=user_id,
                        message=message,
                    )
                except Exception:
                    # The change is made (or refused) already; a lost log line must not change the answer.
                    log.exception("could not record %s %s in the tenant log", request.method, request.url.path)
            response.headers.update(dpop_nonce_headers(core))
            return response

        return run

    return wrap


# responses
def _json(value: Any, status: int = 200) -> Response:
    return JSONResponse(value, status_code=status)


def _no_content() -> Response:
    return Response(status_code=204)


def _project(call: Call, item: dict[str, Any]) -> dict[str, Any]:
    """Auth0's `fields` (comma separated) with `include_fields` (default true)."""
    wanted = [f.strip() for f in (call.query("fields") or "").split(",") if f.strip()]
    if not wanted:
        return item
    include = call.flag("include_fields", True)
    return {k: v for k, v in item.items() if (k in wanted) == include}


@dataclass(frozen=True, slots=True)
class Paging:
    page: int
    per_page: int
    include_totals: bool

    @property
    def offset(self) -> int:
        return self.page * self.per_page


def _paging(call: Call) -> Paging:
    return Paging(
        page=call.number("page", 0),
        per_page=call.number("per_page", 50, minimum=1, maximum=_MAX_PER_PAGE),
        include_totals=call.flag("include_totals"),
    )


def _envelope(paging: Paging, key: str, items: list[Any], total: int, *, length: bool = False) -> Response:
    """A bare array, or with `include_totals` Auth0's `{start, limit, [length,] total, <key>}`."""
    if not paging.include_totals:
        return _json(items)
    body: dict[str, Any] = {"start": paging.offset, "limit": paging.per_page}
    if length:
        body["length"] = len(items)
    body.update({"total": total, key: items})
    return _json(body)


def _sliced(paging: Paging, key: str, items: list[Any], *, length: bool = False) -> Response:
    return _envelope(paging, key, items[paging.offset : paging.offset + paging.per_page], len(items), length=length)


# users
@endpoint("read:users", label="Get users")
def list_users(call: Call) -> Response:
    users.check_search_engine(call.query("search_engine"))
    connection = call.query("connection")
    paging = _paging(call)
    if connection and connection != users.DATABASE_CONNECTION:
        return _envelope(paging, "users", [], 0, length=True)  # the database connection is the only one
    found, total = users.list_users(call.core, page=paging.page, per_page=paging.per_page, q=call.query("q"))
    return _envelope(paging, "users", [_project(call, u) for u in found], total, length=True)


@endpoint("read:users", label="Get users by email")
def users_by_email(call: Call) -> Response:
    email = call.query("email")
    if not email:
        raise Invalid("Query parameter email is required.", code="invalid_query_string")
    found, _ = users.list_users(call.core, page=0, per_page=_MAX_PER_PAGE, q=f'email:"{email}"')
    return _json([_project(call, u) for u in found])


@endpoint("create:users", label="Create a user", body=dict)
def create_user(call: Call) -> Response:
    return _json(users.create_user(call.core, call.body), 201)


@endpoint("read:users", label="Get a user")
def get_user(call: Call) -> Response:
    return _json(_project(call, users.get_user(call.core, call.path())))


@endpoint("update:users", "update:users_app_metadata", label="Update a user", body=dict)
def update_user(call: Call) -> Response:
    if "update:users" not in call.claims.scopes and not set(call.body) <= users.METADATA_FIELDS:
        _authorize(call.claims, ("update:users",))
    return _json(users.update_user(call.core, call.path(), call.body))


@endpoint("delete:users", label="Delete a user")
def delete_user(call: Call) -> Response:
    users.delete_user(call.core, call.path())
    return _no_content()


@endpoint("read:users", "read:roles", label="Get user roles")
def user_roles(call: Call) -> Response:
    paging = _paging(call)
    found, total = users.user_roles(call.core, call.path(), page=paging.page, per_page=paging.per_page)
    return _envelope(paging, "roles", found, total)


@endpoint("create:role_members", "update:users", label="Assign roles to a user", body=dict)
def assign_user_roles(call: Call) -> Response:
    users.assign_roles(call.core, call.path(), call.body)
    return _no_content()


@endpoint("delete:role_members", "update:users", label="Remove roles from a user", body=dict)
def remove_user_roles(call: Call) -> Response:
    users.remove_roles(call.core, call.path(), call.body)
    return _no_content()


# authentication methods
@endpoint("read:authentication_methods", label="Get authentication methods")
def list_methods(call: Call) -> Response:
    paging = _paging(call)
    found, total = methods.list_methods(call.core, call.path(), page=paging.page, per_page=paging.per_page)
    return _envelope(paging, "authenticators", found, total)


@endpoint("read:authentication_methods", label="Get an authentication method")
def get_method(call: Call) -> Response:
    return _json(methods.get_method(call.core, call.path(), call.path("method_id")))


@endpoint("create:authentication_methods", label="Create an authentication method", body=dict)
def create_method(call: Call) -> Response:
    return _json(methods.create_method(call.core, call.path(), call.body), 201)


@endpoint("update:authentication_methods", label="Replace authentication methods", body=list)
def replace_methods(call: Call) -> Response:
    return _json(methods.replace_methods(call.core, call.path(), call.body))


@endpoint("update:authentication_methods", label="Update an authentication method", body=dict)
def update_method(call: Call) -> Response:
    return _json(methods.update_method(call.core, call.path(), call.path("method_id"), call.body))


@endpoint("delete:authentication_methods", label="Delete an authentication method")
def delete_method(call: Call) -> Response:
    methods.delete_method(call.core, call.path(), call.path("method_id"))
    return _no_content()


@endpoint("delete:authentication_methods", label="Delete all authentication methods")
def delete_methods(call: Call) -> Response:
    methods.delete_methods(call.core, call.path())
    return _no_content()


@endpoint("delete:guardian_enrollments", label="Delete all authenticators")
def delete_authenticators(call: Call) -> Response:
    methods.delete_authenticators(call.core, call.path())
    return _no_content()


# guardian factors
@endpoint("read:guardian_factors", label="Get Guardian factors")
def list_factors(call: Call) -> Response:
    return _json(factors.list_factors(call.core))


@endpoint("update:guardian_factors", label="Update a Guardian factor", body=dict)
def set_factor(call: Call) -> Response:
    return _json(factors.set_enabled(call.core, call.path("name"), call.body))


# clients
@endpoint("read:clients", label="Get clients")
def list_clients(call: Call) -> Response:
    if call.query("q"):
        raise Invalid("Searching clients with q is not supported.", code="invalid_query_string")
    app_types = [t for t in (call.query("app_type") or "").split(",") if t] or None
    first_party = call.flag("is_first_party") if call.query("is_first_party") else None
    found = (
        []
        if call.flag("is_global")
        else clients.list_clients(call.core, app_types=app_types, is_first_party=first_party)
    )
    return _sliced(_paging(call), "clients", [_project(call, c) for c in found])


@endpoint("create:clients", label="Create a client", body=dict)
def create_client(call: Call) -> Response:
    return _json(clients.create_client(call.core, call.body), 201)


@endpoint("read:clients", label="Get a client")
def get_client(call: Call) -> Response:
    return _json(_project(call, clients.get_client(call.core, call.path())))


@endpoint("update:clients", label="Update a client", body=dict)
def update_client(call: Call) -> Response:
    return _json(clients.update_client(call.core, call.path(), call.body))


@endpoint("delete:clients", label="Delete a client")
def delete_client(call: Call) -> Response:
    clients.delete_client(call.core, call.path())
    return _no_content()


@endpoint("update:client_keys", "update:clients", label="Rotate a client secret")
def rotate_secret(call: Call) -> Response:
    return _json(clients.rotate_secret(call.core, call.path()))


# resource servers
@endpoint("read:resource_servers", label="Get resource servers")
def list_resource_servers(call: Call) -> Response:
    identifiers = call.request.query_params.getlist("identifiers") or None
    found = resource_servers.list_resource_servers(call.core, identifiers=identifiers)
    return _sliced(_paging(call), "resource_servers", found)


@endpoint("create:resource_servers", label="Create a resource server", body=dict)
def create_resource_server(call: Call) -> Response:
    return _json(resource_servers.create_resource_server(call.core, call.body), 201)


@endpoint("read:resource_servers", label="Get a resource server")
def get_resource_server(call: Call) -> Response:
    return _json(resource_servers.get_resource_server(call.core, call.path()))


@endpoint("update:resource_servers", label="Update a resource server", body=dict)
def update_resource_server(call: Call) -> Response:
    return _json(resource_servers.update_resource_server(call.core, call.path(), call.body))


@endpoint("delete:resource_servers", label="Delete a resource server")
def delete_resource_server(call: Call) -> Response:
    resource_servers.delete_resource_server(call.core, call.path())
    return _no_content()


# client grants
@endpoint("read:client_grants", label="Get client grants")
def list_client_grants(call: Call) -> Response:
    allow_any = call.flag("allow_any_organization") if call.query("allow_any_organization") else None
    if call.query("default_for"):
        return _json({"client_grants": []} if call.query("take") or call.query("from") else [])
    found = client_grants.list_grants(
        call.core,
        audience=call.query("audience"),
        client_id=call.query("client_id"),
        subject_type=call.query("subject_type"),
        allow_any_organization=allow_any,
    )
    if call.query("from") is not None or call.query("take") is not None:
        # Checkpoint pagination: `next` is the id the following page starts from.
        take = call.number("take", 50, minimum=1, maximum=_MAX_PER_PAGE)
        start = call.query("from") or ""
        rest = [g for g in found if g["id"] >= start]
        body: dict[str, Any] = {"client_grants": rest[:take]}
        if len(rest) > take:
            body["next"] = rest[take]["id"]
        return _json(body)
    return _sliced(_paging(call), "client_grants", found)


@endpoint("create:client_grants", label="Create a client grant", body=dict)
def create_client_grant(call: Call) -> Response:
    return _json(client_grants.create_grant(call.core, call.body), 201)


@endpoint("read:client_grants", label="Get a client grant")
def get_client_grant(call: Call) -> Response:
    return _json(client_grants.get_grant(call.core, call.path()))


@endpoint("update:client_grants", label="Update a client grant", body=dict)
def update_client_grant(call: Call) -> Response:
    return _json(client_grants.update_grant(call.core, call.path(), call.body))


@endpoint("delete:client_grants", label="Delete a client grant")
def delete_client_grant(call: Call) -> Response:
    client_grants.delete_grant(call.core, call.path())
    return _no_content()


# roles
@endpoint("read:roles", label="Get roles")
def list_roles(call: Call) -> Response:
    return _sliced(_paging(call), "roles", roles.list_roles(call.core, name_filter=call.query("name_filter")))


@endpoint("create:roles", label="Create a role", body=dict)
def create_role(call: Call) -> Response:
    return _json(roles.create_role(call.core, call.body), 201)


@endpoint("read:roles", label="Get a role")
def get_role(call: Call) -> Response:
    return _json(roles.get_role(call.core, call.path()))


@endpoint("update:roles", label="Update a role", body=dict)
def update_role(call: Call) -> Response:
    return _json(roles.update_role(call.core, call.path(), call.body))


@endpoint("delete:roles", label="Delete a role")
def delete_role(call: Call) -> Response:
    roles.delete_role(call.core, call.path())
    return _no_content()


@endpoint("read:roles", label="Get role permissions")
def role_permissions(call: Call) -> Response:
    return _sliced(_paging(call), "permissions", roles.permissions(call.core, call.path()))


@endpoint("update:roles", label="Associate permissions with a role", body=dict)
def add_role_permissions(call: Call) -> Response:
    roles.add_permissions(call.core, call.path(), call.body)
    return Response(status_code=201)


@endpoint("update:roles", label="Remove permissions from a role", body=dict)
def remove_role_permissions(call: Call) -> Response:
    roles.remove_permissions(call.core, call.path(), call.body)
    return _no_content()


# logs
def _log_order(call: Call) -> bool:
    """True for oldest first. Auth0 sorts by `date:-1` unless told `date:1`."""
    sort = call.query("sort") or "date:-1"
    if sort not in ("date:1", "date:-1"):
        raise Invalid("Logs can be sorted by date:1 or date:-1 only.", code="invalid_query_string")
    return sort == "date:1"


@endpoint("read:logs", label="Get logs")
def list_logs(call: Call) -> Response:
    search = logs.parse_search(call.query("q") or call.query("search"))
    ascending = _log_order(call)
    if call.query("from") is not None or call.query("take") is not None:
        take = call.number("take", 50, minimum=1, maximum=_MAX_PER_PAGE)
        found, _ = logs.list_logs(
            call.core, search, offset=0, limit=take, ascending=ascending, after=call.query("from") or None
        )
        return _json([_project(call, e) for e in found])
    paging = _paging(call)
    found, total = logs.list_logs(call.core, search, offset=paging.offset, limit=paging.per_page, ascending=ascending)
    return _envelope(paging, "logs", [_project(call, e) for e in found], total, length=True)


@endpoint("read:logs", label="Get a log event")
def get_log(call: Call) -> Response:
    return _json(logs.get_log(call.core, call.path()))


@endpoint("read:logs", "read:logs_users", label="Get user log events")
def user_logs(call: Call) -> Response:
    paging = _paging(call)
    found, total = logs.list_logs(
        call.core,
        logs.LogQuery(user_id=call.path()),
        offset=paging.offset,
        limit=paging.per_page,
        ascending=_log_order(call),
    )
    return _envelope(paging, "logs", found, total, length=True)


_ROUTES: list[BaseRoute] = [
    Route("/api/v2/users", list_users, methods=["GET"]),
    Route("/api/v2/users", create_user, methods=["POST"]),
    Route("/api/v2/users-by-email", users_by_email, methods=["GET"]),
    Route("/api/v2/users/{id}", get_user, methods=["GET"]),
    Route("/api/v2/users/{id}", update_user, methods=["PATCH"]),
    Route("/api/v2/users/{id}", delete_user, methods=["DELETE"]),
    Route("/api/v2/users/{id}/roles", user_roles, methods=["GET"]),
    Route("/api/v2/users/{id}/roles", assign_user_roles, methods=["POST"]),
    Route("/api/v2/users/{id}/roles", remove_user_roles, methods=["DELETE"]),
    Route("/api/v2/users/{id}/logs", user_logs, methods=["GET"]),
    Route("/api/v2/users/{id}/authenticators", delete_authenticators, methods=["DELETE"]),
    Route("/api/v2/users/{id}/authentication-methods", list_methods, methods=["GET"]),
    Route("/api/v2/users/{id}/authentication-methods", create_method, methods=["POST"]),
    Route("/api/v2/users/{id}/authentication-methods", replace_methods, methods=["PUT"]),
    Route("/api/v2/users/{id}/authentication-methods", delete_methods, methods=["DELETE"]),
    Route("/api/v2/users/{id}/authentication-methods/{method_id}", get_method, methods=["GET"]),
    Route("/api/v2/users/{id}/authentication-methods/{method_id}", update_method, methods=["PATCH"]),
    Route("/api/v2/users/{id}/authentication-methods/{method_id}", delete_method, methods=["DELETE"]),
    Route("/api/v2/guardian/factors", list_factors, methods=["GET"]),
    Route("/api/v2/guardian/factors/{name}", set_factor, methods=["PUT"]),
    Route("/api/v2/clients", list_clients, methods=["GET"]),
    Route("/api/v2/clients", create_client, methods=["POST"]),
    Route("/api/v2/clients/{id}", get_client, methods=["GET"]),
    Route("/api/v2/clients/{id}", update_client, methods=["PATCH"]),
    Route("/api/v2/clients/{id}", delete_client, methods=["DELETE"]),
    Route("/api/v2/clients/{id}/rotate-secret", rotate_secret, methods=["POST"]),
    Route("/api/v2/resource-servers", list_resource_servers, methods=["GET"]),
    Route("/api/v2/resource-servers", create_resource_server, methods=["POST"]),
    # An API may be named by its identifier, which is a URL: `path` keeps its (decoded) slashes.
    Route("/api/v2/resource-servers/{id:path}", get_resource_server, methods=["GET"]),
    Route("/api/v2/resource-servers/{id:path}", update_resource_server, methods=["PATCH"]),
    Route("/api/v2/resource-servers/{id:path}", delete_resource_server, methods=["DELETE"]),
    Route("/api/v2/client-grants", list_client_grants, methods=["GET"]),
    Route("/api/v2/client-grants", create_client_grant, methods=["POST"]),
    Route("/api/v2/client-grants/{id}", get_client_grant, methods=["GET"]),
    Route("/api/v2/client-grants/{id}", update_client_grant, methods=["PATCH"]),
    Route("/api/v2/client-grants/{id}", delete_client_grant, methods=["DELETE"]),
    Route("/api/v2/roles", list_roles, methods=["GET"]),
    Route("/api/v2/roles", create_role, methods=["POST"]),
    Route("/api/v2/roles/{id}", get_role, methods=["GET"]),
    Route("/api/v2/roles/{id}", update_role, methods=["PATCH"]),
    Route("/api/v2/roles/{id}", delete_role, methods=["DELETE"]),
    Route("/api/v2/roles/{id}/permissions", role_permissions, methods=["GET"]),
    Route("/api/v2/roles/{id}/permissions", add_role_permissions, methods=["POST"]),
    Route("/api/v2/roles/{id}/permissions", remove_role_permissions, methods=["DELETE"]),
    Route("/api/v2/logs", list_logs, methods=["GET"]),
    Route("/api/v2/logs/{id}", get_log, methods=["GET"]),
]


async def unmatched(request: Request) -> Response:
    """Anything else under /api/v2: 405 when the path exists with other methods, else 404, in Management shape."""
    allowed: set[str] = set()
    for route in _ROUTES:
        match, _ = route.matches(request.scope)
        if match == Match.PARTIAL and isinstance(route, Route) and route.methods:
            allowed |= route.methods
    if allowed:
        return error_response(
            405, f"{request.method} is not allowed here.", "method_not_allowed", {"Allow": ", ".join(sorted(allowed))}
        )
    return error_response(404, "Not Found", "inexistent_route")


_ANY = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
routes: list[BaseRoute] = [
    *_ROUTES,
    Route("/api/v2", unmatched, methods=_ANY),
    Route("/api/v2/{rest:path}", unmatched, methods=_ANY),
]
