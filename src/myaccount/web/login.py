"""Hosted login: `/authorize`, the pages under `/u/` (password, passkeys, sign-up, second factors, progressive
passkey enrollment), and logout (`/v2/logout`, `/oidc/logout`).

Every page and JSON call under `/u/` belongs to one login transaction (`?state=`), and every POST carries the
transaction's CSRF token, which must also match the transaction cookie only this browser holds.
"""

import base64
import hmac
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from myaccount import login
from myaccount.login import AuthorizeError, AuthorizeRequest, RedirectableError
from myaccount.login_flow import FlowError, LoginFlow, Step
from myaccount.methods.base import MethodError
from myaccount.methods.otp import normalize_email
from myaccount.mfa import CodeCheckFailed, MfaError, SecondFactors
from myaccount.policy.abuse import Abuse, TooManyAttempts
from myaccount.store.clients import ClientStore
from myaccount.store.sessions import LoginSession, LoginTransaction
from myaccount.web.http import BodyError, caller_of, core_of, form_value, read_form, read_json

__all__ = ["SESSION_COOKIE", "routes", "templates"]

SESSION_COOKIE = "myaccount_session"
TXN_COOKIE = "myaccount_txn"
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

_SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "script-src 'self'; style-src 'self'",
    "Referrer-Policy": "no-referrer",
}
_FACTOR_LABELS = {
    "totp": "Authenticator app",
    "email": "Email code",
    "phone": "Text message",
    "push-notification": "Push notification",
    "recovery-code": "Recovery code",
    "passkey": "Passkey or security key",
    "webauthn-roaming": "Security key",
    "webauthn-platform": "This device",
}


def _flow(request: Request) -> LoginFlow:
    flow: LoginFlow = request.app.state.login_flow
    return flow


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


def _error_redirect(request: Request, req: AuthorizeRequest, error: str, description: str) -> Response:
    params = {"error": error, "error_description": description}
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


def _txn_response(request: Request, txn: LoginTransaction, path: str) -> Response:
    core = core_of(request)
    response = RedirectResponse(f"{path}?state={txn.id}", status_code=302, headers={"Cache-Control": "no-store"})
    # Double submit: a form's CSRF token must also arrive in this cookie, which only this browser holds.
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


# /authorize
async def authorize(request: Request) -> Response:
    core = core_of(request)
    params = parse_qs(request.url.query, keep_blank_values=True)
    try:
        req, _client = await run_in_threadpool(login.validate_authorize, core, params)
    except RedirectableError as exc:
        fake = AuthorizeRequest.from_dict(
            {"redirect_uri": exc.redirect_uri, "state": exc.state, "response_mode": "query"}
        )
        return _error_redirect(request, fake, exc.error, exc.description)
    except AuthorizeError as exc:
        return _error_page(request, exc.error, exc.description)
    session = await run_in_threadpool(login.session_from_cookie, core, request.cookies.get(SESSION_COOKIE))
    now = core.clock.now()
    prompt_none = bool(req.prompt and "none" in req.prompt.split())
    if session is not None and login.session_satisfies(session, req, now):
        txn = await run_in_threadpool(login.start_transaction, core, req)
        flow = _flow(request)
        user = await run_in_threadpool(_session_user, request, session)
        state = {
            "user_id": user,
            "amr": list(session.amr),
            "auth_time": session.auth_time.isoformat(),
            "mfa_done": False,
            "mfa_time": session.mfa_time.isoformat() if session.mfa_time else None,
            "session_id": session.id,
            "sso": True,
        }
        await run_in_threadpool(flow.save, txn, state)
        step = await run_in_threadpool(flow.next_step, txn, caller_of(request))
        if step.kind == "complete":
            return await _advance(request, txn, step)
        if prompt_none:
            await run_in_threadpool(_complete_txn, request, txn)
            error = (
                "unmet_authentication_requirements"
                if req.audience == core.settings.my_account_audience
                else "interaction_required"
            )
            return _error_redirect(request, req, error, "The sign-in needs interaction the request does not allow.")
        return await _advance(request, txn, step, redirect_only=True)
    if prompt_none:
        return _error_redirect(request, req, "login_required", "Login required")
    txn = await run_in_threadpool(login.start_transaction, core, req)
    return _txn_response(request, txn, "/u/signup" if req.screen_hint == "signup" else "/u/login")


