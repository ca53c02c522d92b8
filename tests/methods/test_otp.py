import re
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import pytest

from myaccount.clock import FrozenClock
from myaccount.crypto.sealing import Sealer
from myaccount.methods.base import MethodError
from myaccount.methods.otp import CodeRejected, OneTimeCodes, normalize_email, normalize_phone

START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def codes(clock: FrozenClock) -> OneTimeCodes:
    return OneTimeCodes(clock=clock, fingerprint=partial(Sealer([b"k" * 32]).fingerprint, purpose="otp"))


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_issue_gives_six_digits_and_keeps_only_a_hash(codes: OneTimeCodes) -> None:
    code, state = codes.issue()
    assert re.fullmatch(r"[0-9]{6}", code)
    assert state == {
        "hash": state["hash"],
        "expires_at": (START + timedelta(minutes=5)).isoformat(),
        "attempts": 0,
        "used": False,
    }
    assert code not in repr(state)


def test_codes_are_random(codes: OneTimeCodes) -> None:
    assert len({codes.issue()[0] for _ in range(30)}) > 25


def test_the_right_code_is_accepted_once(codes: OneTimeCodes) -> None:
    code, state = codes.issue()
    after = codes.check(state, code)
    assert after["used"] is True and after["attempts"] == 1

    with pytest.raises(CodeRejected) as caught:
        codes.check(after, code)
    assert caught.value.reason == "used" and caught.value.locked


def test_a_wrong_code_is_counted_in_the_state_it_carries(codes: OneTimeCodes) -> None:
    code, state = codes.issue()
    with pytest.raises(CodeRejected) as caught:
        codes.check(state, _wrong(code))
    rejected = caught.value
    assert isinstance(rejected, MethodError)
    assert rejected.reason == "invalid" and not rejected.locked
    assert rejected.state["attempts"] == 1 and rejected.state["used"] is False
    assert [p.pointer for p in rejected.problems] == ["/otp_code"]
    # The caller persists the carried state, and the right code still works afterwards.
    assert codes.check(rejected.state, code)["used"] is True


def test_five_wrong_codes_lock_even_the_right_one(codes: OneTimeCodes) -> None:
    code, state = codes.issue()
    for attempt in range(1, 6):
        with pytest.raises(CodeRejected) as caught:
            codes.check(state, _wrong(code))
        state = caught.value.state
        assert state["attempts"] == attempt
        assert caught.value.locked is (attempt == 5)

    with pytest.raises(CodeRejected) as caught:
        codes.check(state, code)
    assert caught.value.reason == "locked" and caught.value.locked
    assert caught.value.state["attempts"] == 5


def test_attempts_accumulate_across_checks(codes: OneTimeCodes) -> None:
    code, state = codes.issue()
    with pytest.raises(CodeRejected) as first:
        codes.check(state, _wrong(code))
    with pytest.raises(CodeRejected) as second:
        codes.check(first.value.state, _wrong(code))
    assert second.value.state["attempts"] == 2


def test_a_code_expires(codes: OneTimeCodes, clock: FrozenClock) -> None:
    code, state = codes.issue()
    clock.advance(minutes=4, seconds=59)
    assert codes.check(state, code)["used"] is True

    code, state = codes.issue()
    clock.advance(minutes=5)
    with pytest.raises(CodeRejected) as caught:
        codes.check(state, code)
    assert caught.value.reason == "expired" and caught.value.locked
    assert caught.value.state["attempts"] == 0


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "abcdef", "１２３４５６", None, 123456])
def test_malformed_input_counts_as_a_wrong_attempt(codes: OneTimeCodes, typed: Any) -> None:
    _, state = codes.issue()
    with pytest.raises(CodeRejected) as caught:
        codes.check(state, typed)
    assert caught.value.reason == "invalid"
    assert caught.value.state["attempts"] == 1


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"hash": "h", "expires_at": "tomorrow", "attempts": 0},
        {"hash": "h", "expires_at": "2026-01-01T12:05:00", "attempts": 0},  # naive
        {"hash": "h", "expires_at": "2026-01-01T12:05:00+00:00", "attempts": "0"},
        {"hash": "h", "expires_at": "2026-01-01T12:05:00+00:00", "attempts": True},
        {"hash": None, "expires_at": "2026-01-01T12:05:00+00:00", "attempts": 0},
    ],
)
def test_a_malformed_state_is_a_method_error(codes: OneTimeCodes, state: dict[str, Any]) -> None:
    with pytest.raises(MethodError) as caught:
        codes.check(state, "123456")
    assert not isinstance(caught.value, CodeRejected)


def test_settings_change_the_limits(clock: FrozenClock) -> None:
    strict = OneTimeCodes(clock=clock, fingerprint=str.upper, ttl=timedelta(seconds=30), max_attempts=1, digits=8)
    code, state = strict.issue()
    assert len(code) == 8 and state["expires_at"] == (START + timedelta(seconds=30)).isoformat()
    with pytest.raises(CodeRejected) as caught:
        strict.check(state, f"{(int(code) + 1) % 10**8:08d}")
    assert caught.value.locked


@pytest.mark.parametrize("number", ["+14155550123", "+447911123456", "+8613800138000", "+1234567", "+123456789012345"])
def test_valid_phone_numbers(number: str) -> None:
    assert normalize_phone(number) == number


@pytest.mark.parametrize(
    "number",
    [
        "14155550123",
        "+04155550123",
        "+1 415 555 0123",
        "+1-415-555-0123",
        "+123456",
        "+1234567890123456",
        "",
        "+１４１５５５５０１２３",
        None,
    ],
)
def test_invalid_phone_numbers(number: Any) -> None:
    with pytest.raises(MethodError) as caught:
        normalize_phone(number)
    assert caught.value.problems[0].pointer == "/phone_number"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Ada@Example.COM", "Ada@example.com"),
        ("  ada.lovelace+mfa@example.co.uk ", "ada.lovelace+mfa@example.co.uk"),
        ("o'brien@sub.example.org", "o'brien@sub.example.org"),
        ("ada@Bücher.Example", "ada@bücher.example"),
        ("ada@example.com.", "ada@example.com"),
    ],
)
def test_valid_emails(given: str, expected: str) -> None:
    assert normalize_email(given) == expected


@pytest.mark.parametrize(
    "address",
    [
        "",
        "ada",
        "@example.com",
        "ada@",
        "ada@localhost",
        "ada@exa_mple.com",
        "ada@-example.com",
        "ada@example..com",
        "ada..x@example.com",
        ".ada@example.com",
        "ada x@example.com",
        '"ada"@example.com',
        "ada@example.com\r\nBcc: eve@example.com",
        "ada@10.0.0.1",
        "a" * 65 + "@example.com",
        "ada@" + "a" * 64 + ".com",
        None,
    ],
)
def test_invalid_emails(address: Any) -> None:
    with pytest.raises(MethodError) as caught:
        normalize_email(address)
    assert caught.value.problems[0].pointer == "/email"
