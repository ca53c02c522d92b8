"""My Account use cases: list, enroll (start + verify), rename and delete a user's own authentication methods.

Callers pass the verified access token's claims; everything here acts for `claims.subject` only, so another
user's method id is simply not found. Each enrollment is two steps (contracts/auth0-wire-notes.md §3.5–3.6): the
start stores the ceremony state behind a single-use `auth_session`; the verify checks the proof, then consumes
the session and stores the method in one transaction.
"""

import dataclasses
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from myaccount import auth_sessions
from myaccount.audit import Caller, record
from myaccount.core import Core
from myaccount.delivery.base import DeliveryError, Message
from myaccount.errors import BadRequest, Conflict, FieldError, NotFound, RateLimited, ReauthenticationRequired
from myaccount.ids import alnum
from myaccount.methods import authenticators
from myaccount.methods.base import FieldProblem, MethodError, MethodType, Subject
from myaccount.methods.otp import CodeRejected, OneTimeCodes, normalize_email, normalize_phone
from myaccount.methods.passkey import ExistingCredential, Passkeys
from myaccount.methods.password import Password, PasswordPolicy
from myaccount.methods.recovery_code import RecoveryCode
from myaccount.methods.totp import Totp
from myaccount.my_account.factors import enabled_factors, enabled_types
from myaccount.my_account.listing import MethodListing
from myaccount.my_account.wire import PRIMARY, password_method, password_record, to_wire
from myaccount.oauth.tokens import AccessClaims
from myaccount.policy.abuse import Abuse, TooManyAttempts
from myaccount.store.methods import MethodRecord, MethodStore
from myaccount.store.raw import Connectable
from myaccount.store.sessions import SessionStore
from myaccount.store.tenant import TenantSettingsStore
from myaccount.store.users import User, UserStore

__all__ = ["Enrollment", "MyAccount"]

MAX_CODE_ATTEMPTS = 5
_SECRET_PURPOSE = "method-secret"
_TYPES = frozenset(t.value for t in MethodType)
_NAMEABLE = {
    MethodType.PASSKEY,
    MethodType.TOTP,
    MethodType.PHONE,
    MethodType.EMAIL,
    MethodType.PUSH,
    MethodType.WEBAUTHN_PLATFORM,
    MethodType.WEBAUTHN_ROAMING,
}
_FACTOR_OF_TYPE = {
    "totp": "otp",
    "phone": "sms",
    "email": "email",
    "push-notification": "push-notification",
    "recovery-code": "recovery-code",
    "passkey": "passkey",
}


@dataclass(frozen=True, slots=True)
class Enrollment:
    method_id: str  # for the Location header
    body: dict[str, Any]


def _invalid(detail: str, pointer: str | None = None) -> BadRequest:
    field = pointer.strip("/").split("/")[-1] if pointer else None
    return BadRequest(
        detail, validation_errors=[FieldError(detail=detail, pointer=pointer, field=field)] if pointer else ()
    )


def _from_method_error(exc: MethodError) -> BadRequest:
    problems: tuple[FieldProblem, ...] = exc.problems
    return BadRequest(
        exc.detail,
        validation_errors=[
            FieldError(
                detail=p.detail, pointer=p.pointer, field=p.field or (p.pointer or "").strip("/").split("/")[-1] or None
            )
            for p in problems
        ],
    )


_SESSION_ERROR = "The auth_session is invalid, expired or already used."