def _session_user(request: Request, session: LoginSession) -> str:
    return session.user_id


def _complete_txn(request: Request, txn: LoginTransaction) -> None:
    from myaccount.store.sessions import SessionStore

    core = core_of(request)
    with core.db.write() as conn:
        SessionStore(conn).complete_transaction(txn.id, now=core.clock.now())


# transaction plumbing
async def _txn(request: Request) -> LoginTransaction | None:
    return await run_in_threadpool(login.load_transaction, core_of(request), request.query_params.get("state"))


def _csrf_ok(request: Request, txn: LoginTransaction, token: str) -> bool:
    cookie_ok = hmac.compare_digest(request.cookies.get(TXN_COOKIE, ""), f"{txn.id}.{txn.csrf_token}")
    return cookie_ok and hmac.compare_digest(token, txn.csrf_token)


def _expired(request: Request) -> Response:
    return _error_page(request, "invalid_request", "This sign-in has expired. Go back to the application and retry.")


def _forbidden(request: Request) -> Response:
    return _error_page(
        request, "invalid_request", "Your sign-in form expired or came from another site. Retry.", status=403
    )


async def _at_step(request: Request, txn: LoginTransaction, kind: str) -> bool:
    """Whether the transaction's next step is `kind`. The pages after the first factor serve only their own step:
    jumping ahead to one of them (to enroll an authenticator app or a passkey before the second factor, found by
    the adversarial suite) is refused."""
    try:
        step = await run_in_threadpool(_flow(request).next_step, txn, caller_of(request))
    except FlowError:
        return False
    return step.kind == kind


async def _advance(
    request: Request, txn: LoginTransaction, step: Step | None = None, *, redirect_only: bool = False
) -> Response:
    """Go to the next step of the transaction (a page) or finish it (the redirect back to the application)."""
    flow = _flow(request)
    caller = caller_of(request)
    if step is None:
        try:
            step = await run_in_threadpool(flow.next_step, txn, caller)
        except FlowError as exc:
            return _error_page(request, "invalid_request", str(exc))
    req = AuthorizeRequest.from_dict(txn.params)
    pages = {
        "mfa": "/u/mfa",
        "mfa_enroll": "/u/mfa-enroll",
        "passkey_offer": "/u/passkey-enroll",
        "recovery_code": "/u/recovery-code",
    }
    if step.kind in pages:
        if step.kind == "mfa":
            await run_in_threadpool(flow.save, txn, {**txn.state, "factors": list(step.factors)})
        return (
            _txn_response(request, txn, pages[step.kind])
            if redirect_only
            else RedirectResponse(f"{pages[step.kind]}?state={txn.id}", status_code=303)
        )
    if step.kind in ("deny", "unmet"):
        await run_in_threadpool(_complete_txn, request, txn)
        error = "access_denied" if step.kind == "deny" else "unmet_authentication_requirements"
        return _error_redirect(request, req, error, step.detail)
    try:
        raw, _session, code = await run_in_threadpool(flow.finish, txn, caller, step)
    except FlowError as exc:
        return _error_page(request, "invalid_request", str(exc))
    params = {"code": code}
    if req.state is not None:
        params["state"] = req.state
    response = _respond(request, req, req.redirect_uri, params)
    if raw is not None:
        _set_session_cookie(response, request, raw)
    response.delete_cookie(TXN_COOKIE, path="/u/")
    return response


