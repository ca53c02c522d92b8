import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from myaccount.crypto.passwords import PasswordHashing
from myaccount.methods.base import FieldProblem, MethodError, MethodType
from myaccount.methods.dictionary import common_passwords, is_common
from myaccount.methods.password import Complexity, Dictionary, History, Password, PasswordPolicy, ProfileData

CONTRACT = Path("/work/shared/contracts/myaccount-api-oas.json")
PROFILE = {"name": "Ada Lovelace", "email": "countess.byron@example.com"}
GOOD = "Tr0ub4dor&Horse!"  # three of four types and more, no runs, not common, no profile data


@pytest.fixture(scope="module")
def hashing() -> PasswordHashing:
    # Cheap parameters: these tests check which hashes match, not how slow hashing is.
    return PasswordHashing(memory_cost=1024, time_cost=1)


def _check(
    password: str,
    hashing: PasswordHashing,
    policy: PasswordPolicy | None = None,
    *,
    profile: dict[str, str | None] | None = None,
    history: list[str] | None = None,
) -> list[str]:
    problems = (policy or PasswordPolicy()).check(
        password, profile=PROFILE if profile is None else profile, history_hashes=history or [], hashing=hashing
    )
    assert all(p.pointer == "/new_password" for p in problems)
    return [p.detail for p in problems]


def _complexity(**changes: Any) -> PasswordPolicy:
    return PasswordPolicy(complexity=replace(Complexity(), **changes))


# --- the policy object on the wire ------------------------------------------------------------------------------


def test_default_policy_is_the_contract_example() -> None:
    assert PasswordPolicy().to_wire() == {
        "complexity": {
            "min_length": 8,
            "character_types": ["lowercase", "uppercase", "number", "special"],
            "character_type_rule": "three_of_four",
            "identical_characters": "block",
            "sequential_characters": "block",
            "max_length_exceeded": "truncate",
        },
        "profile_data": {"active": True, "blocked_fields": ["name", "email"]},
        "history": {"active": True, "size": 5},
        "dictionary": {"active": True, "default": "en_10k"},
    }


@pytest.mark.skipif(not CONTRACT.exists(), reason="shared contract not present")
def test_to_wire_validates_against_the_contract_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    document = json.loads(CONTRACT.read_text())
    schema = {"$ref": "#/components/schemas/PasswordAuthenticationMethodPolicy", "components": document["components"]}
    example = document["paths"]["/authentication-methods"]["post"]["responses"]["202"]["content"]["application/json"]
    assert PasswordPolicy().to_wire() == example["examples"]["password"]["value"]["policy"]
    other = PasswordPolicy(
        complexity=Complexity(min_length=12, character_types=("number",), character_type_rule="all"),
        profile_data=ProfileData(active=False, blocked_fields=()),
        history=History(active=False, size=0),
        dictionary=Dictionary(default="en_100k"),
    )
    for policy in (PasswordPolicy(), other):
        jsonschema.validate(policy.to_wire(), schema)


def test_from_wire_round_trips() -> None:
    policy = PasswordPolicy(complexity=Complexity(min_length=10, max_length_exceeded="error"))
    assert PasswordPolicy.from_wire(policy.to_wire()) == policy


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("complexity", "min_length"), 0),
        (("complexity", "character_types"), ["lowercase", "emoji"]),
        (("complexity", "character_type_rule"), "two_of_four"),
        (("complexity", "identical_characters"), "warn"),
        (("complexity", "max_length_exceeded"), "ignore"),
        (("history", "size"), 25),
        (("history", "active"), "yes"),
        (("dictionary", "default"), "fr_10k"),
    ],
)
def test_from_wire_refuses_bad_values(path: tuple[str, str], value: object) -> None:
    wire = PasswordPolicy().to_wire()
    wire[path[0]][path[1]] = value
    with pytest.raises(ValueError):
        PasswordPolicy.from_wire(wire)


def test_from_wire_refuses_missing_fields() -> None:
    wire = PasswordPolicy().to_wire()
    del wire["history"]
    with pytest.raises(ValueError, match="missing"):
        PasswordPolicy.from_wire(wire)


# --- the checks -------------------------------------------------------------------------------------------------


def test_a_good_password_passes(hashing: PasswordHashing) -> None:
    assert _check(GOOD, hashing) == []


@pytest.mark.parametrize(
    "password", ["bad\x00pass!A1", "line\nbreak!A1x", "tab\there!A1x", "del\x7fchar!A1", "c1\x85ctl!Ab9"]
)
def test_control_characters_are_refused(hashing: PasswordHashing, password: str) -> None:
    assert _check(password, hashing) == ["The password must not contain control characters."]


