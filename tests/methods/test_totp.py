import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from myaccount.clock import FrozenClock
from myaccount.methods.base import MethodError, MethodType, Subject
from myaccount.methods.totp import Totp, hotp, totp_at
from tests.support.vectors import cases, source

SUBJECT = Subject(
    user_id="auth0|507f1f77bcf86cd799439011", email="ada@example.com", name="Ada", webauthn_user_handle=b"h" * 32
)
# 2026-01-01T12:00:00Z is an exact multiple of 30 s, so the step boundaries below are easy to reason about.
START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def _key(secret: str) -> bytes:
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


def _code(secret: str, clock: FrozenClock, *, offset_steps: int = 0) -> str:
    return hotp(_key(secret), int(clock.now().timestamp()) // 30 + offset_steps)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def totp(clock: FrozenClock) -> Totp:
    return Totp(issuer="My Tenant", clock=clock)


def test_vector_files_name_their_source() -> None:
    assert source("rfc4226_hotp.json") == "https://www.rfc-editor.org/rfc/rfc4226#appendix-D"
    assert source("rfc6238_totp.json") == "https://www.rfc-editor.org/rfc/rfc6238#appendix-B"


@pytest.mark.parametrize("case", cases("rfc4226_hotp.json"), ids=lambda case: case["name"])
def test_rfc4226_appendix_d(case: dict[str, Any]) -> None:
    assert hotp(case["secret_ascii"].encode(), case["counter"], case["digits"]) == case["hotp"]


@pytest.mark.parametrize("case", cases("rfc6238_totp.json"), ids=lambda case: case["name"])
def test_rfc6238_appendix_b(case: dict[str, Any]) -> None:
    key = case["secret_ascii"].encode()
    got = totp_at(key, at=case["time"], digits=case["digits"], period=case["period"], algorithm=case["algorithm"])
    assert got == case["totp"]


def test_totp_at_defaults_to_six_digits_and_thirty_seconds() -> None:
    key = b"12345678901234567890"
    # t=59 lies in step 1; RFC 4226's counter-1 value is 287082 (the 8-digit RFC 6238 value ends the same way).
    assert totp_at(key, at=59) == "287082"
    assert totp_at(key, at=60) == hotp(key, 2)


def test_begin_returns_otpauth_uri_and_manual_code(totp: Totp) -> None:
    challenge = totp.begin(SUBJECT, account_label="auth0|507f1f77bcf86cd799439011")

    secret = challenge.public["manual_input_code"]
    assert challenge.state == {"secret": secret}
    assert "=" not in secret and len(secret) == 32 and len(_key(secret)) == 20

    uri = urlsplit(challenge.public["barcode_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert uri.path == "/My%20Tenant:auth0%7C507f1f77bcf86cd799439011"
    assert unquote(uri.path) == "/My Tenant:auth0|507f1f77bcf86cd799439011"
    assert "My%20Tenant" in uri.query and "+" not in uri.query
    assert parse_qs(uri.query) == {
        "secret": [secret],
        "issuer": ["My Tenant"],
        "algorithm": ["SHA1"],
        "digits": ["6"],
        "period": ["30"],
    }


def test_begin_percent_encodes_reserved_characters_in_the_label(totp: Totp) -> None:
    uri = totp.begin(SUBJECT, account_label="ada+x@example.com/?#&").public["barcode_uri"]
    label = urlsplit(uri).path
    assert label == "/My%20Tenant:ada%2Bx%40example.com%2F%3F%23%26"


def test_each_enrollment_gets_a_new_secret(totp: Totp) -> None:
    secrets_ = {totp.begin(SUBJECT, account_label="a").state["secret"] for _ in range(5)}
    assert len(secrets_) == 5


def test_issuer_with_colon_is_refused(clock: FrozenClock) -> None:
    with pytest.raises(ValueError, match="colon"):
        Totp(issuer="a:b", clock=clock)


def test_complete_accepts_the_current_code_and_remembers_its_step(totp: Totp, clock: FrozenClock) -> None:
    state = totp.begin(SUBJECT, account_label="ada").state
    enrolled = totp.complete(state, _code(state["secret"], clock))

    assert enrolled.name is None
    assert enrolled.secret == {"secret": state["secret"], "last_step": int(START.timestamp()) // 30}


def test_complete_refuses_a_wrong_code_with_a_pointer(totp: Totp, clock: FrozenClock) -> None:
    state = totp.begin(SUBJECT, account_label="ada").state
    right = _code(state["secret"], clock)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    with pytest.raises(MethodError) as caught:
        totp.complete(state, wrong)
    assert [p.pointer for p in caught.value.problems] == ["/otp_code"]


def test_complete_needs_a_secret_in_the_state(totp: Totp) -> None:
    with pytest.raises(MethodError):
        totp.complete({}, "123456")


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_codes_within_one_step_of_now_are_accepted(totp: Totp, clock: FrozenClock, offset: int) -> None:
    secret = totp.begin(SUBJECT, account_label="ada").state["secret"]
    step = totp.check(secret, _code(secret, clock, offset_steps=offset), last_step=None)
    assert step == int(START.timestamp()) // 30 + offset


@pytest.mark.parametrize("offset", [-2, 2])
def test_codes_two_steps_away_are_refused(totp: Totp, clock: FrozenClock, offset: int) -> None:
    secret = totp.begin(SUBJECT, account_label="ada").state["secret"]
    with pytest.raises(MethodError, match="wrong or has expired"):
        totp.check(secret, _code(secret, clock, offset_steps=offset), last_step=None)


def test_a_wider_window_accepts_more_drift(clock: FrozenClock) -> None:
    wide = Totp(issuer="t", clock=clock, window=2)
    secret = wide.begin(SUBJECT, account_label="ada").state["secret"]
    assert wide.check(secret, _code(secret, clock, offset_steps=-2), last_step=None) == int(START.timestamp()) // 30 - 2


def test_a_code_expires_as_the_clock_moves(totp: Totp, clock: FrozenClock) -> None:
    secret = totp.begin(SUBJECT, account_label="ada").state["secret"]
    code = _code(secret, clock)
    clock.advance(seconds=60)  # two steps later: outside the ±1 window
    with pytest.raises(MethodError):
        totp.check(secret, code, last_step=None)


def test_replay_of_the_same_step_is_refused(totp: Totp, clock: FrozenClock) -> None:
    state = totp.begin(SUBJECT, account_label="ada").state
    code = _code(state["secret"], clock)
    enrolled = totp.complete(state, code)
    assert enrolled.secret is not None

    with pytest.raises(MethodError, match="already been used"):
        totp.check(state["secret"], code, last_step=enrolled.secret["last_step"])


def test_an_older_step_than_the_last_used_is_refused(totp: Totp, clock: FrozenClock) -> None:
    secret = totp.begin(SUBJECT, account_label="ada").state["secret"]
    current = int(START.timestamp()) // 30
    with pytest.raises(MethodError, match="already been used"):
        totp.check(secret, _code(secret, clock, offset_steps=-1), last_step=current)


def test_the_next_step_is_accepted_after_one_was_used(totp: Totp, clock: FrozenClock) -> None:
    secret = totp.begin(SUBJECT, account_label="ada").state["secret"]
    used = totp.check(secret, _code(secret, clock), last_step=None)
    clock.advance(seconds=30)
    assert totp.check(secret, _code(secret, clock), last_step=used) == used + 1


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12345a", " 123456", "１２３４５６", "12 345"])
def test_anything_but_six_ascii_digits_is_refused(totp: Totp, code: str) -> None:
    secret = totp.begin(SUBJECT, account_label="ada").state["secret"]
    with pytest.raises(MethodError, match="6 digits") as caught:
        totp.check(secret, code, last_step=None)
    assert caught.value.problems[0].pointer == "/otp_code"


def test_a_non_string_code_is_refused(totp: Totp) -> None:
    secret = totp.begin(SUBJECT, account_label="ada").state["secret"]
    with pytest.raises(MethodError):
        totp.check(secret, 123456, last_step=None)  # type: ignore[arg-type]


def test_a_corrupt_secret_is_a_method_error(totp: Totp) -> None:
    with pytest.raises(MethodError, match="base32"):
        totp.check("not base32!", "123456", last_step=None)


def test_eight_digit_codes(clock: FrozenClock) -> None:
    eight = Totp(issuer="t", clock=clock, digits=8)
    challenge = eight.begin(SUBJECT, account_label="ada")
    assert "digits=8" in challenge.public["barcode_uri"]
    secret = challenge.state["secret"]
    code = hotp(_key(secret), int(START.timestamp()) // 30, digits=8)
    assert eight.check(secret, code, last_step=None) == int(START.timestamp()) // 30


def test_type_is_totp(totp: Totp) -> None:
    assert totp.type is MethodType.TOTP