async def _json_answer(request: Request, txn: LoginTransaction, step: Step | None = None) -> Response:
    """For the pages' scripts: where the browser goes next."""
    response = await _advance(request, txn, step)
    location = response.headers.get("location")
    if location is None:  # form_post or an error page: let the browser load it by submitting the page again
        return JSONResponse({"redirect": f"/u/continue?state={txn.id}"})
    answer = JSONResponse({"redirect": location})
    for key, value in response.headers.items():
        if key == "set-cookie":
            answer.headers.append("set-cookie", value)
    return answer


async def _read_script_post(request: Request) -> tuple[LoginTransaction | None, dict[str, Any] | None, Response | None]:
    txn = await _txn(request)
    if txn is None:
        return None, None, JSONResponse({"error": "This sign-in has expired. Start again."}, status_code=400)
    if not _csrf_ok(request, txn, request.headers.get("x-csrf-token", "")):
        return None, None, JSONResponse({"error": "Forbidden."}, status_code=403)
    try:
        body = await read_json(request)
    except BodyError as exc:
        return None, None, JSONResponse({"error": exc.detail}, status_code=exc.status)
    if not isinstance(body, dict):
        return None, None, JSONResponse({"error": "Expected a JSON object."}, status_code=400)
    return txn, body, None


# first factor: password
async def login_page(request: Request) -> Response:
    core = core_of(request)
    txn = await _txn(request)
    if txn is None:
        return _expired(request)
    if request.method == "GET":
        return await _render_login(request, txn, txn.params.get("login_hint") or "")
    form = await read_form(request)
    if not _csrf_ok(request, txn, form_value(form, "csrf_token")):
        return _forbidden(request)
    username, password = form_value(form, "username"), form_value(form, "password")
    caller = caller_of(request)
    try:
        user = await run_in_threadpool(login.check_password, core, username, password, caller, client_id=txn.client_id)
    except TooManyAttempts as exc:
        response = await _render_login(request, txn, username, error=exc.detail, status=429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    if user is None:
        return await _render_login(request, txn, username, error="Wrong email or password.", status=400)
    await run_in_threadpool(_flow(request).first_factor, txn, user, amr=("pwd",), mfa=False)
    return await _advance(request, txn)


async def _client_name(request: Request, client_id: str) -> str:
    with core_of(request).db.read() as conn:
        client = ClientStore(conn).get(client_id)
    return client.name if client else "the application"


async def _render_login(
    request: Request, txn: LoginTransaction, username: str, error: str | None = None, status: int = 200
) -> Response:
    return _page(
        request,
        "login.html",
        status,
        state=txn.id,
        csrf_token=txn.csrf_token,
        username=username,
        error=error,
        client_name=await _client_name(request, txn.client_id),
        passkeys=_flow(request).passkeys is not None,
    )


# first factor: passkey (button and autofill)
async def passkey_options(request: Request) -> Response:
    txn, _body, problem = await _read_script_post(request)
    if problem or txn is None:
        return problem or JSONResponse({}, status_code=400)
    try:
        options = await run_in_threadpool(_flow(request).passkey_options, txn, key="passkey_login")
    except FlowError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"publicKey": options})


async def passkey_login(request: Request) -> Response:
    txn, body, problem = await _read_script_post(request)
    if problem or txn is None or body is None:
        return problem or JSONResponse({}, status_code=400)
    flow = _flow(request)
    caller = caller_of(request)
    try:
        Abuse(core_of(request)).check_login(caller, None, client_id=txn.client_id)
    except TooManyAttempts as exc:
        return JSONResponse({"error": exc.detail}, status_code=429, headers={"Retry-After": str(exc.retry_after)})
    try:
        user, _method, verified = await run_in_threadpool(
            flow.passkey_assertion, txn, body.get("credential"), caller, key="passkey_login"
        )
    except FlowError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    # A passkey is two factors only when the authenticator verified the user (UV); presence alone is one, and
    # the MFA policy then asks for a second factor, as the native passkey grant does.
    amr = ("passkey", "mfa") if verified else ("passkey",)
    await run_in_threadpool(flow.first_factor, txn, user, amr=amr, mfa=verified)
    return await _json_answer(request, txn)


