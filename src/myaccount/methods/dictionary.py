"""Common passwords for the password policy's `dictionary` check.

The list is the ranked "passwords" frequency list that zxcvbn ships (most common first), so `en_10k` is its first
10,000 entries. Auth0's `en_100k` asks for more than the list holds (30,000 entries): it gets all of them.
"""

import importlib
import threading
from typing import Literal

__all__ = ["DictionaryName", "SIZES", "common_passwords", "is_common"]

DictionaryName = Literal["en_10k", "en_100k"]
SIZES: dict[DictionaryName, int] = {"en_10k": 10_000, "en_100k": 100_000}

_lock = threading.Lock()
_ranked: tuple[str, ...] | None = None
_sets: dict[DictionaryName, frozenset[str]] = {}


def _load_ranked() -> tuple[str, ...]:
    global _ranked
    with _lock:  # a few MB of lists: load them once, even when the first checks arrive together
        if _ranked is None:
            # zxcvbn ships no type hints; importing by name keeps mypy --strict quiet without an ignore.
            module = importlib.import_module("zxcvbn.frequency_lists")
            words = module.FREQUENCY_LISTS["passwords"]
            _ranked = tuple(word.lower() for word in words if isinstance(word, str))
        return _ranked


def common_passwords(name: DictionaryName = "en_10k") -> frozenset[str]:
    """The `SIZES[name]` most common passwords, lowercased."""
    found = _sets.get(name)
    if found is None:
        found = frozenset(_load_ranked()[: SIZES[name]])
        _sets[name] = found
    return found


def is_common(password: str, name: DictionaryName = "en_10k") -> bool:
    """Whether `password` is on the list, ignoring case ("Password" is as weak as "password")."""
    return password.lower() in common_passwords(name)
