"""Auth0's My Account OpenAPI document (contracts/myaccount-api-oas.json) as a test oracle.

`check(response, "/authentication-methods/{authentication_method_id}", "get")` finds the operation, asserts that
the status is one it documents, validates the JSON body against that response's schema (JSON Schema 2020-12, the
dialect of OpenAPI 3.1, with every `#/components/...` reference resolved inside the one registered document), and
asserts the documented required headers: `x-ratelimit-*` on every 2xx, `Location` on 201/202 (absolute, the method
id percent-encoded), `retry-after` on 429. Formats `date-time` and `uri` are checked, not just annotated.

The document lives in the `shared` directory beside the repository; without it these tests fail, they never skip.
"""

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlsplit

import pytest
from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]
from jsonschema.exceptions import best_match  # type: ignore[import-untyped]
from referencing import Registry
from referencing.jsonschema import DRAFT202012

__all__ = ["OAS_PATH", "Contract", "ContractError", "ResponseLike", "check", "check_request", "load_contract"]

OAS_PATH = Path(__file__).resolve().parents[2].parent / "shared" / "contracts" / "myaccount-api-oas.json"
BASE_URI = "urn:auth0:myaccount-api-oas"
API_PREFIX = "/me/v1"
RATE_LIMIT_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# RFC 3339 §5.6 date-time (OpenAPI's `format: date-time`).
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
# RFC 3986 §3.1 scheme, then no characters a URI can never hold.
_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`]*")
# `passkey|new`, `totp|dev_XXXXXXXXXXXXXXXX`, `password|{base64url}` (contracts/auth0-wire-notes.md §3.1).
_METHOD_ID = re.compile(r"[a-z][a-z-]*\|[A-Za-z0-9_-]+")


class ContractError(AssertionError):
    """A response (or request) that the OpenAPI document does not allow."""


class ResponseLike(Protocol):
    """What `check` reads: httpx and httpx2 (Starlette's TestClient) responses both fit."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def content(self) -> bytes: ...


def _format_checker() -> Any:
    checker = FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)  # type: ignore[untyped-decorator]
    def date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not _DATE_TIME.fullmatch(value):
            return False
        datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        return True

    @checker.checks("uri")  # type: ignore[untyped-decorator]
    def uri(value: object) -> bool:
        return not isinstance(value, str) or bool(_URI.fullmatch(value))

    return checker


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _pointer(*tokens: str) -> str:
    return "".join("/" + _escape(t) for t in tokens)


def _numeric(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


class Contract:
    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document
        self.registry = Registry().with_resource(BASE_URI, DRAFT202012.create_resource(document))
        self.format_checker = _format_checker()

    # navigation
    def _at(self, pointer: str) -> Any:
        node: Any = self.document
        for raw in pointer.split("/")[1:]:
            token = raw.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
        return node

    def _follow(self, pointer: str) -> tuple[str, Any]:
        """The object at `pointer`, following `$ref`s to other places in the document (OpenAPI reference objects)."""
        node = self._at(pointer)
        seen = {pointer}
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and set(node) == {"$ref"}:
            ref: str = node["$ref"]
            if not ref.startswith("#/") or ref[1:] in seen or "/schemas/" in ref:
                break  # schema references are the JSON Schema validator's business
            pointer = ref[1:]
            seen.add(pointer)
            node = self._at(pointer)
        return pointer, node

    def operations(self, prefix: str = "/") -> set[tuple[str, str]]:
        """Every documented (METHOD, path) whose path starts with `prefix`."""
        return {
            (method.upper(), path)
            for path, item in self.document["paths"].items()
            if path.startswith(prefix)
            for method in item
            if method in _METHODS
        }

    def operation(self, path: str, method: str) -> tuple[str, Mapping[str, Any]]:
        path = path.removeprefix(API_PREFIX)
        item = self.document["paths"].get(path)
        if item is None:
            raise ContractError(f"{path} is not a path of the OpenAPI document")
        method = method.lower()
        if method not in item:
            raise ContractError(f"{method.upper()} {path} is not documented (documented: {sorted(item)})")
        pointer = _pointer("paths", path, method)
        return pointer, item[method]

    def statuses(self, path: str, method: str) -> set[int]:
        _, op = self.operation(path, method)
        return {int(status) for status in op["responses"] if status.isdigit()}

    def response(self, path: str, method: str, status: int) -> tuple[str, Mapping[str, Any]]:
        pointer, op = self.operation(path, method)
        responses = op["responses"]
        key = next((k for k in (str(status), f"{str(status)[0]}XX", "default") if k in responses), None)
        if key is None:
            raise ContractError(
                f"{method.upper()} {path} answered {status}, which the OpenAPI document does not list "
                f"(documented: {sorted(responses)})"
            )
        found_pointer, found = self._follow(pointer + _pointer("responses", key))
        return found_pointer, found

    # validation
    def errors(self, instance: Any, schema_pointer: str) -> list[Any]:
        validator = Draft202012Validator(
            {"$ref": f"{BASE_URI}#{quote(schema_pointer, safe='/~')}"},
            registry=self.registry,
            format_checker=self.format_checker,
        )
        return list(validator.iter_errors(instance))

    def validate(self, instance: Any, schema_pointer: str, *, what: str) -> None:
        errors = self.errors(instance, schema_pointer)
        if errors:
            best = best_match(errors)
            where = "/" + "/".join(str(p) for p in best.absolute_path)
            details = "; ".join(sorted({e.message[:300] for e in errors}))[:2000]
            raise ContractError(
                f"{what} does not validate against {schema_pointer}: at {where}: {best.message[:500]}\n"
                f"all errors: {details}\ninstance: {json.dumps(instance)[:2000]}"
            )

    def schema_pointer(self, pointer: str, node: Mapping[str, Any], media_type: str = "application/json") -> str | None:
        content = node.get("content")
        if not content:
            return None
        if media_type not in content:
            raise ContractError(f"{pointer} documents {sorted(content)}, not {media_type}")
        return pointer + _pointer("content", media_type, "schema")

    def check_request(self, body: Any, path: str, method: str) -> None:
        """The request body we are about to send is one the document allows (so the walk tests the real API)."""
        pointer, op = self.operation(path, method)
        if "requestBody" not in op:
            raise ContractError(f"{method.upper()} {path} takes no request body")
        body_pointer, request_body = self._follow(pointer + "/requestBody")
        schema = self.schema_pointer(body_pointer, request_body)
        assert schema is not None
        self.validate(body, schema, what=f"request body of {method.upper()} {path}")

    def check(self, response: ResponseLike, path: str, method: str) -> Any:
        """Assert `response` is what the document allows for `method path`; return the parsed JSON body (or None)."""
        status = response.status_code
        what = f"{method.upper()} {path} -> {status}"
        response_pointer, documented = self.response(path, method, status)

        for name in documented.get("headers") or {}:
            _, header = self._follow(response_pointer + _pointer("headers", name))
            value = response.headers.get(name)
            if value is None:
                if header.get("required"):
                    raise ContractError(f"{what}: the required header {name} is missing")
                continue
            self._check_header(what, name, value, header.get("schema") or {})

        if 200 <= status < 300:
            for name in RATE_LIMIT_HEADERS:
                if name not in response.headers:
                    raise ContractError(f"{what}: {name} is missing")
        if status in (201, 202):
            location = response.headers.get("location")
            if location is None:
                raise ContractError(f"{what}: Location is missing")
            check_location(location)
        if status == 429 and "retry-after" not in response.headers:
            raise ContractError(f"{what}: retry-after is missing")

        schema = self.schema_pointer(response_pointer, documented)
        if schema is None:
            if response.content:
                raise ContractError(f"{what}: the document describes no body, got {response.content[:200]!r}")
            return None
        content_type = response.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() != "application/json":
            raise ContractError(f"{what}: Content-Type is {content_type!r}, the document says application/json")
        try:
            body = json.loads(response.content)
        except ValueError as exc:
            raise ContractError(f"{what}: the body is not JSON: {response.content[:200]!r}") from exc
        self.validate(body, schema, what=f"the body of {what}")
        return body

    @staticmethod
    def _check_header(what: str, name: str, value: str, schema: Mapping[str, Any]) -> None:
        kind = schema.get("type")
        if kind in ("number", "integer"):
            number = _numeric(value)
            if number is None or (kind == "integer" and not number.is_integer()):
                raise ContractError(f"{what}: header {name}: {value!r} is not a {kind}")
        if "const" in schema and value != schema["const"]:
            raise ContractError(f"{what}: header {name}: {value!r} is not {schema['const']!r}")
        if schema.get("format") == "uri" and not _URI.fullmatch(value):
            raise ContractError(f"{what}: header {name}: {value!r} is not a URI")


def check_location(location: str) -> str:
    """An absolute URL of an authentication method resource with the id percent-encoded; returns the decoded id.

    Clients take `location.split('/').pop()` and URL-decode it (SPA, Swift, Android), and SPA POSTs to
    `${location}/verify`: so no relative URL, no raw `|`, and an encoding that decodes back to the id.
    """
    parts = urlsplit(location)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ContractError(f"Location {location!r} is not an absolute http(s) URL")
    if parts.query or parts.fragment:
        raise ContractError(f"Location {location!r} carries a query or fragment")
    collection = f"{API_PREFIX}/authentication-methods/"
    if not parts.path.startswith(collection) or "/" in parts.path[len(collection) :]:
        raise ContractError(f"Location {location!r} is not {collection}{{id}}")
    segment = parts.path[len(collection) :]
    method_id = unquote(segment)
    if quote(method_id, safe="") != segment:
        raise ContractError(f"Location {location!r}: the id segment {segment!r} is not the percent-encoded id")
    if not _METHOD_ID.fullmatch(method_id):
        raise ContractError(f"Location {location!r}: {method_id!r} is not an authentication method id ({{type}}|…)")
    return method_id


@cache
def load_contract(path: Path = OAS_PATH) -> Contract:
    if not path.is_file():
        pytest.fail(
            f"Auth0's My Account OpenAPI document is missing: expected {path} (the `shared/contracts` directory "
            "beside the repository). The contract tests validate every response against it; restore the file.",
            pytrace=False,
        )
    document = json.loads(path.read_text(encoding="utf-8"))
    if not str(document.get("openapi", "")).startswith("3.1"):
        pytest.fail(f"{path} is not an OpenAPI 3.1 document (openapi: {document.get('openapi')!r})", pytrace=False)
    return Contract(document)


def check(response: ResponseLike, path_template: str, method: str) -> Any:
    """`load_contract().check(...)`: validate one response against the OpenAPI document, return its JSON body."""
    return load_contract().check(response, path_template, method)


def check_request(body: Any, path_template: str, method: str) -> None:
    load_contract().check_request(body, path_template, method)
