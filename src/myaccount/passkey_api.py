"""Auth0's Native Passkey API: sign-up and login challenges, and finishing them with the passkey grant.

`POST /passkey/register` and `POST /passkey/challenge` return WebAuthn options behind a single-use, client-bound
`auth_session` (https://auth0.com/docs/native-passkeys-api, contracts/auth0-wire-notes.md §6). The grant
`urn:okta:params:oauth:grant-type:webauthn` (oauth/grants/webauthn.py) hands the authenticator's answer to
`finish`. A sign-up creates no user until then: the profile and a fresh WebAuthn user handle wait in the
session state, and user, passkey and session consumption are committed in one transaction.

Every failure after the session is loaded burns the session: a WebAuthn challenge is good for one ceremony
(WebAuthn L3 §13.4.3), and nothing else is written but an audit event.
"""

import base64
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError
from webauthn.helpers import parse_attestation_object

from myaccount import auth_sessions
from myaccount.audit import Caller, record
from myaccount.core import Core
from myaccount.ids import alnum, new_user_id
from myaccount.methods import authenticators
from myaccount.methods.base import Enrolled, MethodError, MethodType, Subject
from myaccount.methods.otp import normalize_email
from myaccount.methods.passkey import Passkeys, SignCountRegressed, credential_id_of
from myaccount.my_account.factors import enabled_factors
from myaccount.oauth.clients import authenticate_client
from myaccount.oauth.errors import InvalidGrant, InvalidRequest, OAuthError, UnauthorizedClient
from myaccount.store.clients import Client, ClientStore
from myaccount.store.methods import MethodRecord, MethodStore
from myaccount.store.schema import authentication_methods
from myaccount.store.users import User, UserStore

__all__ = [
    "DATABASE_CONNECTION",
    "GRANT_TYPE",
    "LOGIN",
    "SESSION_ERROR",
    "SIGNUP",
    "Blocked",
    "PasskeysUnavailable",
    "SignedIn",
    "finish",
    "login_challenge",
    "passkeys_for",
    "signup_challenge",
]

GRANT_TYPE = "urn:okta:params:oauth:grant-type:webauthn"
DATABASE_CONNECTION = "Username-Password-Authentication"
SIGNUP = "passkey-signup"  # auth_sessions.kind
LOGIN = "passkey-login"
SESSION_ERROR = "The auth_session is invalid, expired or already used."
USER_EXISTS = "The user already exists."

# user_profile as Auth0 documents it for /passkey/register: property → maximum length.
_PROFILE_LIMITS = {
    "email": 254,
    "phone_number": 30,
    "username": 128,
    "name": 300,
    "given_name": 150,
    "family_name": 150,
    "nickname": 300,
    "picture": 2048,
}
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_USERNAME = re.compile(r"[^\s@]+")
_MAX_METADATA_KEYS = 10
_MAX_METADATA_VALUE = 500
_HANDLE_BYTES = 32  # the same size UserStore gives users created otherwise


class PasskeysUnavailable(OAuthError):
    """Auth0 answers 404 when the Passkey APIs are not enabled for the connection."""

    error = "not_found"
    status = 404


class Blocked(OAuthError):
    """Auth0's answer for a blocked user at the token endpoint, as the password grant gives it."""

    error = "unauthorized"
    status = 401


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A passkey ceremony that checked out: who, whether the authenticator verified the user, and if it was new."""

    user: User
    user_verified: bool
    signed_up: bool


def passkeys_for(core: Core) -> Passkeys:
    """The relying party as Auth0's Passkey API presents it: `rp.name` is the RP ID itself (§6.1)."""
    settings = core.settings
    try:
        return Passkeys(rp_id=settings.rp_id, rp_name=settings.rp_id, origins=settings.allowed_webauthn_origins)
    except ValueError as exc:
        # Browsers refuse WebAuthn on IP addresses and outside secure contexts; the API is then off.
        raise PasskeysUnavailable(f"Passkeys are not available on this server: {exc}") from exc


