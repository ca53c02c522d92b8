"""Browser sign-in: validating `/authorize`, the login transaction, browser sessions and authorization codes.

OIDC Core §3.1.2 and RFC 6749 §4.1 with Auth0's behaviour: redirect URIs match a registered callback exactly;
errors about the client or redirect URI are shown, never redirected (an open redirector is a phishing tool);
everything else is redirected back with `error`, `error_description` and `state`.
"""

import re
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from myaccount.audit import Caller, record
from myaccount.core import Core
from myaccount.ids import alnum, token
from myaccount.oauth import pkce
from myaccount.oauth.grants.authorization_code import CODE_PURPOSE
from myaccount.policy.abuse import Abuse
from myaccount.policy.scopes import split_scope
from myaccount.store.clients import Client, ClientStore
from myaccount.store.grants import AuthorizationCode, GrantStore
from myaccount.store.sessions import LoginSession, LoginTransaction, SessionStore
from myaccount.store.users import User, UserStore

__all__ = [
    "AuthorizeError",
    "AuthorizeRequest",
    "SESSION_PURPOSE",
    "create_session",
    "issue_code",
    "session_from_cookie",
    "start_transaction",
    "validate_authorize",
]

SESSION_PURPOSE = "login-session"
_PROMPTS = {"none", "login", "consent", "select_account"}


class AuthorizeError(Exception):
    """An /authorize error. `redirect` is False when the client or redirect URI cannot be trusted."""

    def __init__(self, error: str, description: str, *, redirect: bool) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.redirect = redirect


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    client_id: str
    redirect_uri: str
    response_mode: str
    scope: str
    state: str | None
    nonce: str | None
    audience: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    prompt: str | None
    max_age: int | None
    login_hint: str | None
    screen_hint: str | None
    acr_values: str | None = None
    dpop_jkt: str | None = None  # RFC 9449 §10: the code is bound to this DPoP key

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "AuthorizeRequest":
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


def _one(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name) or []
    if len(values) > 1:
        raise AuthorizeError("invalid_request", f"Parameter '{name}' is repeated.", redirect=True)
    return values[0] if values else None


