"""The steps of a hosted sign-in after `/authorize`: first factor (password or passkey, or a passkey sign-up),
the sign-in policy (second factor, enrollment of one when required), the progressive passkey offer, and the
finish (a fresh browser session and an authorization code).

State lives in the login transaction (`login_transactions.state`); every step reads it, acts, and saves it.
"""

import base64
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from myaccount import login
from myaccount.audit import Caller, record
from myaccount.core import Core
from myaccount.ids import alnum, new_user_id
from myaccount.login import AuthorizeRequest
from myaccount.methods import authenticators
from myaccount.methods.base import MethodError, Subject
from myaccount.methods.passkey import ExistingCredential, Passkeys, SignCountRegressed, credential_id_of
from myaccount.oauth import login_policy
from myaccount.oauth.issuance import Authentication
from myaccount.policy.mfa import MULTI_FACTOR_ACR, Verdict
from myaccount.store.clients import ClientStore
from myaccount.store.methods import MethodRecord, MethodStore
from myaccount.store.sessions import LoginSession, LoginTransaction, SessionStore
from myaccount.store.users import User, UserStore

__all__ = ["FlowError", "LoginFlow", "Step"]


class FlowError(Exception):
    """A step failed in a way the page shows to the user."""


@dataclass(frozen=True, slots=True)
class Step:
    kind: str  # mfa | mfa_enroll | passkey_offer | recovery_code | complete | deny | unmet
    detail: str = ""
    factors: tuple[str, ...] = ()
    claims: dict[str, Any] = field(default_factory=dict)