# sign-up with a passkey
async def signup_page(request: Request) -> Response:
    txn = await _txn(request)
    if txn is None:
        return _expired(request)
    return _page(
        request,
        "signup.html",
        state=txn.id,
        csrf_token=txn.csrf_token,
        client_name=await _client_name(request, txn.client_id),
        passkeys=_flow(request).passkeys is not None,
    )


async def signup_options(request: Request) -> Response:
    txn, body, problem = await _read_script_post(request)
    if problem or txn is None or body is None:
        return problem or JSONResponse({}, status_code=400)
    email, name = body.get("email"), body.get("name")
    if not isinstance(email, str) or (name is not None and not isinstance(name, str)):
        return JSONResponse({"error": "Enter your email address."}, status_code=400)
    try:
        address = normalize_email(email)
    except MethodError:
        return JSONResponse({"error": "Enter a valid email address."}, status_code=400)
    try:
        Abuse(core_of(request)).signup(caller_of(request))
        options = await run_in_threadpool(
            _flow(request).signup_options, txn, email=address, name=(name or "").strip()[:300] or None
        )
    except TooManyAttempts as exc:
        return JSONResponse({"error": exc.detail}, status_code=429, headers={"Retry-After": str(exc.retry_after)})
    except FlowError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"publicKey": options})


async def signup_passkey(request: Request) -> Response:
    txn, body, problem = await _read_script_post(request)
    if problem or txn is None or body is None:
        return problem or JSONResponse({}, status_code=400)
    flow = _flow(request)
    try:
        user = await run_in_threadpool(flow.signup_complete, txn, body.get("credential"), caller_of(request))
    except FlowError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    await run_in_threadpool(flow.first_factor, txn, user, amr=("passkey", "mfa"), mfa=True)
    return await _json_answer(request, txn)


# second factors
async def mfa_page(request: Request) -> Response:
    txn = await _txn(request)
    if txn is None:
        return _expired(request)
    flow = _flow(request)
    try:
        user = await run_in_threadpool(flow.user, txn)
    except FlowError as exc:
        return _error_page(request, "invalid_request", str(exc))
    factors = SecondFactors(core_of(request))
    allowed = set(txn.state.get("factors") or [])
    options = [o for o in await run_in_threadpool(factors.options, user.id) if not allowed or o.type in allowed]
    if not options:
        return _error_page(request, "access_denied", "No second factor is available for this account.")
    chosen_id = request.query_params.get("factor") or txn.state.get("mfa_method") or options[0].method_id
    chosen = next((o for o in options if o.method_id == chosen_id), options[0])
    error: str | None = None
    if request.method == "POST":
        form = await read_form(request)
        if not _csrf_ok(request, txn, form_value(form, "csrf_token")):
            return _forbidden(request)
        action = form_value(form, "action")
        method_id = form_value(form, "method_id")
        chosen = next((o for o in options if o.method_id == method_id), chosen)
        if action == "resend" and chosen.type in ("email", "phone"):
            await run_in_threadpool(flow.save, txn, {**txn.state, "mfa_pending": None})
        else:
            result = await _check_factor(request, txn, user.id, chosen.type, chosen.method_id, form_value(form, "code"))
            if result is None:
                return await _advance(request, txn)
            error = result
    await run_in_threadpool(flow.save, txn, {**txn.state, "mfa_method": chosen.method_id})
    sent_to: str | None = None
    if chosen.type in ("email", "phone"):
        pending = txn.state.get("mfa_pending") or {}
        if pending.get("method_id") != chosen.method_id:
            try:
                Abuse(core_of(request)).code_send(caller_of(request), user.id)
                state = await factors.send_code(factors.method(user.id, chosen.method_id))
            except TooManyAttempts as exc:
                error = exc.detail
            except MfaError as exc:
                error = exc.detail
            else:
                await run_in_threadpool(flow.save, txn, {**txn.state, "mfa_pending": state})
        sent_to = chosen.label
    if chosen.type == "push-notification" and not (txn.state.get("mfa_pending") or {}).get("push_challenge"):
        from myaccount import push

        challenge_id = await run_in_threadpool(
            lambda: push.create_challenge(
                core_of(request),
                user.id,
                client_id=txn.client_id,
                binding={"client": txn.client_id, "ip": caller_of(request).ip},
            )
        )
        await run_in_threadpool(
            flow.save,
            txn,
            {**txn.state, "mfa_pending": {"push_challenge": challenge_id, "method_id": chosen.method_id}},
        )
    return _page(
        request,
        "mfa.html",
        400 if error else 200,
        state=txn.id,
        csrf_token=txn.csrf_token,
        factor=chosen,
        options=options,
        labels=_FACTOR_LABELS,
        error=error,
        sent_to=sent_to,
    )