def signup_challenge(
    core: Core, params: Mapping[str, Any], *, basic: tuple[str, str] | None, caller: Caller
) -> dict[str, Any]:
    """`POST /passkey/register`: creation options (WebAuthn §5.4) for a user that does not exist yet."""
    client = _client(core, params, basic)
    realm = _realm(params)
    _no_organization(params)
    profile = _profile(params.get("user_profile"))
    metadata = _metadata(params.get("user_metadata"))
    passkeys = _enabled_passkeys(core)
    with core.db.read() as conn:
        if _taken(UserStore(conn), profile):
            # Auth0's documented answer (§6.1). It does tell whether an account exists; rate limits bound that.
            raise InvalidRequest(USER_EXISTS)
    handle = secrets.token_bytes(_HANDLE_BYTES)
    email = profile["email"]
    challenge = passkeys.begin(
        Subject(user_id="", email=email, name=profile.get("name"), webauthn_user_handle=handle),
        display_name=profile.get("name") or email,
        user_name=email,  # the highest-precedence identifier; email is the one the connection requires
        exclude=(),
    )
    state = {"ceremony": challenge.state, "profile": profile, "user_metadata": metadata, "realm": realm}
    with core.db.write() as conn:
        session = auth_sessions.open_session(
            core, conn, user_id=None, client_id=client.client_id, kind=SIGNUP, method_type="passkey", state=state
        )
    return {"auth_session": session, **challenge.public}


def login_challenge(
    core: Core, params: Mapping[str, Any], *, basic: tuple[str, str] | None, caller: Caller
) -> dict[str, Any]:
    """`POST /passkey/challenge`: request options (WebAuthn §5.5) for a discoverable credential.

    No allowCredentials: the authenticator picks the account, and its userHandle names the user. A `username`
    (sent by auth0-server-python as a conditional-UI hint, undocumented) is ignored.
    """
    client = _client(core, params, basic)
    realm = _realm(params)
    _no_organization(params)
    challenge = _enabled_passkeys(core).begin_authentication()
    with core.db.write() as conn:
        session = auth_sessions.open_session(
            core,
            conn,
            user_id=None,
            client_id=client.client_id,
            kind=LOGIN,
            method_type="passkey",
            state={"ceremony": challenge.state, "realm": realm},
        )
    return {"auth_session": session, **challenge.public}


def finish(core: Core, client: Client, *, auth_session: str, authn_response: object, caller: Caller) -> SignedIn:
    """Check the authenticator's answer to a challenge and record it: a new user and passkey, or a sign-in.

    Raises:
        InvalidGrant: the session is unknown, expired, used or another client's; the credential is unknown;
            the attestation or assertion does not verify; the signature counter went backwards.
        InvalidRequest: a sign-up for an email or username taken since the challenge.
        Blocked: the passkey's user is blocked.
    """
    with core.db.read() as conn:
        opened = auth_sessions.load(core, conn, auth_session)
    if opened is None or opened.record.kind not in (SIGNUP, LOGIN) or opened.record.client_id != client.client_id:
        raise InvalidGrant(SESSION_ERROR)
    passkeys = passkeys_for(core)
    if opened.record.kind == SIGNUP:
        return _finish_signup(core, passkeys, client, opened, authn_response, caller)
    return _finish_login(core, passkeys, client, opened, authn_response, caller)


