import math
import re
from functools import partial

import pytest

from myaccount.crypto.sealing import Sealer
from myaccount.methods.base import MethodError, MethodType
from myaccount.methods.recovery_code import ALPHABET, CODE_LENGTH, RecoveryCode, normalize


@pytest.fixture
def sealer() -> Sealer:
    return Sealer([b"k" * 32])


@pytest.fixture
def codes(sealer: Sealer) -> RecoveryCode:
    return RecoveryCode(fingerprint=partial(sealer.fingerprint, purpose="recovery-code"))


def test_code_shape_and_entropy(codes: RecoveryCode) -> None:
    code = codes.begin().public["recovery_code"]
    assert re.fullmatch(r"[A-Z0-9]{24}", code)
    assert set(code) <= set(ALPHABET)
    assert CODE_LENGTH * math.log2(len(ALPHABET)) >= 110
    assert not set("IO01") & set(ALPHABET)


def test_codes_differ(codes: RecoveryCode) -> None:
    assert len({codes.begin().public["recovery_code"] for _ in range(20)}) == 20


def test_state_holds_only_the_keyed_hash(codes: RecoveryCode, sealer: Sealer) -> None:
    challenge = codes.begin()
    code = challenge.public["recovery_code"]
    assert challenge.state == {"hash": sealer.fingerprint(code, purpose="recovery-code")}
    assert code not in repr(challenge.state)


def test_complete_stores_the_hash(codes: RecoveryCode) -> None:
    challenge = codes.begin()
    enrolled = codes.complete(challenge.state)
    assert enrolled.name is None
    assert enrolled.secret == {"hash": challenge.state["hash"]}


@pytest.mark.parametrize("state", [{}, {"hash": ""}, {"hash": 5}])
def test_complete_without_a_hash_is_a_method_error(codes: RecoveryCode, state: dict[str, object]) -> None:
    with pytest.raises(MethodError):
        codes.complete(state)


def test_check_accepts_the_code(codes: RecoveryCode) -> None:
    challenge = codes.begin()
    assert codes.check(challenge.state["hash"], challenge.public["recovery_code"]) is True


def test_check_tolerates_grouping_and_lowercase(codes: RecoveryCode) -> None:
    challenge = codes.begin()
    code = challenge.public["recovery_code"]
    typed = " " + "-".join(code[i : i + 4] for i in range(0, 24, 4)).lower() + "\n"
    assert codes.check(challenge.state["hash"], typed) is True
    assert normalize("ab cd-ef") == "ABCDEF"


def test_check_refuses_other_codes(codes: RecoveryCode) -> None:
    first, second = codes.begin(), codes.begin()
    assert codes.check(first.state["hash"], second.public["recovery_code"]) is False
    code = first.public["recovery_code"]
    assert codes.check(first.state["hash"], code[:-1]) is False
    assert codes.check(first.state["hash"], "") is False
    assert codes.check(first.state["hash"], code * 5) is False


def test_check_refuses_non_strings(codes: RecoveryCode) -> None:
    challenge = codes.begin()
    assert codes.check(challenge.state["hash"], None) is False  # type: ignore[arg-type]


def test_the_hash_depends_on_the_key() -> None:
    one = RecoveryCode(fingerprint=partial(Sealer([b"a" * 32]).fingerprint, purpose="recovery-code"))
    other = RecoveryCode(fingerprint=partial(Sealer([b"b" * 32]).fingerprint, purpose="recovery-code"))
    challenge = one.begin()
    assert other.check(challenge.state["hash"], challenge.public["recovery_code"]) is False


def test_type(codes: RecoveryCode) -> None:
    assert codes.type is MethodType.RECOVERY_CODE
