"""Second factors at sign-in: which ones a user can use, sending codes, and checking what comes back.

Shared by the hosted login pages and Auth0's MFA API (`/mfa/challenge` and the `mfa-otp`, `mfa-oob` and
`mfa-recovery-code` grants), so both apply the same replay, attempt and single-use rules.
"""

import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update

from myaccount.core import Core
from myaccount.delivery.base import DeliveryError, Message
from myaccount.ids import alnum
from myaccount.methods.base import MethodError
from myaccount.methods.otp import CodeRejected, OneTimeCodes
from myaccount.methods.recovery_code import RecoveryCode
from myaccount.methods.totp import Totp
from myaccount.policy.mfa import second_factors
from myaccount.store.methods import MethodRecord, MethodStore
from myaccount.store.schema import authentication_methods

__all__ = ["FactorOption", "MfaError", "SecondFactors"]

_SECRET_PURPOSE = "method-secret"


class MfaError(Exception):
    """A second factor was not accepted; `detail` is safe to show."""

    def __init__(self, detail: str, *, code: str = "invalid_grant") -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


@dataclass(frozen=True, slots=True)
class FactorOption:
    method_id: str
    type: str
    label: str  # masked destination or the method's name, for a chooser

    def as_authenticator(self) -> dict[str, Any]:
        """Auth0's `/mfa/authenticators` item shape."""
        kind = {"totp": "otp", "recovery-code": "recovery-code"}.get(self.type, "oob")
        item: dict[str, Any] = {"id": self.method_id, "authenticator_type": kind, "active": True, "name": self.label}
        if kind == "oob":
            item["oob_channel"] = {"phone": "sms", "email": "email", "push-notification": "auth0"}.get(
                self.type, self.type
            )
        return item


def _mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def _mask_phone(number: str) -> str:
    return number[:2] + "*" * max(0, len(number) - 6) + number[-4:]