class MyAccount:
    def __init__(self, core: Core) -> None:
        self.core = core
        settings = core.settings
        self.passkeys: Passkeys | None = None
        self.passkey_problem = ""
        try:
            self.passkeys = Passkeys(
                rp_id=settings.rp_id, rp_name=settings.tenant_name, origins=settings.allowed_webauthn_origins
            )
        except ValueError as exc:
            # Browsers refuse WebAuthn outside secure contexts and on IP addresses; say so instead of failing.
            self.passkey_problem = f"Passkeys are unavailable on this server: {exc}"
            logging.getLogger("myaccount").warning(self.passkey_problem)
        self.totp = Totp(issuer=settings.tenant_name, clock=core.clock)
        self.codes = OneTimeCodes(
            clock=core.clock,
            fingerprint=lambda c: core.fingerprint(c, purpose="otp-code"),
            max_attempts=MAX_CODE_ATTEMPTS,
        )
        self.recovery = RecoveryCode(fingerprint=lambda c: core.fingerprint(c, purpose="recovery-code"))
        self.listing = MethodListing(origin=settings.origin)

    # reading
    def factors(self, claims: AccessClaims) -> list[dict[str, Any]]:
        with self.core.db.raw_read() as conn:
            types = enabled_types(conn)
        if self.passkeys is None:
            types = [t for t in types if t != MethodType.PASSKEY]
        return [{"type": t.value, "usage": ["primary"] if t.value in PRIMARY else ["secondary"]} for t in types]

    def list_methods_json(self, claims: AccessClaims, type_: str | None = None) -> bytes:
        """`{"authentication_methods": [...]}`, rendered."""
        return b'{"authentication_methods":[' + b",".join(self._listing(claims, type_)) + b"]}"

    def _listing(self, claims: AccessClaims, type_: str | None) -> list[bytes]:
        if type_ is not None and type_ not in _TYPES:
            raise _invalid(f"Unknown authentication method type: {type_}", "/type")
        with self.core.db.raw_read() as conn:
            return self.listing.parts(conn, claims.subject, type_)

    def get_method(self, claims: AccessClaims, method_id: str) -> dict[str, Any]:
        with self.core.db.raw_read() as conn:
            found = self._find(conn, claims.subject, method_id)
        return to_wire(found, origin=self.core.settings.origin)

    def _records(self, conn: Connectable, user_id: str) -> list[MethodRecord]:
        owner, records = MethodStore(conn).list_with_owner(user_id)
        if owner is None:
            return []
        password = None
        if owner.has_password:
            password = password_record(
                user_id, password_changed_at=owner.password_changed_at, created_at=owner.created_at
            )
        passkeys = [r for r in records if r.type == MethodType.PASSKEY]
        others = [r for r in records if r.type != MethodType.PASSKEY]
        return passkeys + ([password] if password else []) + others

    def _find(self, conn: Connectable, user_id: str, method_id: str) -> MethodRecord:
        if method_id.startswith("password|"):
            user = UserStore(conn).get(user_id)
            password = password_method(user) if user else None
            if password is not None and password.id == method_id:
                return password
        else:
            found = MethodStore(conn).get(user_id, method_id)
            if found is not None:
                return found
        raise NotFound("Authentication method not found.")

    # policy helpers
    def _require_recent(self, claims: AccessClaims) -> None:
        auth_time = claims.claims.get("auth_time")
        window = self.core.settings.recent_auth_window.total_seconds()
        now = self.core.clock.now().timestamp()
        if not isinstance(auth_time, int) or now - auth_time > window:
            minutes = int(window // 60)
            raise ReauthenticationRequired(
                f"This operation requires a login or second factor in the last {minutes} minutes. "
                "Re-authenticate (prompt=login or max_age) and retry."
            )

    def _user(self, conn: Connectable, claims: AccessClaims) -> User:
        user = UserStore(conn).get(claims.subject)
        if user is None or user.blocked:
            raise NotFound("User not found.")
        return user

    @staticmethod
    def _subject(user: User) -> Subject:
        import base64

        handle = base64.urlsafe_b64decode((user.webauthn_user_handle or "") + "==")
        return Subject(user_id=user.id, email=user.email, name=user.name, webauthn_user_handle=handle)

    def password_policy(self, conn: Connectable) -> PasswordPolicy:
        stored = TenantSettingsStore(conn).get("password_policy")
        return PasswordPolicy.from_wire(stored) if stored else PasswordPolicy()

    # enrollment: start
    async def start(self, claims: AccessClaims, body: Mapping[str, Any], caller: Caller) -> Enrollment:
        type_ = body.get("type")
        if not isinstance(type_, str):
            raise _invalid("type is required.", "/type")
        if type_ not in _TYPES:
            raise _invalid(f"Unknown authentication method type: {type_}", "/type")
        if type_ in (MethodType.WEBAUTHN_PLATFORM, MethodType.WEBAUTHN_ROAMING):
            raise _invalid(f"Enrollment of {type_} is not supported through this API; use a passkey.", "/type")
        allowed = {"type"} | _START_FIELDS.get(type_, set())
        if type_ != MethodType.PASSKEY:  # the passkey variant is open (no additionalProperties: false)
            extra = set(body) - allowed
            if extra:
                name = sorted(extra)[0]
                raise _invalid(f"Unexpected property: {name}", f"/{name}")
        self._require_recent(claims)
        abuse = Abuse(self.core)
        self._limited(lambda: abuse.enrollment_start(caller, claims.subject))
        if type_ in (MethodType.EMAIL, MethodType.PHONE):
            self._limited(lambda: abuse.code_send(caller, claims.subject))
        if type_ not in (MethodType.PASSKEY, MethodType.TOTP):  # those check it in the read they make anyway
            with self.core.db.raw_read() as conn:
                self._require_factor(conn, type_)
        if type_ == MethodType.PASSKEY:
            return self._start_passkey(claims, body, caller)
        if type_ == MethodType.TOTP:
            return self._start_totp(claims, caller)
        if type_ == MethodType.RECOVERY_CODE:
            return self._start_recovery_code(claims, caller)
        if type_ == MethodType.PASSWORD:
            return self._start_password(claims, caller)
        if type_ in (MethodType.EMAIL, MethodType.PHONE):
            return await self._start_code(claims, body, caller, MethodType(type_))
        if type_ == MethodType.PUSH:
            return self._start_push(claims, caller)
        raise _invalid(f"Enrollment of {type_} is not supported.", "/type")

    @staticmethod
    def _require_factor(conn: Connectable, type_: str) -> None:
        factor = _FACTOR_OF_TYPE.get(type_)
        if factor is not None and not enabled_factors(conn).get(factor, False):
            raise _invalid(f"The {type_} factor is not enabled for this tenant.", "/type")

    @staticmethod
    def _limited(check: Callable[[], None]) -> None:
        try:
            check()
        except TooManyAttempts as exc:
            raise RateLimited(exc.detail, headers={"retry-after": str(exc.retry_after)}) from exc

    def _open(self, conn: Connectable, claims: AccessClaims, type_: str, method_id: str, state: dict[str, Any]) -> str:
        return auth_sessions.open_session(
            self.core,
            conn,
            user_id=claims.subject,
            client_id=claims.client_id,
            kind="enrollment",
            method_type=type_,
            method_id=method_id,
            state=state,
        )

    def _start_passkey(self, claims: AccessClaims, body: Mapping[str, Any], caller: Caller) -> Enrollment:
        if self.passkeys is None:
            raise _invalid(self.passkey_problem, "/type")
        for name, limit in (("connection", 128), ("identity_user_id", 255)):
            value = body.get(name)
            if value is not None and (not isinstance(value, str) or not 0 < len(value) <= limit):
                raise _invalid(f"{name} must be a string of 1 to {limit} characters.", f"/{name}")
        # Reads and the ceremony's options first; the write transaction holds only the inserts (on SQLite it holds
        # the database's one write lock, which every other writer waits for).
        with self.core.db.raw_read() as conn:
            self._require_factor(conn, MethodType.PASSKEY)
            user = self._user(conn, claims)
            existing = MethodStore(conn).credentials(user.id, MethodType.PASSKEY.value)
        if len(existing) >= self.core.settings.max_passkeys_per_user:
            raise _invalid(
                f"A user can have at most {self.core.settings.max_passkeys_per_user} passkeys. Delete one first.",
                "/type",
            )
        exclude = [ExistingCredential(credential_id=c, transports=t) for c, t in existing]
        challenge = self.passkeys.begin(
            self._subject(user),
            display_name=user.name or user.email or user.id,
            user_name=user.email or user.username or user.id,
            exclude=exclude,
        )
        with self.core.db.raw_write() as conn:
            session = self._open(conn, claims, MethodType.PASSKEY, "passkey|new", dict(challenge.state))
            self._audit(conn, claims, caller, "enrollment_started", MethodType.PASSKEY)
        return Enrollment("passkey|new", {"auth_session": session, **challenge.public})

    def _new_mfa(
        self,
        conn: Connectable,
        user: User,
        type_: MethodType,
        data: dict[str, Any],
        secret: dict[str, Any] | None = None,
    ) -> str:
        """An unconfirmed method row: it is listed with `confirmed: false` until verified (Auth0's behaviour)."""
        store = MethodStore(conn)
        store.delete_unconfirmed(user.id, type_.value)
        method_id = f"{type_.value}|dev_{alnum(16)}"
        store.add(
            MethodRecord(
                id=method_id,
                user_id=user.id,
                type=type_.value,
                name=None,
                confirmed=False,
                created_at=self.core.clock.now(),
                data=data,
                secret=self._seal(secret) if secret else None,
            )
        )
        return method_id

    def _seal(self, secret: dict[str, Any]) -> str:
        return self.core.sealer.seal(orjson.dumps(secret, option=orjson.OPT_NON_STR_KEYS), purpose=_SECRET_PURPOSE)

    def _start_totp(self, claims: AccessClaims, caller: Caller) -> Enrollment:
        with self.core.db.raw_read() as conn:
            self._require_factor(conn, MethodType.TOTP)
            user = self._user(conn, claims)
            if MethodStore(conn).count(user.id, type_=MethodType.TOTP, confirmed=True):
                raise _invalid("An authenticator app is already enrolled. Delete it before enrolling another.", "/type")
        challenge = self.totp.begin(self._subject(user), account_label=user.email or user.id)
        with self.core.db.raw_write() as conn:
            method_id = self._new_mfa(conn, user, MethodType.TOTP, {})
            session = self._open(conn, claims, MethodType.TOTP, method_id, dict(challenge.state))
            self._audit(conn, claims, caller, "enrollment_started", MethodType.TOTP)
        return Enrollment(method_id, {"id": method_id, "auth_session": session, **challenge.public})

    def _start_recovery_code(self, claims: AccessClaims, caller: Caller) -> Enrollment:
        with self.core.db.raw_write() as conn:
            user = self._user(conn, claims)
            challenge = self.recovery.begin()
            method_id = self._new_mfa(conn, user, MethodType.RECOVERY_CODE, {})
            session = self._open(conn, claims, MethodType.RECOVERY_CODE, method_id, dict(challenge.state))
            self._audit(conn, claims, caller, "enrollment_started", MethodType.RECOVERY_CODE)
        return Enrollment(method_id, {"id": method_id, "auth_session": session, **challenge.public})

    def _start_password(self, claims: AccessClaims, caller: Caller) -> Enrollment:
        with self.core.db.raw_write() as conn:
            self._user(conn, claims)
            policy = self.password_policy(conn)
            session = self._open(conn, claims, MethodType.PASSWORD, "password|new", {})
            self._audit(conn, claims, caller, "enrollment_started", MethodType.PASSWORD)
        return Enrollment("password|new", {"id": "password|new", "auth_session": session, "policy": policy.to_wire()})

    async def _start_code(
        self, claims: AccessClaims, body: Mapping[str, Any], caller: Caller, type_: MethodType
    ) -> Enrollment:
        if type_ == MethodType.EMAIL:
            raw = body.get("email")
            if not isinstance(raw, str):
                raise _invalid("email is required.", "/email")
            try:
                address = normalize_email(raw)
            except MethodError as exc:
                raise _from_method_error(exc) from exc
            data: dict[str, Any] = {"email": address}
        else:
            raw = body.get("phone_number")
            if not isinstance(raw, str):
                raise _invalid("phone_number is required.", "/phone_number")
            try:
                address = normalize_phone(raw)
            except MethodError as exc:
                raise _from_method_error(exc) from exc
            preferred = body.get("preferred_authentication_method", "sms")
            if preferred not in ("sms", "voice"):
                raise _invalid(
                    "preferred_authentication_method must be sms or voice.", "/preferred_authentication_method"
                )
            data = {"phone_number": address, "preferred_authentication_method": preferred}
        code, state = self.codes.issue()
        with self.core.db.raw_write() as conn:
            user = self._user(conn, claims)
            method_id = self._new_mfa(conn, user, type_, data)
            session = self._open(conn, claims, type_, method_id, state)
            self._audit(conn, claims, caller, "enrollment_started", type_)
        await self._send_code(type_, address, code, data.get("preferred_authentication_method", "sms"))
        return Enrollment(method_id, {"id": method_id, "auth_session": session})

    async def _send_code(self, type_: MethodType, address: str, code: str, channel: str) -> None:
        name = self.core.settings.tenant_name
        minutes = int(self.codes.ttl.total_seconds() // 60)
        body = f"Your {name} verification code is {code}. It expires in {minutes} minutes."
        try:
            if type_ == MethodType.EMAIL:
                await self.core.email.send(
                    Message(to=address, subject=f"{name} verification code", body=body, channel="email")
                )
            else:
                await self.core.phone.send(
                    Message(to=address, subject="", body=body, channel="voice" if channel == "voice" else "sms")
                )
        except DeliveryError as exc:
            # The method stays unconfirmed; the user can start again. The cause is logged, not shown.
            import logging

            logging.getLogger("myaccount.delivery").warning("code delivery failed: %s", exc)
            raise BadRequest("The verification code could not be delivered. Try again later.") from exc

    def _start_push(self, claims: AccessClaims, caller: Caller) -> Enrollment:
        from myaccount.methods import push

        with self.core.db.raw_write() as conn:
            user = self._user(conn, claims)
            ticket = secrets.token_urlsafe(24)
            challenge = push.begin(
                issuer=self.core.settings.tenant_name,
                account_label=user.email or user.id,
                base_url=self.core.settings.origin,
                ticket=ticket,
            )
            method_id = self._new_mfa(
                conn, user, MethodType.PUSH, {"ticket_hash": self.core.fingerprint(ticket, purpose="push-ticket")}
            )
            MethodStore(conn).update(user.id, method_id, credential_id=push.ticket_key(ticket, self.core.fingerprint))
            session = self._open(conn, claims, MethodType.PUSH, method_id, dict(challenge.state))
            self._audit(conn, claims, caller, "enrollment_started", MethodType.PUSH)
        return Enrollment(method_id, {"id": method_id, "auth_session": session, **challenge.public})

    # enrollment: verify
    async def verify(self, claims: AccessClaims, method_id: str, body: Mapping[str, Any], caller: Caller) -> Enrollment:
        raw_session = body.get("auth_session")
        if not isinstance(raw_session, str) or not raw_session:
            raise _invalid("auth_session is required.", "/auth_session")
        with self.core.db.raw_read() as conn:
            opened = auth_sessions.load(self.core, conn, raw_session)
        if (
            opened is None
            or opened.record.kind != "enrollment"
            or opened.record.user_id != claims.subject
            or opened.record.client_id != claims.client_id
            or opened.record.method_id != method_id
        ):
            # One answer for unknown, expired, used, and someone else's: nothing to learn by probing.
            raise _invalid(_SESSION_ERROR, "/auth_session")
        type_ = MethodType(opened.record.method_type or "")
        allowed = {"auth_session"} | _VERIFY_FIELDS.get(type_, set())
        extra = set(body) - allowed
        if extra:
            name = sorted(extra)[0]
            raise _invalid(f"Unexpected property: {name}", f"/{name}")
        if type_ == MethodType.PASSKEY:
            return self._verify_passkey(claims, opened, body, caller)
        if type_ in (MethodType.TOTP, MethodType.EMAIL, MethodType.PHONE):
            return self._verify_code(claims, opened, body, caller, type_)
        if type_ == MethodType.RECOVERY_CODE:
            return self._confirm(claims, opened, caller, type_, secret=self.recovery.complete(opened.state).secret)
        if type_ == MethodType.PASSWORD:
            return await self._verify_password(claims, opened, body, caller)
        if type_ == MethodType.PUSH:
            return self._verify_push(claims, opened, caller)
        raise _invalid(_SESSION_ERROR, "/auth_session")

    def _verify_passkey(
        self, claims: AccessClaims, opened: auth_sessions.OpenSession, body: Mapping[str, Any], caller: Caller
    ) -> Enrollment:
        response = body.get("authn_response")
        if not isinstance(response, dict):
            raise _invalid("authn_response must be an object.", "/authn_response")
        if self.passkeys is None:
            raise _invalid(self.passkey_problem, "/type")
        try:
            enrolled = self.passkeys.complete(opened.state, response, user_agent=caller.user_agent)
        except MethodError as exc:
            with self.core.db.raw_write() as conn:
                self._audit(
                    conn, claims, caller, "enrollment_failed", MethodType.PASSKEY, outcome="failure", reason=exc.detail
                )
            raise _from_method_error(exc) from exc
        info = authenticators.describe(str(enrolled.data.get("aaguid", "")))
        data = dict(enrolled.data) | {"has_icon": bool(info and (info.icon_light or info.icon_dark))}
        method_id = f"passkey|dev_{alnum(16)}"
        with self.core.db.raw_write() as conn:
            if not auth_sessions.consume(self.core, conn, opened.record):
                raise _invalid(_SESSION_ERROR, "/auth_session")
            store = MethodStore(conn)
            if enrolled.credential_id and store.by_credential_id(enrolled.credential_id):
                raise _invalid("This passkey is already registered.", "/authn_response/id")
            created = MethodRecord(
                id=method_id,
                user_id=claims.subject,
                type=MethodType.PASSKEY.value,
                name=(info.name if info else None) or enrolled.name or "Passkey",
                confirmed=True,
                created_at=self.core.clock.now(),
                data=data,
                credential_id=enrolled.credential_id,
            )
            store.add(created)
            self._audit(conn, claims, caller, "enrollment_verified", MethodType.PASSKEY, method_id=method_id)
        return Enrollment(method_id, to_wire(created, origin=self.core.settings.origin))

    def _verify_code(
        self,
        claims: AccessClaims,
        opened: auth_sessions.OpenSession,
        body: Mapping[str, Any],
        caller: Caller,
        type_: MethodType,
    ) -> Enrollment:
        code = body.get("otp_code")
        if not isinstance(code, str) or not code:
            raise _invalid("otp_code is required.", "/otp_code")
        secret: dict[str, Any] | None = None
        rejected: CodeRejected | MethodError | None = None
        try:
            if type_ == MethodType.TOTP:
                secret = self.totp.complete(opened.state, code).secret
            else:
                self.codes.check({**opened.state, "attempts": 0}, code)
        except (CodeRejected, MethodError) as exc:
            rejected = exc
        # One transaction takes one of the session's attempts and records the outcome. A code counts only if its
        # attempt was taken, so of any number of guesses, concurrent or not, at most MAX_CODE_ATTEMPTS are ever
        # judged; past that every answer is the lockout, right code or wrong.
        confirmed: MethodRecord | None = None
        with self.core.db.raw_write() as conn:
            reserved = SessionStore(conn).reserve_auth_session_attempt(opened.record.id, limit=MAX_CODE_ATTEMPTS)
            if not reserved:
                self._audit(
                    conn,
                    claims,
                    caller,
                    "enrollment_locked",
                    type_,
                    outcome="failure",
                    description="Too many wrong codes; the enrollment must be started again",
                )
            elif rejected is not None:
                self._audit(
                    conn,
                    claims,
                    caller,
                    "enrollment_failed",
                    type_,
                    outcome="failure",
                    method_id=opened.record.method_id,
                    reason="wrong code",
                    attempt=opened.record.attempts + 1,
                )
            else:
                confirmed = self._confirm_in(conn, claims, opened, caller, type_, secret=secret)
        if not reserved:
            raise _invalid("Too many wrong codes. Start the enrollment again.", "/otp_code")
        if rejected is not None:
            detail = (
                rejected.detail if not isinstance(rejected, CodeRejected) else "The code is invalid or has expired."
            )
            raise _invalid(detail, "/otp_code") from rejected
        if confirmed is None:
            raise _invalid(_SESSION_ERROR, "/auth_session")
        return Enrollment(confirmed.id, to_wire(confirmed, origin=self.core.settings.origin))

    def _confirm(
        self,
        claims: AccessClaims,
        opened: auth_sessions.OpenSession,
        caller: Caller,
        type_: MethodType,
        *,
        secret: dict[str, Any] | None,
        data: dict[str, Any] | None = None,
    ) -> Enrollment:
        with self.core.db.raw_write() as conn:
            confirmed = self._confirm_in(conn, claims, opened, caller, type_, secret=secret, data=data)
            if confirmed is None:
                raise _invalid(_SESSION_ERROR, "/auth_session")
        return Enrollment(confirmed.id, to_wire(confirmed, origin=self.core.settings.origin))

    def _confirm_in(
        self,
        conn: Connectable,
        claims: AccessClaims,
        opened: auth_sessions.OpenSession,
        caller: Caller,
        type_: MethodType,
        *,
        secret: dict[str, Any] | None,
        data: dict[str, Any] | None = None,
    ) -> MethodRecord | None:
        """Consume the session and confirm its method; None if the session was used or the method deleted."""
        method_id = opened.record.method_id or ""
        if not auth_sessions.consume(self.core, conn, opened.record):
            return None
        store = MethodStore(conn)
        current = store.get(claims.subject, method_id)
        if current is None:  # deleted while the enrollment was pending
            return None
        values: dict[str, Any] = {"confirmed": True}
        if secret is not None:
            values["secret"] = self._seal(secret)
        if data is not None:
            values["data"] = {**current.data, **data}
        store.update(claims.subject, method_id, **values)
        if type_ == MethodType.RECOVERY_CODE:
            # One recovery code at a time: a new one replaces the old.
            for other in store.list(claims.subject, type_=MethodType.RECOVERY_CODE):
                if other.id != method_id:
                    store.delete(claims.subject, other.id)
        self._audit(conn, claims, caller, "enrollment_verified", type_, method_id=method_id)
        return dataclasses.replace(current, **values)  # what a read-back would give, without the query

    async def _verify_password(
        self, claims: AccessClaims, opened: auth_sessions.OpenSession, body: Mapping[str, Any], caller: Caller
    ) -> Enrollment:
        from starlette.concurrency import run_in_threadpool

        new_password = body.get("new_password", body.get("password"))  # auth0-server-python sends `password`
        if not isinstance(new_password, str):
            raise _invalid("new_password is required.", "/new_password")
        with self.core.db.read() as conn:
            user = self._user(conn, claims)
            policy = self.password_policy(conn)
            history = UserStore(conn).password_history(user.id, policy.history.size) if policy.history.active else []
        profile = {
            "name": user.name,
            "email": user.email,
            "nickname": user.nickname,
            "username": user.username,
            "given_name": user.given_name,
            "family_name": user.family_name,
        }
        checker = Password(policy=policy, hashing=self.core.passwords)
        try:
            enrolled = await run_in_threadpool(
                checker.complete, opened.state, new_password, profile=profile, history_hashes=history
            )
        except MethodError as exc:
            with self.core.db.raw_write() as conn:
                self._audit(
                    conn,
                    claims,
                    caller,
                    "enrollment_failed",
                    MethodType.PASSWORD,
                    outcome="failure",
                    reason="password policy",
                )
            raise _from_method_error(exc) from exc
        assert enrolled.secret is not None
        with self.core.db.write() as conn:
            if not auth_sessions.consume(self.core, conn, opened.record):
                raise _invalid(_SESSION_ERROR, "/auth_session")
            UserStore(conn).set_password(user.id, enrolled.secret["hash"], now=self.core.clock.now())
            self._audit(conn, claims, caller, "enrollment_verified", MethodType.PASSWORD)
            updated = UserStore(conn).get(user.id)
        assert updated is not None
        method = password_method(updated)
        assert method is not None
        return Enrollment(method.id, to_wire(method, origin=self.core.settings.origin))

    def _verify_push(self, claims: AccessClaims, opened: auth_sessions.OpenSession, caller: Caller) -> Enrollment:
        with self.core.db.raw_read() as conn:
            current = MethodStore(conn).get(claims.subject, opened.record.method_id or "")
        if current is None or not current.data.get("device"):
            raise _invalid(
                "The enrollment is pending: approve it on the device (scan the QR code with "
                "`myaccount authenticator`), then verify again.",
                "/auth_session",
            )
        return self._confirm(claims, opened, caller, MethodType.PUSH, secret=None)

    # changing
    def update(self, claims: AccessClaims, method_id: str, body: Mapping[str, Any], caller: Caller) -> dict[str, Any]:
        extra = set(body) - {"name", "preferred_authentication_method"}
        if extra:
            name = sorted(extra)[0]
            raise _invalid(f"Unexpected property: {name}", f"/{name}")
        with self.core.db.raw_write() as conn:
            found = self._find(conn, claims.subject, method_id)
            values: dict[str, Any] = {}
            if "name" in body:
                name = body["name"]
                if found.type not in _NAMEABLE:
                    raise _invalid(f"A {found.type} method has no name.", "/name")
                if not isinstance(name, str) or not name.strip() or len(name) > 200:
                    raise _invalid("name must be 1 to 200 characters.", "/name")
                if any(ord(c) < 32 or 0x7F <= ord(c) <= 0x9F for c in name):
                    raise _invalid("name must not contain control characters.", "/name")
                values["name"] = name.strip()
            if "preferred_authentication_method" in body:
                preferred = body["preferred_authentication_method"]
                if found.type != MethodType.PHONE:
                    raise _invalid(
                        "preferred_authentication_method applies to phone methods only.",
                        "/preferred_authentication_method",
                    )
                if preferred not in ("sms", "voice"):
                    raise _invalid(
                        "preferred_authentication_method must be sms or voice.", "/preferred_authentication_method"
                    )
                values["data"] = {**found.data, "preferred_authentication_method": preferred}
            if values:
                MethodStore(conn).update(claims.subject, method_id, **values)
                self._audit(
                    conn, claims, caller, "method_updated", found.type, method_id=method_id, fields=sorted(body)
                )
            updated = self._find(conn, claims.subject, method_id)
        return to_wire(updated, origin=self.core.settings.origin)

    def delete(self, claims: AccessClaims, method_id: str, caller: Caller) -> None:
        with self.core.db.raw_write() as conn:
            found = self._find(conn, claims.subject, method_id)
            self._require_recent(claims)
            if found.type in PRIMARY:
                primaries = [r for r in self._records(conn, claims.subject) if r.type in PRIMARY and r.confirmed]
                if len(primaries) <= 1:
                    raise Conflict("This is the user's last way to sign in; add a passkey or a password first.")
            if found.type == MethodType.PASSWORD:
                UserStore(conn).update(
                    claims.subject, now=self.core.clock.now(), password_hash=None, password_changed_at=None
                )
            else:
                MethodStore(conn).delete(claims.subject, method_id)
            self._audit(conn, claims, caller, "method_deleted", found.type, method_id=method_id)

    def _audit(
        self,
        conn: Connectable,
        claims: AccessClaims,
        caller: Caller,
        event: str,
        type_: str,
        *,
        outcome: str = "success",
        description: str = "",
        **details: Any,
    ) -> None:
        record(
            conn,
            self.core.clock,
            f"my_account.{event}",
            caller=caller,
            outcome=outcome,
            user_id=claims.subject,
            client_id=claims.client_id,
            description=description or event.replace("_", " "),
            method_type=str(type_),
            **details,
        )


_START_FIELDS: dict[str, set[str]] = {
    "passkey": {"connection", "identity_user_id", "use_exclude_credentials", "identity", "organization"},
    "email": {"email"},
    "phone": {"phone_number", "preferred_authentication_method"},
    "password": {"connection", "identity_user_id"},
}
_VERIFY_FIELDS: dict[MethodType, set[str]] = {
    MethodType.PASSKEY: {"authn_response"},
    MethodType.TOTP: {"otp_code"},
    MethodType.EMAIL: {"otp_code"},
    MethodType.PHONE: {"otp_code"},
    MethodType.PASSWORD: {"new_password", "password"},
    MethodType.RECOVERY_CODE: {"recovery_code"},
}