def validate_authorize(core: Core, params: Mapping[str, list[str]]) -> tuple[AuthorizeRequest, Client]:
    client_ids = params.get("client_id") or []
    client_id = client_ids[0] if client_ids else None
    if not client_id:
        raise AuthorizeError("invalid_request", "Missing required parameter: client_id", redirect=False)
    with core.db.read() as conn:
        client = ClientStore(conn).get(client_id)
    if client is None:
        raise AuthorizeError("invalid_request", "Unknown client.", redirect=False)
    redirect_values = params.get("redirect_uri") or []
    if len(redirect_values) > 1:
        raise AuthorizeError("invalid_request", "Parameter 'redirect_uri' is repeated.", redirect=False)
    redirect_uri = redirect_values[0] if redirect_values else None
    if redirect_uri is None:
        if len(client.callbacks) != 1:
            raise AuthorizeError("invalid_request", "Missing required parameter: redirect_uri", redirect=False)
        redirect_uri = client.callbacks[0]
    if redirect_uri not in client.callbacks:
        raise AuthorizeError(
            "invalid_request",
            f'The redirect_uri "{redirect_uri}" is not in the list of allowed callback URLs.',
            redirect=False,
        )
    # From here on errors go back to the (now trusted) redirect URI.
    state = _one(params, "state")
    response_mode = _one(params, "response_mode") or "query"
    if response_mode not in ("query", "form_post"):
        raise _redirectable("invalid_request", f"Unsupported response_mode: {response_mode}", redirect_uri, state)
    try:
        response_type = _one(params, "response_type")
        if response_type != "code":
            raise AuthorizeError(
                "unsupported_response_type", f"Unsupported response type: {response_type}", redirect=True
            )
        if "authorization_code" not in client.grant_types:
            raise AuthorizeError(
                "unauthorized_client", "The client may not use the authorization code grant.", redirect=True
            )
        challenge = _one(params, "code_challenge")
        method = _one(params, "code_challenge_method")
        if challenge is not None:
            method = method or "plain"
            if method != pkce.S256:
                raise AuthorizeError("invalid_request", "code_challenge_method must be S256.", redirect=True)
            if not pkce.valid_challenge(challenge):
                raise AuthorizeError("invalid_request", "code_challenge is not a valid S256 challenge.", redirect=True)
        elif client.is_public:
            raise AuthorizeError(
                "invalid_request", "Public clients must send a PKCE code_challenge (S256).", redirect=True
            )
        prompt = _one(params, "prompt")
        if prompt is not None and not set(prompt.split()) <= _PROMPTS:
            raise AuthorizeError("invalid_request", f"Unsupported prompt: {prompt}", redirect=True)
        max_age_raw = _one(params, "max_age")
        max_age = None
        if max_age_raw is not None:
            if not max_age_raw.isdigit():
                raise AuthorizeError("invalid_request", "max_age must be a non-negative integer.", redirect=True)
            max_age = int(max_age_raw)
        audience = _one(params, "audience")
        if audience:
            with core.db.read() as conn:
                if ClientStore(conn).resource_server(audience) is None:
                    raise AuthorizeError("access_denied", f"Service not found: {audience}", redirect=True)
        dpop_jkt = _one(params, "dpop_jkt")
        if dpop_jkt is not None and not re.fullmatch(r"[A-Za-z0-9_-]{43}", dpop_jkt):
            raise AuthorizeError(
                "invalid_request", "dpop_jkt must be a JWK SHA-256 thumbprint (RFC 7638).", redirect=True
            )
        scope = _one(params, "scope") or "openid"
        if len(scope) > 2000:
            raise AuthorizeError("invalid_scope", "scope is too long.", redirect=True)
        return (
            AuthorizeRequest(
                client_id=client.client_id,
                redirect_uri=redirect_uri,
                response_mode=response_mode,
                scope=" ".join(split_scope(scope)),
                state=state,
                nonce=_one(params, "nonce"),
                audience=audience,
                code_challenge=challenge,
                code_challenge_method=method if challenge else None,
                prompt=prompt,
                max_age=max_age,
                login_hint=_one(params, "login_hint"),
                screen_hint=_one(params, "screen_hint"),
                acr_values=_one(params, "acr_values"),
                dpop_jkt=dpop_jkt,
            ),
            client,
        )
    except AuthorizeError as exc:
        raise _redirectable(exc.error, exc.description, redirect_uri, state) from exc


class RedirectableError(AuthorizeError):
    def __init__(self, error: str, description: str, redirect_uri: str, state: str | None) -> None:
        super().__init__(error, description, redirect=True)
        self.redirect_uri = redirect_uri
        self.state = state


def _redirectable(error: str, description: str, redirect_uri: str, state: str | None) -> RedirectableError:
    return RedirectableError(error, description, redirect_uri, state)


def start_transaction(core: Core, req: AuthorizeRequest) -> LoginTransaction:
    now = core.clock.now()
    txn = LoginTransaction(
        id=alnum(32),
        client_id=req.client_id,
        params=req.as_dict(),
        csrf_token=secrets.token_urlsafe(32),
        state={},
        created_at=now,
        expires_at=now + core.settings.login_transaction_ttl,
        completed_at=None,
    )
    with core.db.write() as conn:
        SessionStore(conn).add_transaction(txn)
    return txn


def load_transaction(core: Core, txn_id: str | None) -> LoginTransaction | None:
    if not txn_id or len(txn_id) > 64:
        return None
    with core.db.read() as conn:
        txn = SessionStore(conn).transaction(txn_id)
    if txn is None or txn.completed_at is not None or txn.expires_at <= core.clock.now():
        return None
    return txn