def test_empty_and_oversized_input(hashing: PasswordHashing) -> None:
    assert _check("", hashing) == ["A password is required."]
    assert _check(None, hashing) == ["A password is required."]  # type: ignore[arg-type]
    assert _check("Aa1!" * 64, hashing, _complexity(identical_characters="allow", max_length_exceeded="error")) == [
        "The password must be at most 72 bytes long."
    ]
    assert _check("Aa1!" * 64 + "x", hashing) == ["The password must be at most 256 characters long."]


def test_minimum_length(hashing: PasswordHashing) -> None:
    assert _check("Tr0b4d!", hashing) == ["The password must be at least 8 characters long."]
    assert _check("Tr0b4d!x", hashing) == []
    assert "at least 12" in _check(GOOD[:11], hashing, _complexity(min_length=12))[0]


def test_three_of_four_character_types(hashing: PasswordHashing) -> None:
    assert _check("troubadorhorse", hashing) == [
        "The password must contain at least 3 of the following: lower case letters (a-z), upper case letters (A-Z), "
        "numbers (0-9), special characters (e.g. !@#$%^&*)."
    ]
    assert _check("troubadorhorse7", hashing) != []
    assert _check("troubadorhorse7!", hashing) == []  # lower, number, special
    assert _check("Troubadorhorse!", hashing) == []  # lower, upper, special
    assert _check("TROUBADOR horse", hashing) == []  # a space counts as special


def test_all_character_types(hashing: PasswordHashing) -> None:
    policy = _complexity(character_type_rule="all")
    assert _check("Troubadorhorse!", hashing, policy) == [
        "The password must contain all of the following: lower case letters (a-z), upper case letters (A-Z), "
        "numbers (0-9), special characters (e.g. !@#$%^&*)."
    ]
    assert _check("Troubadorhorse!7", hashing, policy) == []


def test_a_subset_of_character_types(hashing: PasswordHashing) -> None:
    policy = _complexity(character_types=("number",), character_type_rule="all")
    assert _check("troubadorhorse", hashing, policy) == [
        "The password must contain all of the following: numbers (0-9)."
    ]
    assert _check("troubadorhorse7", hashing, policy) == []
    assert _check("troubadorhorse", hashing, _complexity(character_types=())) == []


def test_non_ascii_letters_count_by_case(hashing: PasswordHashing) -> None:
    assert _check("Ärgerlichös7", hashing) == []  # upper, lower, number


def test_identical_characters(hashing: PasswordHashing) -> None:
    assert _check("Troubadooor!7", hashing) == [
        "The password must not contain more than 2 identical characters in a row."
    ]
    assert _check("Troubadoor!7x", hashing) == []
    assert _check("Troubadoooor!7", hashing, _complexity(identical_characters="allow")) == []


@pytest.mark.parametrize("run", ["abc", "xyz", "123", "789", "cba", "321", "ABC", "aBc", "987"])
def test_sequential_characters(hashing: PasswordHashing, run: str) -> None:
    password = f"Tr!{run}Horse9"
    problems = _check(password, hashing)
    assert problems == ['The password must not contain sequences such as "abc" or "321".']
    assert _check(password, hashing, _complexity(sequential_characters="allow")) == []


@pytest.mark.parametrize("password", ["Tr!acegHorse9", "Tr!9a8Horse", "Tr!yz{Horse9", 'Tr!!"#Horse9', "Tr!1ab2Horse"])
def test_near_sequences_are_fine(hashing: PasswordHashing, password: str) -> None:
    assert _check(password, hashing) == []


@pytest.mark.parametrize(
    "password", ["MyAdaPass!9", "LOVELACE-rules9", "adalovelace!9X", "Countess!99x", "Byron#Rocks9"]
)
def test_profile_data_is_refused(hashing: PasswordHashing, password: str) -> None:
    problems = _check(password, hashing)
    assert len(problems) == 1
    assert problems[0] in {
        "The password must not contain your name.",
        "The password must not contain your email address.",
    }


def test_profile_data_names_each_field(hashing: PasswordHashing) -> None:
    assert _check("AdaCountess!9", hashing) == [
        "The password must not contain your name.",
        "The password must not contain your email address.",
    ]


def test_profile_data_ignores_short_values_and_missing_fields(hashing: PasswordHashing) -> None:
    profile: dict[str, str | None] = {"name": "Al Li", "email": None}
    assert _check("Li9Tr0ub!Al", hashing, profile=profile) == []
    assert _check("AlLi9Tr0ub!", hashing, profile=profile) == ["The password must not contain your name."]


def test_profile_data_can_be_switched_off_or_extended(hashing: PasswordHashing) -> None:
    off = PasswordPolicy(profile_data=ProfileData(active=False))
    assert _check("MyAdaPass!9", hashing, off) == []
    extended = PasswordPolicy(profile_data=ProfileData(blocked_fields=("name", "email", "user_metadata.pet")))
    profile: dict[str, str | None] = {**PROFILE, "user_metadata.pet": "Whiskers"}
    assert _check("whiskers4Ever!", hashing, extended, profile=profile) == [
        "The password must not contain your user_metadata.pet."
    ]