class LoginFlow:
    def __init__(self, core: Core, passkeys: Passkeys | None) -> None:
        self.core = core
        self.passkeys = passkeys

    # transaction state
    def save(self, txn: LoginTransaction, state: dict[str, Any]) -> None:
        with self.core.db.write() as conn:
            SessionStore(conn).update_transaction_state(txn.id, state)
        txn.state.clear()
        txn.state.update(state)

    def user(self, txn: LoginTransaction) -> User:
        user_id = txn.state.get("user_id")
        with self.core.db.read() as conn:
            user = UserStore(conn).get(user_id) if isinstance(user_id, str) else None
        if user is None or user.blocked:
            raise FlowError("The sign-in has expired. Start again from the application.")
        return user

    def first_factor(
        self, txn: LoginTransaction, user: User, *, amr: tuple[str, ...], mfa: bool, auth_time: datetime | None = None
    ) -> None:
        now = self.core.clock.now()
        self.save(
            txn,
            {
                **txn.state,
                "user_id": user.id,
                "amr": list(amr),
                "auth_time": (auth_time or now).isoformat(),
                "mfa_done": mfa,
                "mfa_time": now.isoformat() if mfa else txn.state.get("mfa_time"),
            },
        )

    def second_factor_done(self, txn: LoginTransaction, factor: str) -> None:
        amr = list(dict.fromkeys([*txn.state.get("amr", []), "mfa", factor]))
        self.save(
            txn,
            {
                **txn.state,
                "amr": amr,
                "mfa_done": True,
                "mfa_time": self.core.clock.now().isoformat(),
                "mfa_pending": None,
            },
        )

    # policy
    def verdict(self, txn: LoginTransaction, caller: Caller) -> Verdict:
        user = self.user(txn)
        req = AuthorizeRequest.from_dict(txn.params)
        state = txn.state
        mfa_time = datetime.fromisoformat(state["mfa_time"]) if state.get("mfa_time") else None
        authn = Authentication(
            auth_time=datetime.fromisoformat(state["auth_time"]), amr=tuple(state.get("amr", [])), mfa_time=mfa_time
        )
        with self.core.db.read() as conn:
            client = ClientStore(conn).get(txn.client_id)
            assert client is not None
            return login_policy.check(
                self.core,
                conn,
                user=user,
                client=client,
                audience=req.audience,
                requested=req.scope.split(),
                authn=authn,
                interactive=True,
                protocol="oidc-basic-profile",
                caller=caller,
                acr_values=(req.acr_values or "").split(),
                mfa_in_this_login=bool(state.get("mfa_done")),
            )

    def next_step(self, txn: LoginTransaction, caller: Caller) -> Step:
        verdict = self.verdict(txn, caller)
        claims = {"access": verdict.access_claims, "id": verdict.id_claims}
        if verdict.denied:
            return Step("deny", verdict.denied)
        if verdict.unmet:
            return Step("unmet", "The authentication requirements of this application are not met.")
        if verdict.mfa_required:
            return Step("mfa_enroll" if verdict.enroll else "mfa", factors=verdict.factors)
        state = txn.state
        if state.get("recovery_used") and not state.get("recovery_replaced"):
            return Step("recovery_code")
        if self._offer_passkey(txn):
            return Step("passkey_offer")
        return Step("complete", claims=claims)

    def _offer_passkey(self, txn: LoginTransaction) -> bool:
        """Progressive enrollment, as Universal Login does: after a password sign-in, once, until dismissed."""
        state = txn.state
        if (
            self.passkeys is None
            or "pwd" not in state.get("amr", [])
            or state.get("passkey_offered")
            or state.get("sso")
        ):
            return False
        user = self.user(txn)
        if user.passkey_prompt_dismissed_at is not None:
            return False
        with self.core.db.read() as conn:
            return MethodStore(conn).count(user.id, type_="passkey") == 0

    def finish(self, txn: LoginTransaction, caller: Caller, step: Step) -> tuple[str | None, LoginSession, str]:
        """A fresh session (or the step-up of an existing one) and the authorization code."""
        user = self.user(txn)
        state = txn.state
        req = AuthorizeRequest.from_dict(txn.params)
        now = self.core.clock.now()
        with self.core.db.write() as conn:
            if not SessionStore(conn).complete_transaction(txn.id, now=now):
                raise FlowError("This sign-in was already completed.")
        amr = tuple(state.get("amr", []))
        raw: str | None = None
        existing = state.get("session_id")
        session: LoginSession | None = None
        if existing:
            with self.core.db.write() as conn:
                store = SessionStore(conn)
                store.touch_login_session(
                    existing, now=now, amr=list(amr), mfa_time=now if state.get("mfa_done") else None
                )
                session = store.login_session(existing)
        if session is None:
            raw, session = login.create_session(
                self.core,
                user,
                amr=amr,
                caller=caller,
                client_id=txn.client_id,
                mfa=bool(state.get("mfa_done")),
                auth_time=datetime.fromisoformat(state["auth_time"]),
            )
        claims = {k: v for k, v in step.claims.items() if v}
        if req.acr_values and MULTI_FACTOR_ACR in req.acr_values.split() and state.get("mfa_done"):
            claims.setdefault("id", {})["acr"] = MULTI_FACTOR_ACR
        code = login.issue_code(self.core, req, session, claims=claims or None)
        return raw, session, code

    # passkey sign-in (discoverable credentials; also used as a second factor with allowCredentials)
    def _require_passkeys(self) -> Passkeys:
        if self.passkeys is None:
            raise FlowError("Passkeys are not available on this server.")
        return self.passkeys

    def passkey_options(self, txn: LoginTransaction, *, key: str, user: User | None = None) -> dict[str, Any]:
        passkeys = self._require_passkeys()
        allow: list[ExistingCredential] = []
        if user is not None:
            with self.core.db.read() as conn:
                allow = [
                    ExistingCredential(m.credential_id, m.data.get("transports") or [])
                    for m in MethodStore(conn).list(user.id)
                    if m.credential_id
                    and m.confirmed
                    and m.type in ("passkey", "webauthn-roaming", "webauthn-platform")
                ]
            if not allow:
                raise FlowError("No security key or passkey is registered for this account.")
        challenge = passkeys.begin_authentication(allow=allow)
        self.save(txn, {**txn.state, key: challenge.state})
        options: dict[str, Any] = challenge.public["authn_params_public_key"]
        return options

    def passkey_assertion(
        self, txn: LoginTransaction, response: object, caller: Caller, *, key: str, user_id: str | None = None
    ) -> tuple[User, MethodRecord, bool]:
        """Verify a passkey assertion; returns the user, the method, and whether the authenticator verified the
        user (UV): only then is the passkey two factors in one."""
        passkeys = self._require_passkeys()
        state = txn.state.get(key)
        if not isinstance(state, dict):
            raise FlowError("The passkey request expired. Try again.")
        self.save(txn, {**txn.state, key: None})  # single use, whatever happens next
        try:
            credential_id = credential_id_of(response)
        except MethodError as exc:
            raise FlowError("The passkey response was not understood.") from exc
        with self.core.db.read() as conn:
            method = MethodStore(conn).by_credential_id(credential_id)
            user = UserStore(conn).get(method.user_id) if method else None
        webauthn_types = ("passkey", "webauthn-roaming", "webauthn-platform")
        if method is None or method.type not in webauthn_types or not method.confirmed:
            method = None
        if method is None or user is None or (user_id is not None and user.id != user_id):
            self._audit(caller, "f", txn, None, "Unknown passkey", outcome="failure")
            raise FlowError("This passkey is not registered here. Use another sign-in method.")
        if user.blocked:
            raise FlowError("This account is blocked.")
        try:
            assertion = passkeys.verify_authentication(
                state,
                response,
                credential_public_key_b64=str(method.data.get("public_key", "")),
                current_sign_count=int(method.data.get("sign_count", 0) or 0),
                expected_user_handle=user.webauthn_user_handle if user_id is None else None,
            )
        except SignCountRegressed as exc:
            self._audit(
                caller, "f", txn, user.id, "Passkey sign counter went backwards: possible clone", outcome="failure"
            )
            raise FlowError("This passkey could not be verified.") from exc
        except MethodError as exc:
            self._audit(caller, "f", txn, user.id, f"Passkey rejected: {exc.detail}", outcome="failure")
            raise FlowError("This passkey could not be verified.") from exc
        data = {**method.data, "sign_count": assertion.new_sign_count, "credential_backed_up": assertion.backed_up}
        if data.get("backup_eligible") and assertion.backed_up:
            data["credential_device_type"] = "multi_device"
        with self.core.db.write() as conn:
            MethodStore(conn).update(user.id, method.id, data=data, last_auth_at=self.core.clock.now())
        return user, method, assertion.user_verified

    # passkey sign-up and enrollment
    def signup_options(self, txn: LoginTransaction, *, email: str, name: str | None) -> dict[str, Any]:
        passkeys = self._require_passkeys()
        handle = secrets.token_bytes(32)
        subject = Subject(user_id="", email=email, name=name, webauthn_user_handle=handle)
        challenge = passkeys.begin(subject, display_name=name or email, user_name=email, exclude=())
        self.save(
            txn,
            {
                **txn.state,
                "signup": {
                    "email": email,
                    "name": name,
                    "ceremony": challenge.state,
                    "handle": base64.urlsafe_b64encode(handle).rstrip(b"=").decode(),
                },
            },
        )
        options: dict[str, Any] = challenge.public["authn_params_public_key"]
        return options

    def signup_complete(self, txn: LoginTransaction, response: object, caller: Caller) -> User:
        passkeys = self._require_passkeys()
        signup = txn.state.get("signup")
        if not isinstance(signup, dict):
            raise FlowError("The sign-up expired. Start again.")
        self.save(txn, {**txn.state, "signup": None})
        try:
            enrolled = passkeys.complete(signup["ceremony"], response, user_agent=caller.user_agent)
        except MethodError as exc:
            raise FlowError("The passkey could not be created. Try again.") from exc
        now = self.core.clock.now()
        with self.core.db.write() as conn:
            users = UserStore(conn)
            if users.by_email(signup["email"]) is not None:
                raise FlowError("An account with this email already exists. Sign in instead.")
            user = users.create(
                user_id=new_user_id(),
                now=now,
                email=signup["email"],
                password_hash=None,
                name=signup.get("name"),
                webauthn_user_handle=signup["handle"],
            )
            self._store_passkey(conn, user.id, enrolled, now)
            record(
                conn,
                self.core.clock,
                "ss",
                caller=caller,
                user_id=user.id,
                client_id=txn.client_id,
                description="Successful sign-up with a passkey",
            )
        return user

    def enroll_options(self, txn: LoginTransaction) -> dict[str, Any]:
        passkeys = self._require_passkeys()
        user = self.user(txn)
        with self.core.db.read() as conn:
            exclude = [
                ExistingCredential(m.credential_id, m.data.get("transports") or [])
                for m in MethodStore(conn).list(user.id, type_="passkey")
                if m.credential_id
            ]
        handle = base64.urlsafe_b64decode((user.webauthn_user_handle or "") + "==")
        subject = Subject(user_id=user.id, email=user.email, name=user.name, webauthn_user_handle=handle)
        challenge = passkeys.begin(
            subject, display_name=user.name or user.email or user.id, user_name=user.email or user.id, exclude=exclude
        )
        self.save(txn, {**txn.state, "passkey_enroll": challenge.state})
        options: dict[str, Any] = challenge.public["authn_params_public_key"]
        return options

    def enroll_complete(self, txn: LoginTransaction, response: object, caller: Caller) -> None:
        passkeys = self._require_passkeys()
        user = self.user(txn)
        state = txn.state.get("passkey_enroll")
        if not isinstance(state, dict):
            raise FlowError("The passkey request expired. Try again.")
        self.save(txn, {**txn.state, "passkey_enroll": None})
        try:
            enrolled = passkeys.complete(state, response, user_agent=caller.user_agent)
        except MethodError as exc:
            raise FlowError("The passkey could not be created. Try again.") from exc
        with self.core.db.write() as conn:
            if enrolled.credential_id and MethodStore(conn).by_credential_id(enrolled.credential_id):
                raise FlowError("This passkey is already registered.")
            self._store_passkey(conn, user.id, enrolled, self.core.clock.now())
            record(
                conn,
                self.core.clock,
                "my_account.enrollment_verified",
                caller=caller,
                user_id=user.id,
                client_id=txn.client_id,
                description="Passkey created at sign-in",
                method_type="passkey",
            )

    def _store_passkey(self, conn: Any, user_id: str, enrolled: Any, now: datetime) -> None:
        info = authenticators.describe(str(enrolled.data.get("aaguid", "")))
        data = dict(enrolled.data) | {"has_icon": bool(info and (info.icon_light or info.icon_dark))}
        MethodStore(conn).add(
            MethodRecord(
                id=f"passkey|dev_{alnum(16)}",
                user_id=user_id,
                type="passkey",
                name=(info.name if info else None) or enrolled.name or "Passkey",
                confirmed=True,
                created_at=now,
                data=data,
                credential_id=enrolled.credential_id,
                last_auth_at=now,
            )
        )

    def dismiss_passkey_offer(self, txn: LoginTransaction, *, forever: bool) -> None:
        self.save(txn, {**txn.state, "passkey_offered": True})
        if forever:
            with self.core.db.write() as conn:
                UserStore(conn).update(
                    self.user(txn).id, now=self.core.clock.now(), passkey_prompt_dismissed_at=self.core.clock.now()
                )

    def _audit(
        self,
        caller: Caller,
        type_: str,
        txn: LoginTransaction,
        user_id: str | None,
        description: str,
        *,
        outcome: str = "success",
    ) -> None:
        with self.core.db.write() as conn:
            record(
                conn,
                self.core.clock,
                type_,
                caller=caller,
                outcome=outcome,
                user_id=user_id,
                client_id=txn.client_id,
                description=description,
            )
