"""Hosted login: `/authorize`, the login page at `/u/login`, and logout (`/v2/logout`, `/oidc/logout`)."""

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from myaccount import login
from myaccount.login import AuthorizeError, AuthorizeRequest, RedirectableError
from myaccount.store.clients import ClientStore
from myaccount.store.sessions import LoginSession, SessionStore
from myaccount.web.http import caller_of, core_of, form_value

__all__ = ["SESSION_COOKIE", "routes", "templates"]

SESSION_COOKIE = "myaccount_session"
TXN_COOKIE = "myaccount_txn"
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; "
    "script-src 'self' 'unsafe-inline'; style-src 'self'",
    "Referrer-Policy": "no-referrer",
}


def _page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    context.setdefault("tenant_name", core_of(request).settings.tenant_name)
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(_SECURITY_HEADERS)
    return response


def _error_page(request: Request, error: str, description: str, status: int = 400) -> Response:
    return _page(request, "error.html", status, error=error, description=description)


def _with_query(uri: str, params: dict[str, str]) -> str:
    parts = urlsplit(uri)
    query = (parts.query + "&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _respond(request: Request, req: AuthorizeRequest | None, redirect_uri: str, params: dict[str, str]) -> Response:
    if req is not None and req.response_mode == "form_post":
        response = _page(request, "form_post.html", redirect_uri=redirect_uri, fields=list(params.items()))
        response.headers["Content-Security-Policy"] = "default-src 'none'; script-src 'unsafe-inline'; form-action *"
        return response
    return RedirectResponse(_with_query(redirect_uri, params), status_code=302, headers={"Cache-Control": "no-store"})


def _error_redirect(request: Request, exc: RedirectableError, req: AuthorizeRequest | None = None) -> Response:
    params = {"error": exc.error, "error_description": exc.description}
    if exc.state is not None:
        params["state"] = exc.state
    return _respond(request, req, exc.redirect_uri, params)


def _finish(request: Request, req: AuthorizeRequest, session: LoginSession) -> Response:
    code = login.issue_code(core_of(request), req, session)
    params = {"code": code}
    if req.state is not None:
        params["state"] = req.state
    return _respond(request, req, req.redirect_uri, params)


def _set_session_cookie(response: Response, request: Request, raw: str) -> None:
    core = core_of(request)
    response.set_cookie(
        SESSION_COOKIE,
        raw,
        max_age=int(core.settings.session_absolute_ttl.total_seconds()),
        httponly=True,
        secure=core.settings.secure_cookies,
        samesite="lax",
        path="/",
    )


async def authorize(request: Request) -> Response:
    core = core_of(request)
    params = parse_qs(request.url.query, keep_blank_values=True)
    try:
        req, _client = await run_in_threadpool(login.validate_authorize, core, params)
    except RedirectableError as exc:
        return _error_redirect(request, exc)
    except AuthorizeError as exc:
        return _error_page(request, exc.error, exc.description)
    session = await run_in_threadpool(login.session_from_cookie, core, request.cookies.get(SESSION_COOKIE))
    now = core.clock.now()
    if session is not None and login.session_satisfies(session, req, now):
        return await run_in_threadpool(_finish, request, req, session)
    if req.prompt and "none" in req.prompt.split():
        error = RedirectableError("login_required", "Login required", req.redirect_uri, req.state)
        return _error_redirect(request, error, req)
    txn = await run_in_threadpool(login.start_transaction, core, req)
    response = RedirectResponse(f"/u/login?state={txn.id}", status_code=302, headers={"Cache-Control": "no-store"})
    # Double submit: the form's CSRF token must also arrive in this cookie, which only this browser holds.
    response.set_cookie(
        TXN_COOKIE,
        f"{txn.id}.{txn.csrf_token}",
        httponly=True,
        samesite="lax",
        path="/u/",
        secure=core.settings.secure_cookies,
        max_age=int(core.settings.login_transaction_ttl.total_seconds()),
    )
    return response


def _txn_cookie_ok(request: Request, txn_id: str, csrf_token: str) -> bool:
    import hmac

    expected = f"{txn_id}.{csrf_token}"
    return hmac.compare_digest(request.cookies.get(TXN_COOKIE, ""), expected)


async def login_page(request: Request) -> Response:
    core = core_of(request)
    txn = await run_in_threadpool(login.load_transaction, core, request.query_params.get("state"))
    if txn is None:
        return _error_page(request, "invalid_request", "This login link has expired. Go back to the app and retry.")
    if request.method == "GET":
        return await _render_login(request, txn.id, txn.csrf_token, txn.client_id, txn.params.get("login_hint") or "")
    form = await request.form(max_files=0, max_fields=20)
    csrf = form_value(form, "csrf_token")
    import hmac

    if not hmac.compare_digest(csrf, txn.csrf_token) or not _txn_cookie_ok(request, txn.id, txn.csrf_token):
        return _error_page(
            request, "invalid_request", "Your login form expired or came from another site. Retry.", status=403
        )
    username, password = form_value(form, "username"), form_value(form, "password")
    caller = caller_of(request)
    user = await run_in_threadpool(login.check_password, core, username, password, caller, client_id=txn.client_id)
    if user is None:
        return await _render_login(
            request, txn.id, txn.csrf_token, txn.client_id, username, error="Wrong email or password.", status=400
        )
    req = AuthorizeRequest.from_dict(txn.params)

    def complete() -> tuple[str, LoginSession] | None:
        with core.db.write() as conn:
            if not SessionStore(conn).complete_transaction(txn.id, now=core.clock.now()):
                return None
        return login.create_session(core, user, amr=("pwd",), caller=caller, client_id=txn.client_id)

    created = await run_in_threadpool(complete)
    if created is None:
        return _error_page(request, "invalid_request", "This login was already completed.")
    raw, session = created
    response = await run_in_threadpool(_finish, request, req, session)
    _set_session_cookie(response, request, raw)
    response.delete_cookie(TXN_COOKIE, path="/u/")
    return response


async def _render_login(
    request: Request, txn_id: str, csrf: str, client_id: str, username: str, error: str | None = None, status: int = 200
) -> Response:
    core = core_of(request)
    with core.db.read() as conn:
        client = ClientStore(conn).get(client_id)
    return _page(
        request,
        "login.html",
        status,
        state=txn_id,
        csrf_token=csrf,
        username=username,
        error=error,
        client_name=client.name if client else "the application",
    )


async def logout(request: Request) -> Response:
    """Auth0's `/v2/logout?client_id&returnTo` and OIDC RP-initiated logout (`post_logout_redirect_uri`)."""
    core = core_of(request)
    await run_in_threadpool(login.end_session, core, request.cookies.get(SESSION_COOKIE))
    return_to = request.query_params.get("returnTo") or request.query_params.get("post_logout_redirect_uri")
    client_id = request.query_params.get("client_id")
    target: str | None = None
    if return_to:
        with core.db.read() as conn:
            clients = [ClientStore(conn).get(client_id)] if client_id else ClientStore(conn).all()
        if any(c is not None and return_to in (c.allowed_logout_urls or c.callbacks) for c in clients):
            target = return_to
    if target:
        state = request.query_params.get("state")
        response: Response = RedirectResponse(_with_query(target, {"state": state}) if state else target, 302)
    else:
        response = _page(request, "logged_out.html")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


routes = [
    Route("/authorize", authorize, methods=["GET"]),
    Route("/u/login", login_page, methods=["GET", "POST"]),
    Route("/v2/logout", logout, methods=["GET"]),
    Route("/oidc/logout", logout, methods=["GET"]),
]
