"""`/api/v2/connections`: the Management API for connections (upstream OAuth 2.0 / OIDC providers), in Auth0's
shapes. Token, scope and body checks, error rendering (`{statusCode, error, message, errorCode}`) and the tenant
log come from `web/management.py`'s `endpoint`; the use cases are `myaccount.connections`.

Listing follows Auth0: `from`/`take` give checkpoint pages (`{connections, next?}`, what the Fern SDK asks for),
`include_totals=true` with `page`/`per_page` gives `{start, limit, total, connections}`, otherwise a bare array.
Deleting answers 202, as Auth0's (its deletion is asynchronous; ours is done when it answers).
"""

from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from myaccount import connections
from myaccount.management.errors import Invalid
from myaccount.web.management import Call, endpoint

__all__ = ["routes"]

_MAX_PER_PAGE = 100


def _project(call: Call, item: dict[str, Any]) -> dict[str, Any]:
    """Auth0's `fields` (comma separated) with `include_fields` (default true)."""
    wanted = [f.strip() for f in (call.query("fields") or "").split(",") if f.strip()]
    if not wanted:
        return item
    include = call.flag("include_fields", True)
    return {k: v for k, v in item.items() if (k in wanted) == include}


def _strategies(call: Call) -> list[str]:
    values = [s for value in call.request.query_params.getlist("strategy") for s in value.split(",") if s]
    if len(values) > 20:
        raise Invalid("Query parameter strategy takes at most 20 values.", code="invalid_query_string")
    return values


@endpoint("read:connections", label="Get connections")
def list_connections(call: Call) -> Response:
    strategies = _strategies(call)
    name = call.query("name") or None
    if call.query("from") is not None or call.query("take") is not None:
        take = call.number("take", 50, minimum=1, maximum=_MAX_PER_PAGE)
        after = call.query("from") or None
        found = connections.list_connections(call.core, strategies=strategies, name=name, after=after, limit=take + 1)
        body: dict[str, Any] = {"connections": [_project(call, connections.to_wire(c)) for c in found[:take]]}
        if len(found) > take:
            body["next"] = found[take - 1].id
        return JSONResponse(body)
    everything = [
        _project(call, connections.to_wire(c))
        for c in connections.list_connections(call.core, strategies=strategies, name=name)
    ]
    if not call.flag("include_totals"):
        if call.query("page") is None and call.query("per_page") is None:
            return JSONResponse(everything)
    page = call.number("page", 0)
    per_page = call.number("per_page", 50, minimum=1, maximum=_MAX_PER_PAGE)
    items = everything[page * per_page : (page + 1) * per_page]
    if not call.flag("include_totals"):
        return JSONResponse(items)
    return JSONResponse({"start": page * per_page, "limit": per_page, "total": len(everything), "connections": items})


@endpoint("create:connections", label="Create a connection", body=dict)
def create_connection(call: Call) -> Response:
    return JSONResponse(connections.to_wire(connections.create_connection(call.core, call.body)), status_code=201)


@endpoint("read:connections", label="Get a connection")
def get_connection(call: Call) -> Response:
    found = connections.get_connection(call.core, call.path())
    return JSONResponse(_project(call, connections.to_wire(found)))


@endpoint("update:connections", label="Update a connection", body=dict)
def update_connection(call: Call) -> Response:
    return JSONResponse(connections.to_wire(connections.update_connection(call.core, call.path(), call.body)))


@endpoint("delete:connections", label="Delete a connection")
def delete_connection(call: Call) -> Response:
    connections.delete_connection(call.core, call.path())
    return Response(status_code=202)


routes = [
    Route("/api/v2/connections", list_connections, methods=["GET"]),
    Route("/api/v2/connections", create_connection, methods=["POST"]),
    Route("/api/v2/connections/{id}", get_connection, methods=["GET"]),
    Route("/api/v2/connections/{id}", update_connection, methods=["PATCH"]),
    Route("/api/v2/connections/{id}", delete_connection, methods=["DELETE"]),
]