class SecondFactors:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.totp = Totp(issuer=core.settings.tenant_name, clock=core.clock)
        self.codes = OneTimeCodes(clock=core.clock, fingerprint=lambda c: core.fingerprint(c, purpose="otp-code"))
        self.recovery = RecoveryCode(fingerprint=lambda c: core.fingerprint(c, purpose="recovery-code"))

    def options(self, user_id: str) -> list[FactorOption]:
        with self.core.db.read() as conn:
            types = second_factors(conn, user_id)
            methods = [m for m in MethodStore(conn).list(user_id) if m.confirmed and m.type in types]
        order = {t: i for i, t in enumerate(types)}
        methods.sort(key=lambda m: (order[m.type], m.created_at))
        return [FactorOption(m.id, m.type, self._label(m)) for m in methods]

    @staticmethod
    def _label(method: MethodRecord) -> str:
        if method.type == "email":
            return _mask_email(str(method.data.get("email", "")))
        if method.type == "phone":
            return _mask_phone(str(method.data.get("phone_number", "")))
        return method.name or {
            "totp": "Authenticator app",
            "recovery-code": "Recovery code",
            "push-notification": "Push notification",
            "passkey": "Passkey",
        }.get(method.type, method.type)

    def method(self, user_id: str, method_id: str) -> MethodRecord:
        with self.core.db.read() as conn:
            found = MethodStore(conn).get(user_id, method_id)
        if found is None or not found.confirmed:
            raise MfaError("Unknown authenticator.", code="invalid_request")
        return found

    def _secret(self, method: MethodRecord) -> dict[str, Any]:
        if not method.secret:
            return {}
        loaded: dict[str, Any] = json.loads(self.core.sealer.open(method.secret, purpose=_SECRET_PURPOSE))
        return loaded

    # one-time codes by email or phone
    async def send_code(self, method: MethodRecord, *, channel: str | None = None) -> dict[str, Any]:
        """Send a fresh code to an email or phone method; returns the state to keep (the code's keyed hash)."""
        code, state = self.codes.issue()
        name = self.core.settings.tenant_name
        body = f"Your {name} verification code is {code}."
        try:
            if method.type == "email":
                await self.core.email.send(
                    Message(
                        to=str(method.data["email"]), subject=f"{name} verification code", body=body, channel="email"
                    )
                )
            elif method.type == "phone":
                kind = channel or str(method.data.get("preferred_authentication_method", "sms"))
                await self.core.phone.send(
                    Message(
                        to=str(method.data["phone_number"]),
                        subject="",
                        body=body,
                        channel="voice" if kind == "voice" else "sms",
                    )
                )
            else:
                raise MfaError("This authenticator does not receive codes.", code="invalid_request")
        except DeliveryError as exc:
            raise MfaError("The code could not be delivered. Try again later.", code="server_error") from exc
        return {**state, "method_id": method.id}

    def check_code(self, state: dict[str, Any], code: str) -> dict[str, Any]:
        """Check a sent code. Returns the updated state (attempts counted) — persist it whatever happens."""
        try:
            return self.codes.check(state, code)
        except CodeRejected as exc:
            raise _Rejected(
                exc.state,
                "Too many wrong codes; request a new one." if exc.locked else "The code is wrong or has expired.",
            ) from exc

    # TOTP
    def check_totp(self, user_id: str, code: str) -> MethodRecord:
        """Any of the user's authenticator apps; the matched step is stored first (compare-and-swap), so a code
        is accepted once even when two requests race."""
        with self.core.db.read() as conn:
            methods = [m for m in MethodStore(conn).list(user_id, type_="totp") if m.confirmed]
        for method in methods:
            secret = self._secret(method)
            try:
                step = self.totp.check(str(secret.get("secret", "")), code, last_step=secret.get("last_step"))
            except MethodError:
                continue
            sealed = self.core.sealer.seal(json.dumps({**secret, "last_step": step}).encode(), purpose=_SECRET_PURPOSE)
            with self.core.db.write() as conn:
                swapped = (
                    conn.execute(
                        update(authentication_methods)
                        .where(
                            authentication_methods.c.id == method.id, authentication_methods.c.secret == method.secret
                        )
                        .values(secret=sealed, last_auth_at=self.core.clock.now())
                    ).rowcount
                    == 1
                )
            if swapped:
                return method
            raise MfaError("This code has already been used; wait for the next one.")
        raise MfaError("The code is wrong or has expired.")

    # recovery codes
    def use_recovery_code(self, user_id: str, code: str) -> MethodRecord:
        """A recovery code works once: it is deleted on use, and the user is asked to save a new one."""
        with self.core.db.read() as conn:
            methods = [m for m in MethodStore(conn).list(user_id, type_="recovery-code") if m.confirmed]
        for method in methods:
            if self.recovery.check(str(self._secret(method).get("hash", "")), code):
                with self.core.db.write() as conn:
                    if not MethodStore(conn).delete(user_id, method.id):
                        break
                return method
        raise MfaError("The recovery code is wrong or has been used.")

    def new_recovery_code(self, user_id: str) -> str:
        """Issue and store a replacement recovery code at once (Auth0's mfa-recovery-code grant returns one)."""
        challenge = self.recovery.begin()
        enrolled = self.recovery.complete(challenge.state)
        sealed = self.core.sealer.seal(json.dumps(enrolled.secret).encode(), purpose=_SECRET_PURPOSE)
        with self.core.db.write() as conn:
            store = MethodStore(conn)
            for old in store.list(user_id, type_="recovery-code"):
                store.delete(user_id, old.id)
            store.add(
                MethodRecord(
                    id=f"recovery-code|dev_{alnum(16)}",
                    user_id=user_id,
                    type="recovery-code",
                    name=None,
                    confirmed=True,
                    created_at=self.core.clock.now(),
                    secret=sealed,
                )
            )
        code: str = challenge.public["recovery_code"]
        return code

    def touch(self, user_id: str, method_id: str) -> None:
        with self.core.db.write() as conn:
            MethodStore(conn).update(user_id, method_id, last_auth_at=self.core.clock.now())


class _Rejected(MfaError):
    def __init__(self, state: dict[str, Any], detail: str) -> None:
        super().__init__(detail)
        self.state = state


CodeCheckFailed = _Rejected


def new_oob_code() -> str:
    return secrets.token_urlsafe(24)