async def _check_factor(
    request: Request, txn: LoginTransaction, user_id: str, type_: str, method_id: str, code: str
) -> str | None:
    """None when the factor checked out (and the transaction moved on); otherwise the message to show."""
    core = core_of(request)
    flow = _flow(request)
    factors = SecondFactors(core)
    attempts = int(txn.state.get("mfa_attempts", 0))
    if attempts >= 5:
        return "Too many wrong codes. Go back to the application and sign in again."
    await run_in_threadpool(flow.save, txn, {**txn.state, "mfa_attempts": attempts + 1})
    try:
        if type_ == "totp":
            await run_in_threadpool(factors.check_totp, user_id, code.strip())
            factor = "otp"
        elif type_ in ("email", "phone"):
            pending = txn.state.get("mfa_pending") or {}
            if pending.get("method_id") != method_id:
                return "Request a code first."
            try:
                updated = await run_in_threadpool(factors.check_code, dict(pending), code.strip())
            except CodeCheckFailed as exc:
                await run_in_threadpool(
                    flow.save, txn, {**txn.state, "mfa_pending": exc.state | {"method_id": method_id}}
                )
                raise
            factors.touch(user_id, method_id)
            await run_in_threadpool(flow.save, txn, {**txn.state, "mfa_pending": updated})
            factor = "oob"
        elif type_ == "recovery-code":
            await run_in_threadpool(factors.use_recovery_code, user_id, code)
            await run_in_threadpool(flow.save, txn, {**txn.state, "recovery_used": True})
            factor = "recovery-code"
        elif type_ == "push-notification":
            from myaccount import push

            pending = txn.state.get("mfa_pending") or {}
            status = await run_in_threadpool(push.challenge_status, core, str(pending.get("push_challenge", "")))
            if status != "approved":
                return "Waiting for approval on your device." if status == "pending" else f"The request was {status}."
            factors.touch(user_id, method_id)
            factor = "push"
        else:
            return "Use the button to sign in with your security key."
    except MfaError as exc:
        return exc.detail
    await run_in_threadpool(flow.second_factor_done, txn, factor)
    return None


async def mfa_webauthn_options(request: Request) -> Response:
    txn, _body, problem = await _read_script_post(request)
    if problem or txn is None:
        return problem or JSONResponse({}, status_code=400)
    flow = _flow(request)
    try:
        user = await run_in_threadpool(flow.user, txn)
        options = await run_in_threadpool(lambda: flow.passkey_options(txn, key="mfa_webauthn", user=user))
    except FlowError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"publicKey": options})


async def mfa_webauthn(request: Request) -> Response:
    txn, body, problem = await _read_script_post(request)
    if problem or txn is None or body is None:
        return problem or JSONResponse({}, status_code=400)
    flow = _flow(request)
    try:
        user = await run_in_threadpool(flow.user, txn)
        await run_in_threadpool(
            lambda: flow.passkey_assertion(
                txn, body.get("credential"), caller_of(request), key="mfa_webauthn", user_id=user.id
            )
        )
    except FlowError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    await run_in_threadpool(flow.second_factor_done, txn, "hwk")
    return await _json_answer(request, txn)


