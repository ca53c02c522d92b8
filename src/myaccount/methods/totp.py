"""TOTP authenticators: RFC 6238 time steps over RFC 4226 HOTP, stdlib only.

The enrollment URI follows Google's Key Uri Format, the one every authenticator app reads:
`otpauth://totp/<issuer>:<account>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`.
"""

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from myaccount.clock import Clock
from myaccount.methods.base import Challenge, Enrolled, FieldProblem, MethodError, MethodType, Subject

__all__ = ["Totp", "hotp", "totp_at"]

_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
# RFC 4226 §4 R5: at least 128 bits of shared secret, 160 recommended; SHA1's block-friendly 20 bytes.
_SECRET_BYTES = 20
_POINTER = "/otp_code"


def hotp(key: bytes, counter: int, digits: int = 6, algorithm: str = "sha1") -> str:
    """RFC 4226 §5.3: HMAC the 8-byte big-endian counter, dynamically truncate, reduce modulo 10^digits."""
    mac = hmac.new(key, counter.to_bytes(8, "big"), _ALGORITHMS[algorithm]).digest()
    offset = mac[-1] & 0x0F
    code = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFF_FFFF
    return str(code % 10**digits).zfill(digits)


def totp_at(key: bytes, at: int, digits: int = 6, period: int = 30, algorithm: str = "sha1") -> str:
    """RFC 6238 §4.2: HOTP over the time step T = floor((at - T0) / period), with T0 = 0 (the Unix epoch)."""
    return hotp(key, at // period, digits, algorithm)


def _decode_secret(secret: str) -> bytes:
    # RFC 4648 §6 base32, which the Key Uri Format sends without padding.
    try:
        return base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    except (binascii.Error, ValueError) as exc:
        raise MethodError("The stored TOTP secret is not valid base32.") from exc


def _rejected(detail: str) -> MethodError:
    return MethodError(detail, problems=(FieldProblem(detail=detail, pointer=_POINTER, field="otp_code"),))


class Totp:
    """A TOTP authenticator app (Auth0 type `totp`)."""

    type = MethodType.TOTP

    def __init__(self, *, issuer: str, clock: Clock, digits: int = 6, period: int = 30, window: int = 1) -> None:
        if ":" in issuer:
            # The Key Uri Format splits the label on the first colon; apps would show a wrong issuer.
            raise ValueError("the TOTP issuer must not contain a colon")
        if digits not in (6, 7, 8) or period <= 0 or window < 0:
            raise ValueError("TOTP needs 6-8 digits, a positive period and a non-negative window")
        self.issuer = issuer
        self._clock = clock
        self._digits = digits
        self._period = period
        self._window = window
        self._code_shape = re.compile(f"[0-9]{{{digits}}}")  # ASCII only: `\d` would admit other scripts' digits

    def begin(self, subject: Subject, *, account_label: str) -> Challenge:
        """A fresh 160-bit secret, as an otpauth URI for the QR code and as base32 for typing in.

        `account_label` is what the app shows under the issuer (Auth0 uses the user id); `subject` is not read today
        but keeps `begin` shaped like the other methods'."""
        secret = base64.b32encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii").rstrip("=")
        return Challenge(
            public={"barcode_uri": self.otpauth_uri(secret, account_label=account_label), "manual_input_code": secret},
            state={"secret": secret},
        )

    def complete(self, state: Mapping[str, Any], otp_code: str) -> Enrolled:
        """The first code proves the app holds the secret; its step is kept so that code cannot be replayed."""
        secret = state.get("secret")
        if not isinstance(secret, str) or not secret:
            raise MethodError("The enrollment state holds no TOTP secret.")
        step = self.check(secret, otp_code, last_step=None)
        return Enrolled(name=None, secret={"secret": secret, "last_step": step})

    def check(self, secret: str, code: str, *, last_step: int | None) -> int:
        """The time step `code` matches, within ±window steps (RFC 6238 §5.2), never one at or before `last_step`.

        The caller stores the returned step as the new `last_step`: RFC 6238 §5.2 forbids accepting a code twice.
        """
        if not isinstance(code, str) or not self._code_shape.fullmatch(code):
            raise _rejected(f"The code must be {self._digits} digits.")
        key = _decode_secret(secret)
        now = int(self._clock.now().timestamp())
        current = now // self._period
        matches: list[int] = []
        # Every candidate is computed and compared, so the time taken does not depend on which one matched.
        for step in range(current - self._window, current + self._window + 1):
            if hmac.compare_digest(hotp(key, step, self._digits).encode("ascii"), code.encode("ascii")):
                matches.append(step)
        if not matches:
            raise _rejected("The code is wrong or has expired.")
        fresh = [step for step in matches if last_step is None or step > last_step]
        if not fresh:
            raise _rejected("This code has already been used; wait for the next one.")
        return fresh[0]

    def otpauth_uri(self, secret: str, *, account_label: str) -> str:
        """Key Uri Format: label `issuer:account` with each part percent-encoded, and the issuer repeated."""
        label = f"{quote(self.issuer, safe='')}:{quote(account_label, safe='')}"
        query = urlencode(
            {
                "secret": secret,
                "issuer": self.issuer,
                "algorithm": "SHA1",
                "digits": self._digits,
                "period": self._period,
            },
            quote_via=quote,  # %20 for spaces: several apps show a literal "+" otherwise
        )
        return f"otpauth://totp/{label}?{query}"