def _finish_signup(
    core: Core,
    passkeys: Passkeys,
    client: Client,
    opened: auth_sessions.OpenSession,
    response: object,
    caller: Caller,
) -> SignedIn:
    """WebAuthn §7.1, then the user and its passkey in one transaction with the session's consumption."""
    state = opened.state
    try:
        enrolled = passkeys.complete(state["ceremony"], response, user_agent=caller.user_agent)
    except MethodError as exc:
        _reject(core, opened, client, caller, "fs", f"Passkey sign-up refused: {exc.detail}")
        raise InvalidGrant(exc.detail) from exc
    profile: dict[str, str] = state["profile"]
    refusal: OAuthError | None = None
    user: User | None = None
    try:
        with core.db.write() as conn:
            if not auth_sessions.consume(core, conn, opened.record):
                raise InvalidGrant(SESSION_ERROR)  # a concurrent exchange of the same session won
            if _taken(UserStore(conn), profile):
                refusal = InvalidRequest(USER_EXISTS)
            elif enrolled.credential_id and MethodStore(conn).by_credential_id(enrolled.credential_id):
                refusal = InvalidGrant("This passkey is already registered.")
            if refusal is None:
                user = _create_user(conn, core, state, profile, enrolled)
                _audit(conn, core, caller, client, "ss", "Successful sign-up with a passkey", user_id=user.id)
            else:
                # Committed with the session's consumption: the ceremony is over either way.
                _audit(conn, core, caller, client, "fs", f"Passkey sign-up refused: {refusal.description}")
    except IntegrityError as exc:
        # A concurrent sign-up took the email, username or credential between our check and the insert.
        _reject(core, opened, client, caller, "fs", f"Passkey sign-up refused: {USER_EXISTS}")
        raise InvalidRequest(USER_EXISTS) from exc
    if refusal is not None:
        raise refusal
    assert user is not None
    return SignedIn(user=user, user_verified=_registration_verified_user(response), signed_up=True)


def _create_user(
    conn: Connection, core: Core, state: Mapping[str, Any], profile: Mapping[str, str], enrolled: Enrolled
) -> User:
    """A passkey-only user (no password), and its passkey stored as My Account's passkey enrollment stores one."""
    now = core.clock.now()
    users = UserStore(conn)
    created = users.create(
        user_id=new_user_id(),
        now=now,
        email=profile["email"],
        password_hash=None,
        email_verified=False,
        user_metadata=dict(state.get("user_metadata") or {}),
        **{key: value for key, value in profile.items() if key != "email"},
    )
    # The authenticator keeps the handle we sent as user.id (WebAuthn §5.4.3) and returns it as userHandle at
    # every sign-in: it must be this user's from now on.
    users.update(created.id, now=now, webauthn_user_handle=state["ceremony"]["user_handle"])
    info = authenticators.describe(str(enrolled.data.get("aaguid", "")))
    MethodStore(conn).add(
        MethodRecord(
            id=f"passkey|dev_{alnum(16)}",
            user_id=created.id,
            type=MethodType.PASSKEY.value,
            name=(info.name if info else None) or enrolled.name or "Passkey",
            confirmed=True,
            created_at=now,
            data=dict(enrolled.data) | {"has_icon": bool(info and (info.icon_light or info.icon_dark))},
            credential_id=enrolled.credential_id,
            last_auth_at=now,  # the sign-up is also this passkey's first sign-in
        )
    )
    user = users.get(created.id)
    assert user is not None
    return user


