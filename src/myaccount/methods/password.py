"""Passwords (Auth0 type `password`): the connection's password policy, in the shape the enrollment response
carries (`policy`, wire notes §3.5), and the checks it implies for `new_password` at verify (§3.6).

Auth0 hashed with bcrypt, which reads only the first 72 bytes; `max_length_exceeded` says whether a longer
password is cut to those bytes (`truncate`) or refused (`error`). Hashing is argon2id here, so truncation is
explicit: `PasswordPolicy.effective` gives the part that counts, and sign-in must apply it the same way.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from myaccount.crypto.passwords import PasswordHashing
from myaccount.methods.base import Challenge, Enrolled, FieldProblem, MethodError, MethodType
from myaccount.methods.dictionary import DictionaryName, is_common

__all__ = [
    "BCRYPT_MAX_BYTES",
    "MAX_INPUT_LENGTH",
    "CharacterType",
    "Complexity",
    "Dictionary",
    "History",
    "Password",
    "PasswordPolicy",
    "ProfileData",
]

CharacterType = Literal["lowercase", "uppercase", "number", "special"]
CharacterTypeRule = Literal["all", "three_of_four"]
AllowOrBlock = Literal["allow", "block"]
MaxLengthExceeded = Literal["truncate", "error"]

BCRYPT_MAX_BYTES = 72
MAX_INPUT_LENGTH = 256  # the contract's maxLength for `new_password`
# The contract's pattern for `new_password`: no C0 controls, DEL, or C1 controls.
_CONTROL = re.compile("[\u0000-\u001f\u007f-\u009f]")
_IDENTICAL = re.compile(r"(.)\1\1", re.DOTALL)
_POINTER = "/new_password"
_MIN_PROFILE_FRAGMENT = 3  # shorter names ("Al", "Li") would block too many good passwords
_TYPE_NAMES: dict[CharacterType, str] = {
    "lowercase": "lower case letters (a-z)",
    "uppercase": "upper case letters (A-Z)",
    "number": "numbers (0-9)",
    "special": "special characters (e.g. !@#$%^&*)",
}


def _one_of(value: object, allowed: object, name: str) -> None:
    if value not in get_args(allowed):
        raise ValueError(f"{name} must be one of {', '.join(get_args(allowed))}")


def _flag(value: object, name: str) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false")


@dataclass(frozen=True, slots=True)
class Complexity:
    min_length: int = 8
    character_types: tuple[CharacterType, ...] = ("lowercase", "uppercase", "number", "special")
    character_type_rule: CharacterTypeRule = "three_of_four"
    identical_characters: AllowOrBlock = "block"  # "block": refuse 3 or more identical characters in a row
    sequential_characters: AllowOrBlock = "block"  # "block": refuse runs such as abc, 123, cba, 321
    max_length_exceeded: MaxLengthExceeded = "truncate"

    def __post_init__(self) -> None:
        if not isinstance(self.min_length, int) or not 1 <= self.min_length <= MAX_INPUT_LENGTH:
            raise ValueError(f"complexity.min_length must be between 1 and {MAX_INPUT_LENGTH}")
        for kind in self.character_types:
            _one_of(kind, CharacterType, "complexity.character_types[]")
        if len(set(self.character_types)) != len(self.character_types):
            raise ValueError("complexity.character_types must not repeat a type")
        _one_of(self.character_type_rule, CharacterTypeRule, "complexity.character_type_rule")
        _one_of(self.identical_characters, AllowOrBlock, "complexity.identical_characters")
        _one_of(self.sequential_characters, AllowOrBlock, "complexity.sequential_characters")
        _one_of(self.max_length_exceeded, MaxLengthExceeded, "complexity.max_length_exceeded")


@dataclass(frozen=True, slots=True)
class ProfileData:
    active: bool = True
    # Keys of the `profile` mapping given to `check`; dotted names such as "user_metadata.first" are looked up as is.
    blocked_fields: tuple[str, ...] = ("name", "email")

    def __post_init__(self) -> None:
        _flag(self.active, "profile_data.active")
        if not all(isinstance(name, str) and name for name in self.blocked_fields):
            raise ValueError("profile_data.blocked_fields must be field names")


@dataclass(frozen=True, slots=True)
class History:
    active: bool = True
    size: int = 5

    def __post_init__(self) -> None:
        _flag(self.active, "history.active")
        if not isinstance(self.size, int) or not 0 <= self.size <= 24:  # Auth0 remembers at most 24
            raise ValueError("history.size must be between 0 and 24")


@dataclass(frozen=True, slots=True)
class Dictionary:
    active: bool = True
    default: DictionaryName = "en_10k"

    def __post_init__(self) -> None:
        _flag(self.active, "dictionary.active")
        _one_of(self.default, DictionaryName, "dictionary.default")


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """The contract's `PasswordAuthenticationMethodPolicy`, field for field."""

    complexity: Complexity = field(default_factory=Complexity)
    profile_data: ProfileData = field(default_factory=ProfileData)
    history: History = field(default_factory=History)
    dictionary: Dictionary = field(default_factory=Dictionary)

    def to_wire(self) -> dict[str, Any]:
        """The `policy` object of the password enrollment response (all fields required by the contract)."""
        c = self.complexity
        return {
            "complexity": {
                "min_length": c.min_length,
                "character_types": list(c.character_types),
                "character_type_rule": c.character_type_rule,
                "identical_characters": c.identical_characters,
                "sequential_characters": c.sequential_characters,
                "max_length_exceeded": c.max_length_exceeded,
            },
            "profile_data": {
                "active": self.profile_data.active,
                "blocked_fields": list(self.profile_data.blocked_fields),
            },
            "history": {"active": self.history.active, "size": self.history.size},
            "dictionary": {"active": self.dictionary.active, "default": self.dictionary.default},
        }

    @classmethod
    def from_wire(cls, data: Mapping[str, Any]) -> "PasswordPolicy":
        """The inverse of `to_wire`, for policies kept as configuration. Raises ValueError on a bad document."""
        try:
            c, p, h, d = data["complexity"], data["profile_data"], data["history"], data["dictionary"]
            return cls(
                complexity=Complexity(
                    min_length=c["min_length"],
                    character_types=tuple(c["character_types"]),
                    character_type_rule=c["character_type_rule"],
                    identical_characters=c["identical_characters"],
                    sequential_characters=c["sequential_characters"],
                    max_length_exceeded=c["max_length_exceeded"],
                ),
                profile_data=ProfileData(active=p["active"], blocked_fields=tuple(p["blocked_fields"])),
                history=History(active=h["active"], size=h["size"]),
                dictionary=Dictionary(active=d["active"], default=d["default"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"password policy is missing or mistypes a field: {exc}") from exc

    def effective(self, password: str) -> str:
        """The part of `password` that counts: under `truncate`, its first 72 UTF-8 bytes (never half a character)."""
        if self.complexity.max_length_exceeded != "truncate":
            return password
        return password.encode()[:BCRYPT_MAX_BYTES].decode(errors="ignore")

    def check(
        self,
        password: str,
        *,
        profile: Mapping[str, str | None],
        history_hashes: Sequence[str],
        hashing: PasswordHashing,
    ) -> list[FieldProblem]:
        """Every rule `password` breaks; empty when it may be set.

        `history_hashes` are the user's latest password hashes, newest first, the current one included.
        """
        if not isinstance(password, str) or not password:
            return [_problem("A password is required.")]
        if len(password) > MAX_INPUT_LENGTH:
            return [_problem(f"The password must be at most {MAX_INPUT_LENGTH} characters long.")]
        if _CONTROL.search(password):
            return [_problem("The password must not contain control characters.")]

        c = self.complexity
        problems: list[FieldProblem] = []
        if c.max_length_exceeded == "error" and len(password.encode()) > BCRYPT_MAX_BYTES:
            problems.append(_problem(f"The password must be at most {BCRYPT_MAX_BYTES} bytes long."))
        candidate = self.effective(password)
        if len(candidate) < c.min_length:
            problems.append(_problem(f"The password must be at least {c.min_length} characters long."))
        problems.extend(_character_types(candidate, c))
        if c.identical_characters == "block" and _IDENTICAL.search(candidate):
            problems.append(_problem("The password must not contain more than 2 identical characters in a row."))
        if c.sequential_characters == "block" and _has_sequence(candidate):
            problems.append(_problem('The password must not contain sequences such as "abc" or "321".'))
        if self.profile_data.active:
            problems.extend(_profile_data(candidate, profile, self.profile_data.blocked_fields))
        if self.dictionary.active and is_common(candidate, self.dictionary.default):
            problems.append(_problem("The password is too common."))
        # Each history entry costs an argon2 verification (~30 ms); only pay for it when nothing cheaper failed.
        if not problems and self.history.active and self.history.size > 0:
            if any(hashing.verify(hashed, candidate) for hashed in list(history_hashes)[: self.history.size]):
                problems.append(_problem("The password has been used recently; choose a different one."))
        return problems


def _problem(detail: str) -> FieldProblem:
    return FieldProblem(detail=detail, pointer=_POINTER, field="new_password")


def _kind(char: str) -> CharacterType:
    # Anything that is neither a cased letter nor a digit counts as special: symbols, spaces, caseless scripts.
    if char.islower():
        return "lowercase"
    if char.isupper():
        return "uppercase"
    if char.isdecimal():
        return "number"
    return "special"


def _character_types(candidate: str, c: Complexity) -> list[FieldProblem]:
    if not c.character_types:
        return []
    present = {_kind(char) for char in candidate}
    needed = len(c.character_types) if c.character_type_rule == "all" else min(3, len(c.character_types))
    if sum(kind in present for kind in c.character_types) >= needed:
        return []
    listed = ", ".join(_TYPE_NAMES[kind] for kind in c.character_types)
    if needed == len(c.character_types):
        return [_problem(f"The password must contain all of the following: {listed}.")]
    return [_problem(f"The password must contain at least {needed} of the following: {listed}.")]


def _has_sequence(candidate: str) -> bool:
    """Three ASCII letters or digits that step by +1 or -1: abc, xyz, 123, cba, 321 (letters case-insensitive)."""
    text = candidate.lower()
    for a, b, c in zip(text, text[1:], text[2:], strict=False):
        same_class = (a + b + c).isascii() and ((a + b + c).isdigit() or (a + b + c).isalpha())
        if same_class and ord(b) - ord(a) == ord(c) - ord(b) and abs(ord(b) - ord(a)) == 1:
            return True
    return False


def _fragments(field_name: str, value: str) -> set[str]:
    """The pieces of a profile value a password must not contain: the whole value and each word of it."""
    if field_name == "email" or "@" in value:
        value = value.rpartition("@")[0] or value  # the local part is what people reuse; the domain is shared
    words = [word for word in re.split(r"[\W_]+", value) if word]
    pieces = {"".join(value.split()), *words}
    return {piece.casefold() for piece in pieces if len(piece) >= _MIN_PROFILE_FRAGMENT}


def _profile_data(candidate: str, profile: Mapping[str, str | None], blocked: Sequence[str]) -> list[FieldProblem]:
    folded = candidate.casefold()
    problems: list[FieldProblem] = []
    for field_name in blocked:
        value = profile.get(field_name)
        if isinstance(value, str) and any(piece in folded for piece in _fragments(field_name, value)):
            label = "email address" if field_name == "email" else field_name
            problems.append(_problem(f"The password must not contain your {label}."))
    return problems


class Password:
    """Setting a password through My Account: `begin` shows the policy, `complete` checks and hashes."""

    type = MethodType.PASSWORD

    def __init__(self, *, policy: PasswordPolicy, hashing: PasswordHashing) -> None:
        self.policy = policy
        self._hashing = hashing

    def begin(self) -> Challenge:
        return Challenge(public={"policy": self.policy.to_wire()}, state={})

    def complete(
        self,
        state: Mapping[str, Any],
        new_password: str,
        *,
        profile: Mapping[str, str | None],
        history_hashes: Sequence[str],
    ) -> Enrolled:
        """The argon2id hash of the effective password, or MethodError listing every rule it breaks."""
        problems = self.policy.check(
            new_password, profile=profile, history_hashes=history_hashes, hashing=self._hashing
        )
        if problems:
            raise MethodError("The password does not satisfy the password policy.", problems=tuple(problems))
        return Enrolled(name=None, secret={"hash": self._hashing.hash(self.policy.effective(new_password))})