async def mfa_push_status(request: Request) -> Response:
    txn = await _txn(request)
    if txn is None:
        return JSONResponse({"status": "expired"})
    from myaccount import push

    pending = txn.state.get("mfa_pending") or {}
    status = await run_in_threadpool(push.challenge_status, core_of(request), str(pending.get("push_challenge", "")))
    return JSONResponse({"status": status})


# enrolling a first second factor when the policy demands one (an authenticator app)
async def mfa_enroll_page(request: Request) -> Response:
    txn = await _txn(request)
    if txn is None:
        return _expired(request)
    if not await _at_step(request, txn, "mfa_enroll"):
        return _forbidden(request)
    flow = _flow(request)
    core = core_of(request)
    factors = SecondFactors(core)
    try:
        user = await run_in_threadpool(flow.user, txn)
    except FlowError as exc:
        return _error_page(request, "invalid_request", str(exc))
    error = None
    enrollment = txn.state.get("totp_enroll")
    if request.method == "POST" and isinstance(enrollment, dict):
        form = await read_form(request)
        if not _csrf_ok(request, txn, form_value(form, "csrf_token")):
            return _forbidden(request)
        attempts = int(txn.state.get("mfa_attempts", 0))
        if attempts >= 5:
            return _error_page(request, "access_denied", "Too many wrong codes. Sign in again.")
        await run_in_threadpool(flow.save, txn, {**txn.state, "mfa_attempts": attempts + 1})
        try:
            enrolled = factors.totp.complete(enrollment, form_value(form, "code").strip())
        except MethodError as exc:
            error = exc.detail
        else:
            await run_in_threadpool(_store_totp, request, user.id, enrolled.secret or {})
            await run_in_threadpool(flow.save, txn, {**txn.state, "totp_enroll": None})
            await run_in_threadpool(flow.second_factor_done, txn, "otp")
            return await _advance(request, txn)
    if not isinstance(enrollment, dict):
        from myaccount.methods.base import Subject

        challenge = factors.totp.begin(
            Subject(user.id, user.email, user.name, b""), account_label=user.email or user.id
        )
        enrollment = dict(challenge.state) | {"uri": challenge.public["barcode_uri"]}
        await run_in_threadpool(flow.save, txn, {**txn.state, "totp_enroll": enrollment})
    qr = _qr_svg(str(enrollment["uri"]))
    return _page(
        request,
        "mfa_enroll.html",
        400 if error else 200,
        state=txn.id,
        csrf_token=txn.csrf_token,
        secret=enrollment["secret"],
        qr=qr,
        error=error,
    )


def _store_totp(request: Request, user_id: str, secret: dict[str, Any]) -> None:
    import json

    from myaccount.ids import alnum
    from myaccount.store.methods import MethodRecord, MethodStore

    core = core_of(request)
    sealed = core.sealer.seal(json.dumps(secret).encode(), purpose="method-secret")
    with core.db.write() as conn:
        MethodStore(conn).add(
            MethodRecord(
                id=f"totp|dev_{alnum(16)}",
                user_id=user_id,
                type="totp",
                name=None,
                confirmed=True,
                created_at=core.clock.now(),
                secret=sealed,
            )
        )


def _qr_svg(data: str) -> str:
    import io

    import segno

    buffer = io.BytesIO()
    segno.make(data, error="m").save(buffer, kind="svg", scale=4, xmldecl=False, svgns=True)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


# after a recovery code: a new one, shown once
async def recovery_code_page(request: Request) -> Response:
    txn = await _txn(request)
    if txn is None:
        return _expired(request)
    flow = _flow(request)
    # Only once this sign-in has spent a recovery code as its second factor (_check_factor). Before that, a new
    # code shown here would itself be a second factor, handed to whoever knows the password.
    if not txn.state.get("recovery_used") or txn.state.get("recovery_replaced"):
        return _forbidden(request)
    if request.method == "POST":
        form = await read_form(request)
        if not _csrf_ok(request, txn, form_value(form, "csrf_token")) or not txn.state.get("new_recovery_shown"):
            return _forbidden(request)
        await run_in_threadpool(flow.save, txn, {**txn.state, "recovery_replaced": True})
        return await _advance(request, txn)
    try:
        user = await run_in_threadpool(flow.user, txn)
    except FlowError as exc:
        return _error_page(request, "invalid_request", str(exc))
    code = await run_in_threadpool(SecondFactors(core_of(request)).new_recovery_code, user.id)
    await run_in_threadpool(flow.save, txn, {**txn.state, "new_recovery_shown": True})
    return _page(request, "recovery_code.html", state=txn.id, csrf_token=txn.csrf_token, code=code)