def _registration_verified_user(response: object) -> bool:
    """The UV flag (WebAuthn §6.1) of a registration response that `Passkeys.complete` has already accepted."""
    assert isinstance(response, Mapping)
    raw = response["response"]["attestationObject"]
    parsed = parse_attestation_object(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    return bool(parsed.auth_data.flags.uv)


def _finish_login(
    core: Core,
    passkeys: Passkeys,
    client: Client,
    opened: auth_sessions.OpenSession,
    response: object,
    caller: Caller,
) -> SignedIn:
    """WebAuthn §7.2 against the stored credential, then its new counter and backup state."""
    try:
        credential_id = credential_id_of(response)
    except MethodError as exc:
        _reject(core, opened, client, caller, "f", f"Passkey sign-in refused: {exc.detail}")
        raise InvalidGrant(exc.detail) from exc
    with core.db.read() as conn:
        method = MethodStore(conn).by_credential_id(credential_id)
        usable = method is not None and method.type == MethodType.PASSKEY and method.confirmed
        user = UserStore(conn).get(method.user_id) if method is not None and usable else None
    if method is None or user is None:
        _reject(core, opened, client, caller, "f", "Passkey sign-in refused: unknown credential")
        raise InvalidGrant("The passkey is not registered.")
    stored_count = int(method.data.get("sign_count", 0) or 0)
    try:
        assertion = passkeys.verify_authentication(
            opened.state["ceremony"],
            response,
            credential_public_key_b64=str(method.data.get("public_key", "")),
            current_sign_count=stored_count,
            expected_user_handle=user.webauthn_user_handle,
        )
    except SignCountRegressed as exc:
        _reject(core, opened, client, caller, "f", _CLONED, user_id=user.id, method_id=method.id)
        raise InvalidGrant(exc.detail) from exc
    except MethodError as exc:
        _reject(core, opened, client, caller, "f", f"Passkey sign-in refused: {exc.detail}", user_id=user.id)
        raise InvalidGrant(exc.detail) from exc
    if user.blocked:
        # Told only to someone who holds the passkey, as the password grant tells it only after the password.
        _reject(core, opened, client, caller, "f", "user is blocked", user_id=user.id)
        raise Blocked("user is blocked")

    regressed = False
    with core.db.write() as conn:
        if not auth_sessions.consume(core, conn, opened.record):
            raise InvalidGrant(SESSION_ERROR)
        current = _locked(conn, user.id, method.id)
        if current is None:  # deleted while we were verifying
            _audit(conn, core, caller, client, "f", "Passkey sign-in refused: credential deleted", user_id=user.id)
        else:
            # Counted again under the row lock: two sign-ins with one counter value must not both pass (§6.1.1).
            count = int(current.data.get("sign_count", 0) or 0)
            regressed = bool(assertion.new_sign_count or count) and assertion.new_sign_count <= count
            if regressed:
                _audit(conn, core, caller, client, "f", _CLONED, user_id=user.id, method_id=method.id)
            else:
                data = dict(current.data) | {
                    "sign_count": assertion.new_sign_count,
                    "credential_backed_up": assertion.backed_up,
                }
                if data.get("backup_eligible") and assertion.backed_up:
                    data["credential_device_type"] = "multi_device"
                MethodStore(conn).update(user.id, method.id, data=data, last_auth_at=core.clock.now())
    if current is None:
        raise InvalidGrant("The passkey is not registered.")
    if regressed:
        raise InvalidGrant("The signature counter did not increase; the passkey may have been cloned.")
    return SignedIn(user=user, user_verified=assertion.user_verified, signed_up=False)


_CLONED = "Passkey signature counter did not increase: the authenticator may have been cloned"


def _locked(conn: Connection, user_id: str, method_id: str) -> MethodRecord | None:
    """The method, its row locked until commit (PostgreSQL; SQLite's write transaction already serializes)."""
    conn.execute(select(authentication_methods.c.id).where(authentication_methods.c.id == method_id).with_for_update())
    return MethodStore(conn).get(user_id, method_id)


# request checks
def _client(core: Core, params: Mapping[str, Any], basic: tuple[str, str] | None) -> Client:
    """Client authentication as at the token endpoint; the client must be first party and have the grant (§6)."""
    with core.db.read() as conn:
        client = authenticate_client(
            ClientStore(conn),
            core.sealer,
            client_id=_text(params, "client_id"),
            client_secret=_text(params, "client_secret"),
            basic=basic,
        )
    if GRANT_TYPE not in client.grant_types or not client.is_first_party:
        raise UnauthorizedClient(f"Grant type '{GRANT_TYPE}' not allowed for the client.")
    return client


def _enabled_passkeys(core: Core) -> Passkeys:
    passkeys = passkeys_for(core)
    with core.db.read() as conn:
        enabled = enabled_factors(conn).get("passkey", False)
    if not enabled:
        raise PasskeysUnavailable("Passkeys are not enabled for this tenant.")
    return passkeys


def _text(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f'"{name}" must be of type string')
    return value or None


def _realm(params: Mapping[str, Any]) -> str:
    """The database connection; this server has one, Auth0's default."""
    realm = _text(params, "realm")
    if realm is not None and realm != DATABASE_CONNECTION:
        raise InvalidRequest(f"Unknown realm: {realm}")
    return DATABASE_CONNECTION


def _no_organization(params: Mapping[str, Any]) -> None:
    # Organizations do not exist here; accepting the parameter would promise an `org_id` claim we never issue.
    if _text(params, "organization") is not None:
        raise InvalidRequest("Organizations are not supported by this server.")


def _profile(value: object) -> dict[str, str]:
    """`user_profile` (§6.1): known properties only, strings within Auth0's lengths, and the email the connection
    requires. Messages follow Auth0's validator ("…" must be …)."""
    if value is None:
        raise InvalidRequest('"user_profile" is required')
    if not isinstance(value, Mapping):
        raise InvalidRequest('"user_profile" must be of type object')
    profile: dict[str, str] = {}
    for key, item in value.items():
        limit = _PROFILE_LIMITS.get(key)
        if limit is None:
            raise InvalidRequest(f'"user_profile.{key}" is not allowed')
        if item is None:
            continue
        if not isinstance(item, str):
            raise InvalidRequest(f'"user_profile.{key}" must be of type string')
        if not 1 <= len(item) <= limit:
            raise InvalidRequest(f'"user_profile.{key}" length must be between 1 and {limit} characters')
        profile[key] = item
    if "email" not in profile:
        raise InvalidRequest('"user_profile.email" is required')
    try:
        profile["email"] = normalize_email(profile["email"]).lower()
    except MethodError as exc:
        raise InvalidRequest('"user_profile.email" must be a valid email') from exc
    if "phone_number" in profile and not _E164.fullmatch(profile["phone_number"]):
        raise InvalidRequest('"user_profile.phone_number" must be in E.164 format, such as +14155550123')
    if "username" in profile and not _USERNAME.fullmatch(profile["username"]):
        raise InvalidRequest('"user_profile.username" must not contain spaces or "@"')
    if "picture" in profile:
        parts = urlsplit(profile["picture"])
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidRequest('"user_profile.picture" must be a valid http(s) URL')
    return profile


def _metadata(value: object) -> dict[str, str]:
    """`user_metadata` (§6.1): at the root, at most ten string properties."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidRequest('"user_metadata" must be of type object')
    if len(value) > _MAX_METADATA_KEYS:
        raise InvalidRequest(f'"user_metadata" must have at most {_MAX_METADATA_KEYS} properties')
    for key, item in value.items():
        if not isinstance(item, str) or len(item) > _MAX_METADATA_VALUE:
            raise InvalidRequest(f'"user_metadata.{key}" must be a string of at most {_MAX_METADATA_VALUE} characters')
    return dict(value)


def _taken(users: UserStore, profile: Mapping[str, str]) -> bool:
    """An existing user matched by any identifier the profile carries (§6.1)."""
    if users.by_email(profile["email"]) is not None:
        return True
    username = profile.get("username")
    return username is not None and users.by_login(username) is not None


# audit
def _reject(
    core: Core,
    opened: auth_sessions.OpenSession,
    client: Client,
    caller: Caller,
    event: str,
    description: str,
    *,
    user_id: str | None = None,
    **details: Any,
) -> None:
    """End a failed ceremony: burn its session and record why, in one transaction."""
    with core.db.write() as conn:
        auth_sessions.consume(core, conn, opened.record)
        _audit(conn, core, caller, client, event, description, user_id=user_id, **details)


def _audit(
    conn: Connection,
    core: Core,
    caller: Caller,
    client: Client,
    event: str,
    description: str,
    *,
    user_id: str | None = None,
    **details: Any,
) -> None:
    """Auth0 tenant log codes: `ss`/`fs` sign-up, `f` failed login."""
    record(
        conn,
        core.clock,
        event,
        caller=caller,
        outcome="failure" if event.startswith("f") else "success",
        user_id=user_id,
        client_id=client.client_id,
        description=description,
        connection=DATABASE_CONNECTION,
        **details,
    )
