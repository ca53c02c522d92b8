"""Our OpenAPI 3.1 document: every public endpoint of the server, served at `GET /openapi.json`.

- `/me/v1`: Auth0's My Account document (`me_v1.json`, a copy of the operations we implement and their schemas,
  shipped with the package), with our deviations written in: 404 for a method or account id the caller does not
  own on every operation that takes one (Auth0 lists it on GET only; an id of another user is a 404 here, never
  a 403 that would confirm it exists), 413 for bodies over 64 KiB, and links from the enrollment (202) to its
  verify, read, rename and delete, so a stateful client can follow enroll → verify.
- the token server, hosted login, passkey, MFA, push and operational endpoints (`auth_server.py`);
- the Management API `/api/v2` (`management.py`).

The fuzz suite (tests/adversarial/test_fuzz.py) drives schemathesis from this document and counts every answer
whose status or body it does not allow.
"""

import copy
import json
from functools import cache
from importlib import resources
from typing import Any

from myaccount.openapi import auth_server, management

__all__ = ["ME_PREFIX", "document", "document_json"]

ME_PREFIX = "/me/v1"
_ID_OPERATIONS = {
    ("/authentication-methods/{authentication_method_id}", "patch"),
    ("/authentication-methods/{authentication_method_id}", "delete"),
    ("/authentication-methods/{authentication_method_id}/verify", "post"),
    ("/connected-accounts/accounts/{id}", "delete"),
}
_ENROLL_LINKS = {
    "VerifyAuthenticationMethod": {
        "operationId": "confirmAuthenticationMethod",
        "parameters": {"authentication_method_id": "$response.body#/id"},
        "requestBody": {"auth_session": "$response.body#/auth_session"},
        "description": "Confirm the enrollment with its auth_session (the proof is the client's part)",
    },
    "GetAuthenticationMethod": {
        "operationId": "getAuthenticationMethod",
        "parameters": {"authentication_method_id": "$response.body#/id"},
    },
    "DeleteAuthenticationMethod": {
        "operationId": "deleteAuthenticationMethod",
        "parameters": {"authentication_method_id": "$response.body#/id"},
    },
}
_VERIFIED_LINKS = {
    "UpdateAuthenticationMethod": {
        "operationId": "updateAuthenticationMethod",
        "parameters": {"authentication_method_id": "$response.body#/id"},
    },
    "DeleteVerifiedAuthenticationMethod": {
        "operationId": "deleteAuthenticationMethod",
        "parameters": {"authentication_method_id": "$response.body#/id"},
    },
}


def _me_v1() -> dict[str, Any]:
    raw = resources.files(__package__).joinpath("me_v1.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(raw)
    return loaded


def _merge(*parts: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in parts:
        for kind, entries in part.items():
            target = merged.setdefault(kind, {})
            clash = set(target) & set(entries)
            if clash:
                raise ValueError(f"OpenAPI components defined twice: {sorted(clash)}")
            target.update(entries)
    return merged


@cache
def document_json(origin: str) -> str:
    """The document as compact JSON, built once per origin."""
    me = _me_v1()
    components = me["components"]
    components["responses"]["PayloadTooLarge"] = {
        "description": "The request body is larger than 64 KiB.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }
    me_paths: dict[str, Any] = {}
    for path, item in me["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            if (path, method) in _ID_OPERATIONS:
                responses.setdefault("404", {"$ref": "#/components/responses/NotFound"})
            if "requestBody" in operation:
                responses.setdefault("413", {"$ref": "#/components/responses/PayloadTooLarge"})
        me_paths[ME_PREFIX + path] = item
    enroll = me_paths[ME_PREFIX + "/authentication-methods"]["post"]["responses"]["202"]
    enroll["links"] = copy.deepcopy(_ENROLL_LINKS)
    verify = me_paths[ME_PREFIX + "/authentication-methods/{authentication_method_id}/verify"]["post"]
    verify["responses"]["201"]["links"] = copy.deepcopy(_VERIFIED_LINKS)

    paths = {**me_paths, **auth_server.paths, **management.paths}
    _refused_nul(paths)
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "MyAccount",
            "version": "1",
            "description": "A self-hosted identity server: Auth0's My Account API (/me/v1), an OAuth 2.0 / OIDC token "
            "server with hosted login, the native passkey and MFA APIs, push devices and the Management API "
            "(/api/v2).",
        },
        "servers": [{"url": origin}],
        "paths": paths,
        "components": _merge(components, auth_server.components, management.components),
    }
    return json.dumps(document, separators=(",", ":"))


def _refused_nul(paths: dict[str, Any]) -> None:
    """Every operation that takes URL parameters may answer 400 JSON: `web.http.RefuseNul` refuses a NUL in the
    path or query before any route runs (PostgreSQL text cannot hold one)."""
    for path, item in paths.items():
        if path.startswith(("/me/", "/push/")):
            schema = {"$ref": "#/components/schemas/ErrorResponse"}
        elif path.startswith("/api/"):
            schema = {"$ref": "#/components/schemas/ManagementError"}
        else:
            schema = {"$ref": "#/components/schemas/OAuthError"}
        for operation in item.values():
            if not isinstance(operation, dict) or not operation.get("parameters"):
                continue
            responses = operation["responses"]
            refused = responses.setdefault("400", {"description": "A NUL character in the URL"})
            if "$ref" in refused:
                continue  # Auth0's BadRequest: application/json already
            content = refused.setdefault("content", {})
            content.setdefault("application/json", {"schema": schema})


def document(origin: str) -> dict[str, Any]:
    """The document for a server whose public origin is `origin` (a fresh copy; callers may change it)."""
    built: dict[str, Any] = json.loads(document_json(origin))
    return built