@pytest.mark.parametrize("password", ["password", "PASSWORD", "Password", "iloveyou", "trustno1"])
def test_common_passwords_are_refused(hashing: PasswordHashing, password: str) -> None:
    policy = PasswordPolicy(complexity=Complexity(min_length=1, character_types=()))
    assert _check(password, hashing, policy) == ["The password is too common."]


def test_dictionary_sizes() -> None:
    ten, hundred = common_passwords("en_10k"), common_passwords("en_100k")
    assert len(ten) == 10_000 and ten < hundred
    rarer = next(iter(hundred - ten))
    assert not is_common(rarer, "en_10k") and is_common(rarer.upper(), "en_100k")


def test_dictionary_can_be_switched_off(hashing: PasswordHashing) -> None:
    policy = PasswordPolicy(
        complexity=Complexity(min_length=1, character_types=()), dictionary=Dictionary(active=False)
    )
    assert _check("iloveyou", hashing, policy) == []


def test_history_refuses_recent_passwords(hashing: PasswordHashing) -> None:
    history = [hashing.hash(f"Older{n}!Pw") for n in range(4)] + [hashing.hash(GOOD)]
    assert _check(GOOD, hashing, history=history) == ["The password has been used recently; choose a different one."]
    assert _check(GOOD, hashing, PasswordPolicy(history=History(size=4)), history=history) == []
    assert _check(GOOD, hashing, PasswordPolicy(history=History(active=False)), history=history) == []
    assert _check("Other!Pw9x", hashing, history=history) == []


def test_history_is_not_consulted_when_cheaper_rules_fail(hashing: PasswordHashing) -> None:
    class Counting(PasswordHashing):
        calls = 0

        def verify(self, hashed: str | None, password: str) -> bool:
            Counting.calls += 1
            return super().verify(hashed, password)

    counting = Counting(memory_cost=1024, time_cost=1)
    assert _check("short", counting, history=[counting.hash("short")]) != []
    assert Counting.calls == 0


def test_truncate_counts_only_the_first_72_bytes(hashing: PasswordHashing) -> None:
    policy = PasswordPolicy()
    head = "Tr0ub4dor&Horse!" * 4 + "Kq9!mZ2x"  # 72 ASCII bytes
    assert len(head.encode()) == 72
    assert policy.effective(head + "aaaa") == head  # the identical run lies beyond byte 72
    assert _check(head + "aaaa", hashing, policy) == []
    # Never half a character: "é" is two bytes, so 71 ASCII bytes then "é" keeps 71.
    assert policy.effective("x" * 71 + "é") == "x" * 71
    # And a password used before is recognised by its first 72 bytes.
    history = [hashing.hash(head)]
    assert _check(head + "Zz9!", hashing, policy, history=history) == [
        "The password has been used recently; choose a different one."
    ]


def test_error_mode_keeps_the_whole_password(hashing: PasswordHashing) -> None:
    policy = _complexity(max_length_exceeded="error")
    assert policy.effective("x" * 100) == "x" * 100
    assert _check("Tr0ub4dor&Horse!" * 4 + "Kq9!mZ2x", hashing, policy) == []
    assert _check("Tr0ub4dor&Horse!" * 5, hashing, policy) == ["The password must be at most 72 bytes long."]


# --- the method -------------------------------------------------------------------------------------------------


def test_password_method_begin_shows_the_policy(hashing: PasswordHashing) -> None:
    method = Password(policy=PasswordPolicy(), hashing=hashing)
    assert method.type is MethodType.PASSWORD
    assert method.begin().public == {"policy": PasswordPolicy().to_wire()}


def test_password_method_complete_hashes_the_effective_password(hashing: PasswordHashing) -> None:
    method = Password(policy=PasswordPolicy(), hashing=hashing)
    long = "Tr0ub4dor&Horse!" * 4 + "Kq9!mZ2x" + "tail"
    enrolled = method.complete({}, long, profile=PROFILE, history_hashes=[])
    assert enrolled.secret is not None
    assert hashing.verify(enrolled.secret["hash"], long[:72])
    assert not hashing.verify(enrolled.secret["hash"], long)


def test_password_method_complete_lists_every_problem(hashing: PasswordHashing) -> None:
    method = Password(policy=PasswordPolicy(), hashing=hashing)
    with pytest.raises(MethodError) as caught:
        method.complete({}, "abc", profile=PROFILE, history_hashes=[])
    problems = caught.value.problems
    assert len(problems) == 3  # too short, one character type, a sequence
    assert all(isinstance(p, FieldProblem) and p.pointer == "/new_password" for p in problems)