# progressive passkey enrollment
async def passkey_enroll_page(request: Request) -> Response:
    txn = await _txn(request)
    if txn is None:
        return _expired(request)
    if not await _at_step(request, txn, "passkey_offer"):
        return _forbidden(request)
    flow = _flow(request)
    if request.method == "POST":
        form = await read_form(request)
        if not _csrf_ok(request, txn, form_value(form, "csrf_token")):
            return _forbidden(request)
        await run_in_threadpool(lambda: flow.dismiss_passkey_offer(txn, forever=form_value(form, "action") == "never"))
        return await _advance(request, txn)
    return _page(request, "passkey_enroll.html", state=txn.id, csrf_token=txn.csrf_token)


async def passkey_enroll_options(request: Request) -> Response:
    txn, _body, problem = await _read_script_post(request)
    if problem or txn is None:
        return problem or JSONResponse({}, status_code=400)
    if not await _at_step(request, txn, "passkey_offer"):
        return JSONResponse({"error": "Forbidden."}, status_code=403)
    try:
        options = await run_in_threadpool(_flow(request).enroll_options, txn)
    except FlowError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return JSONResponse({"publicKey": options})


async def passkey_enroll_complete(request: Request) -> Response:
    txn, body, problem = await _read_script_post(request)
    if problem or txn is None or body is None:
        return problem or JSONResponse({}, status_code=400)
    if not await _at_step(request, txn, "passkey_offer"):
        return JSONResponse({"error": "Forbidden."}, status_code=403)
    flow = _flow(request)
    try:
        await run_in_threadpool(flow.enroll_complete, txn, body.get("credential"), caller_of(request))
    except FlowError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    await run_in_threadpool(lambda: flow.dismiss_passkey_offer(txn, forever=False))
    return await _json_answer(request, txn)


async def continue_page(request: Request) -> Response:
    """Where scripts send the browser when the next step is a page rather than a redirect."""
    txn = await _txn(request)
    if txn is None:
        return _expired(request)
    return await _advance(request, txn)


# logout
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
    Route("/u/login/passkey/options", passkey_options, methods=["POST"]),
    Route("/u/login/passkey", passkey_login, methods=["POST"]),
    Route("/u/signup", signup_page, methods=["GET"]),
    Route("/u/signup/options", signup_options, methods=["POST"]),
    Route("/u/signup/passkey", signup_passkey, methods=["POST"]),
    Route("/u/mfa", mfa_page, methods=["GET", "POST"]),
    Route("/u/mfa/webauthn/options", mfa_webauthn_options, methods=["POST"]),
    Route("/u/mfa/webauthn", mfa_webauthn, methods=["POST"]),
    Route("/u/mfa/push-status", mfa_push_status, methods=["GET"]),
    Route("/u/mfa-enroll", mfa_enroll_page, methods=["GET", "POST"]),
    Route("/u/recovery-code", recovery_code_page, methods=["GET", "POST"]),
    Route("/u/passkey-enroll", passkey_enroll_page, methods=["GET", "POST"]),
    Route("/u/passkey-enroll/options", passkey_enroll_options, methods=["POST"]),
    Route("/u/passkey-enroll/complete", passkey_enroll_complete, methods=["POST"]),
    Route("/u/continue", continue_page, methods=["GET"]),
    Route("/v2/logout", logout, methods=["GET"]),
    Route("/oidc/logout", logout, methods=["GET"]),
]
