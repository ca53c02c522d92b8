"""Connected accounts over HTTP: the `/me/v1/connected-accounts/*` routes, and the two browser pages of the
connect flow (`GET /connect?ticket=…`, the `connect_uri` we answer, and `GET /connect/callback`, where the
provider sends the browser back). The flow itself is `myaccount.connected_accounts`.

The API routes use `web/my_account.py`'s `endpoint` (token and scope, rate limits, error rendering). The pages
answer with redirects; a ticket or callback that cannot be tied to an app renders the hosted error page.
"""

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from myaccount.connected_accounts import CALLBACK_PATH, CONNECT_PATH, ConnectedAccounts, ConnectPageError, Redirect
from myaccount.errors import BadRequest, UnsupportedMediaType
from myaccount.my_account.service import MyAccount
from myaccount.oauth.tokens import AccessClaims
from myaccount.web.http import caller_of, core_of, read_json
from myaccount.web.login import templates
from myaccount.web.my_account import endpoint

__all__ = ["routes"]

_PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


def _service(request: Request) -> ConnectedAccounts:
    return ConnectedAccounts(core_of(request))


async def _json_object(request: Request) -> dict[str, Any]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType("Send the request body as application/json.")
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def _page(items: list[dict[str, Any]], key: str, next_cursor: str | None) -> Response:
    body: dict[str, Any] = {key: items}
    if next_cursor is not None:
        body["next"] = next_cursor
    return JSONResponse(body)


@endpoint("create:me:connected_accounts", "write")
async def connect(request: Request, claims: AccessClaims, _: MyAccount) -> Response:
    body = await _json_object(request)
    started = await run_in_threadpool(_service(request).start, claims, body, caller_of(request))
    return JSONResponse(started, status_code=201, headers={"Cache-Control": "no-store"})


@endpoint("create:me:connected_accounts", "code")
async def complete(request: Request, claims: AccessClaims, _: MyAccount) -> Response:
    body = await _json_object(request)
    account = await run_in_threadpool(_service(request).complete, claims, body, caller_of(request))
    return JSONResponse(account, status_code=201)


@endpoint("read:me:connected_accounts", "read")
async def list_accounts(request: Request, claims: AccessClaims, _: MyAccount) -> Response:
    query = request.query_params
    items, next_cursor = _service(request).accounts(
        claims, connections=query.getlist("connection"), cursor=query.get("from"), take=query.get("take")
    )
    return _page(items, "accounts", next_cursor)


@endpoint("read:me:connected_accounts", "read")
async def list_connections(request: Request, claims: AccessClaims, _: MyAccount) -> Response:
    query = request.query_params
    items, next_cursor = _service(request).connections(claims, cursor=query.get("from"), take=query.get("take"))
    return _page(items, "connections", next_cursor)


@endpoint("delete:me:connected_accounts", "write")
async def delete_account(request: Request, claims: AccessClaims, _: MyAccount) -> Response:
    account_id: str = request.path_params["id"]
    await run_in_threadpool(_service(request).delete, claims, account_id, caller_of(request))
    return Response(status_code=204)


# the browser pages
def _redirect(request: Request, redirect: Redirect) -> Response:
    response = RedirectResponse(redirect.location, status_code=302, headers=_PAGE_HEADERS)
    secure = core_of(request).settings.secure_cookies
    if redirect.cookie is not None:
        name, value, max_age = redirect.cookie
        # Lax: the provider's redirect back is a top-level GET, which still carries it.
        response.set_cookie(
            name, value, max_age=max_age, path=CALLBACK_PATH, httponly=True, secure=secure, samesite="lax"
        )
    if redirect.clear_cookie is not None:
        response.delete_cookie(redirect.clear_cookie, path=CALLBACK_PATH, httponly=True, secure=secure, samesite="lax")
    return response


def _error_page(request: Request, exc: ConnectPageError) -> Response:
    context = {"tenant_name": core_of(request).settings.tenant_name, "error": exc.error, "description": exc.description}
    response = templates.TemplateResponse(request, "error.html", context, status_code=exc.status)
    response.headers.update(_PAGE_HEADERS)
    return response


async def connect_page(request: Request) -> Response:
    """The `connect_uri`: spend the ticket, go to the provider (RFC 6749 §4.1.1 with RFC 7636 PKCE)."""
    try:
        redirect = await run_in_threadpool(_service(request).open_ticket, request.query_params.get("ticket"))
    except ConnectPageError as exc:
        return _error_page(request, exc)
    return _redirect(request, redirect)


async def connect_callback(request: Request) -> Response:
    """The provider's redirect back (RFC 6749 §4.1.2): on to the app with a connect_code, or with the error."""
    params = {key: value for key, value in request.query_params.items() if len(value) <= 8192}
    try:
        redirect = await run_in_threadpool(
            _service(request).callback, params, dict(request.cookies), caller_of(request)
        )
    except ConnectPageError as exc:
        return _error_page(request, exc)
    return _redirect(request, redirect)


routes = [
    Route("/me/v1/connected-accounts/connect", connect, methods=["POST"]),
    Route("/me/v1/connected-accounts/complete", complete, methods=["POST"]),
    Route("/me/v1/connected-accounts/accounts", list_accounts, methods=["GET"]),
    Route("/me/v1/connected-accounts/connections", list_connections, methods=["GET"]),
    Route("/me/v1/connected-accounts/accounts/{id}", delete_account, methods=["DELETE"]),
    Route(CONNECT_PATH, connect_page, methods=["GET"]),
    Route(CALLBACK_PATH, connect_callback, methods=["GET"]),
]
