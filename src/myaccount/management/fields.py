"""Reading Management API request bodies, one helper per JSON type, with Auth0's "Payload validation error" wording.

A JSON `null` reads as absent (the SDK sends `null` for an argument passed as `None`); callers that give `null`
a meaning (clearing a profile field) look at the body themselves.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from myaccount.management.errors import Invalid, Unsupported

__all__ = ["flag", "integer", "mapping", "object_list", "only", "supported", "text", "texts"]

_JSON_TYPES: tuple[tuple[type, str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (dict, "object"),
)


def _found(value: object) -> str:
    if value is None:
        return "null"
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), type(value).__name__)


def _expected(name: str, kind: str, value: object) -> Invalid:
    return Invalid(
        f"Payload validation error: 'Expected type {kind} but found type {_found(value)}' on property {name}."
    )


def only(body: Mapping[str, Any], allowed: Iterable[str], *, unsupported: Iterable[str] = ()) -> None:
    """Refuse properties outside `allowed`; those in `unsupported` are Auth0's but not implemented here."""
    refused = sorted(name for name in unsupported if body.get(name) is not None)
    if refused:
        raise Unsupported(f"This server does not support {', '.join(refused)}.")
    extra = sorted(set(body) - set(allowed) - set(unsupported))
    if extra:
        raise Invalid(f"Payload validation error: 'Additional properties not allowed: {', '.join(extra)}'.")


def supported(body: Mapping[str, Any], allowed: Iterable[str]) -> None:
    """For Auth0's large objects (clients, APIs): a property outside `allowed` is one this server does not
    implement, so it is refused by name rather than silently dropped. A null reads as absent."""
    refused = sorted(name for name, value in body.items() if name not in set(allowed) and value is not None)
    if refused:
        raise Unsupported(f"This server does not support these properties: {', '.join(refused)}.")


def _missing(name: str) -> Invalid:
    return Invalid(f"Payload validation error: 'Missing required property: {name}'.")


def text(
    body: Mapping[str, Any], name: str, *, required: bool = False, max_length: int = 300, min_length: int = 1
) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise _missing(name)
        return None
    if not isinstance(value, str):
        raise _expected(name, "string", value)
    if not min_length <= len(value) <= max_length:
        raise Invalid(
            f"Payload validation error: 'String length must be between {min_length} and {max_length}' "
            f"on property {name}."
        )
    return value


def flag(body: Mapping[str, Any], name: str, *, required: bool = False) -> bool | None:
    value = body.get(name)
    if value is None:
        if required:
            raise _missing(name)
        return None
    if not isinstance(value, bool):
        raise _expected(name, "boolean", value)
    return value


def integer(body: Mapping[str, Any], name: str, *, minimum: int, maximum: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _expected(name, "integer", value)
    if not minimum <= value <= maximum:
        raise Invalid(f"Payload validation error: '{name} must be between {minimum} and {maximum}'.")
    return value


def texts(body: Mapping[str, Any], name: str, *, required: bool = False, max_items: int = 200) -> list[str] | None:
    value = body.get(name)
    if value is None:
        if required:
            raise _missing(name)
        return None
    if not isinstance(value, list):
        raise _expected(name, "array", value)
    if len(value) > max_items:
        raise Invalid(f"Payload validation error: 'Array is too long ({len(value)}), maximum {max_items}' on {name}.")
    for item in value:
        if not isinstance(item, str):
            raise _expected(f"{name}[]", "string", item)
    return list(value)


def mapping(body: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _expected(name, "object", value)
    return value


def object_list(body: Mapping[str, Any], name: str, *, max_items: int = 200) -> list[dict[str, Any]]:
    """A required array of objects, such as `permissions` or `scopes`."""
    value = body.get(name)
    if value is None:
        raise _missing(name)
    if not isinstance(value, list):
        raise _expected(name, "array", value)
    if len(value) > max_items:
        raise Invalid(f"Payload validation error: 'Array is too long ({len(value)}), maximum {max_items}' on {name}.")
    for item in value:
        if not isinstance(item, dict):
            raise _expected(f"{name}[]", "object", item)
    return list(value)
