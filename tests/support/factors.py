"""Enrolling second factors through the My Account API, for sign-in tests."""

import base64

from myaccount.clock import FrozenClock
from myaccount.core import Core
from myaccount.methods.totp import totp_at
from tests.support.me import Me

__all__ = ["enroll_email", "enroll_recovery_code", "enroll_totp", "totp_now"]


def totp_now(secret: str, clock: FrozenClock, *, offset_steps: int = 0) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return totp_at(key, int(clock.now().timestamp()) + 30 * offset_steps)


def enroll_totp(me: Me, clock: FrozenClock) -> str:
    started = me.enroll({"type": "totp"})
    assert started.status_code == 202, started.text
    secret: str = started.json()["manual_input_code"]
    verified = me.verify(
        started.headers["location"],
        {"auth_session": started.json()["auth_session"], "otp_code": totp_now(secret, clock)},
    )
    assert verified.status_code == 201, verified.text
    clock.advance(seconds=30)  # the enrollment code's step is spent; sign-in tests use the next one
    return secret


def enroll_email(me: Me, core: Core, address: str = "alice@example.com") -> str:
    started = me.enroll({"type": "email", "email": address})
    code = core.outbox.latest_code(address)
    assert code
    verified = me.verify(
        started.headers["location"], {"auth_session": started.json()["auth_session"], "otp_code": code}
    )
    assert verified.status_code == 201
    method_id: str = verified.json()["id"]
    return method_id


def enroll_recovery_code(me: Me) -> str:
    started = me.enroll({"type": "recovery-code"})
    code: str = started.json()["recovery_code"]
    assert me.verify(started.headers["location"], {"auth_session": started.json()["auth_session"]}).status_code == 201
    return code