def check_password(core: Core, identifier: str, password: str, caller: Caller, *, client_id: str) -> User | None:
    """The login form's check. Unknown users cost one argon2 verify too (no timing oracle)."""
    abuse = Abuse(core)
    abuse.check_login(caller, identifier, client_id=client_id)  # raises TooManyAttempts
    with core.db.read() as conn:
        user = UserStore(conn).by_login(identifier) if identifier and len(identifier) <= 320 else None
    ok = core.passwords.verify(user.password_hash if user else None, password[:1024])
    if not ok:
        abuse.failed_login(caller, identifier, user_id=user.id if user else None, client_id=client_id)
    if user is None or not ok or user.blocked:
        with core.db.write() as conn:
            record(
                conn,
                core.clock,
                "f" if user and ok else ("fp" if user else "fu"),
                caller=caller,
                outcome="failure",
                user_id=user.id if user else None,
                client_id=client_id,
                description="user is blocked" if user and ok else "Wrong email or password.",
            )
        return None
    return user


def create_session(
    core: Core,
    user: User,
    *,
    amr: tuple[str, ...],
    caller: Caller,
    client_id: str,
    mfa: bool = False,
    auth_time: datetime | None = None,
) -> tuple[str, LoginSession]:
    """A fresh session id at every login: a session id planted before login is never promoted (fixation)."""
    now = core.clock.now()
    raw = token(32)
    session = LoginSession(
        id=core.fingerprint(raw, purpose=SESSION_PURPOSE),
        user_id=user.id,
        created_at=now,
        last_seen_at=now,
        expires_at=now + core.settings.session_absolute_ttl,
        auth_time=auth_time or now,
        amr=list(amr),
        mfa_time=now if mfa else None,
        revoked_at=None,
        ip=caller.ip,
        user_agent=(caller.user_agent or "")[:500] or None,
    )
    with core.db.write() as conn:
        SessionStore(conn).add_login_session(session)
        UserStore(conn).record_login(user.id, now=now, ip=caller.ip)
        record(
            conn,
            core.clock,
            "s",
            caller=caller,
            user_id=user.id,
            client_id=client_id,
            description="Successful login",
            amr=list(amr),
        )
    return raw, session


def session_from_cookie(core: Core, raw: str | None) -> LoginSession | None:
    if not raw or len(raw) > 128:
        return None
    now = core.clock.now()
    with core.db.read() as conn:
        session = SessionStore(conn).login_session(core.fingerprint(raw, purpose=SESSION_PURPOSE))
        if session is None or session.revoked_at or session.expires_at <= now:
            return None
        if session.last_seen_at + core.settings.session_idle_ttl <= now:
            return None
        user = UserStore(conn).get(session.user_id)
    if user is None or user.blocked:
        return None
    return session


def end_session(core: Core, raw: str | None) -> None:
    if not raw or len(raw) > 128:
        return
    with core.db.write() as conn:
        SessionStore(conn).revoke_login_session(core.fingerprint(raw, purpose=SESSION_PURPOSE), now=core.clock.now())


def session_satisfies(session: LoginSession, req: AuthorizeRequest, now: datetime) -> bool:
    """Whether an existing session may answer this request without a new login (prompt=login, max_age)."""
    if req.prompt and "login" in req.prompt.split():
        return False
    if req.max_age is not None and (now - session.auth_time).total_seconds() > req.max_age:
        return False
    return True


def issue_code(
    core: Core, req: AuthorizeRequest, session: LoginSession, *, claims: dict[str, Any] | None = None
) -> str:
    now = core.clock.now()
    raw = token(32)
    with core.db.write() as conn:
        GrantStore(conn).add_code(
            AuthorizationCode(
                code_hash=core.fingerprint(raw, purpose=CODE_PURPOSE),
                client_id=req.client_id,
                user_id=session.user_id,
                session_id=session.id[:32],
                redirect_uri=req.redirect_uri,
                audience=req.audience,
                scope=req.scope,
                nonce=req.nonce,
                code_challenge=req.code_challenge,
                code_challenge_method=req.code_challenge_method,
                auth_time=session.auth_time,
                amr=list(session.amr),
                mfa_time=session.mfa_time,
                created_at=now,
                expires_at=now + core.settings.authorization_code_ttl,
                claims=({**(claims or {}), "dpop_jkt": req.dpop_jkt} if req.dpop_jkt else claims) or None,
            )
        )
        SessionStore(conn).touch_login_session(session.id, now=now)
    return raw
