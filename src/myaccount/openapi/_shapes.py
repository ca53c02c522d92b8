"""Small builders for OpenAPI 3.1 objects, so the path tables read as data."""

from typing import Any

__all__ = [
    "HTML",
    "JSON",
    "form_or_json",
    "html",
    "json_body",
    "json_response",
    "no_content",
    "obj",
    "op",
    "param",
    "redirect",
    "ref",
    "string",
]

JSON = "application/json"
HTML = "text/html"
FORM = "application/x-www-form-urlencoded"

Schema = dict[str, Any]


def ref(name: str, kind: str = "schemas") -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def string(**extra: Any) -> Schema:
    return {"type": "string", **extra}


def obj(properties: dict[str, Any] | None = None, *, required: tuple[str, ...] = (), closed: bool = False) -> Schema:
    schema: Schema = {"type": "object", "properties": properties or {}}
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    return schema


def json_response(description: str, schema: Schema, *, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {HTML: {"schema": string()}}}


def redirect(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"Location": {"required": True, "schema": string()}},
    }


def no_content(description: str) -> dict[str, Any]:
    return {"description": description}


def json_body(schema: Schema, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": schema}}}


def form_or_json(schema: Schema) -> dict[str, Any]:
    """OAuth endpoints take RFC 6749 form bodies and, as Auth0's do, JSON."""
    return {"required": True, "content": {FORM: {"schema": schema}, JSON: {"schema": schema}}}


def param(name: str, where: str = "query", schema: Schema | None = None, *, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema or string()}


def op(
    summary: str,
    responses: dict[int | str, dict[str, Any]],
    *,
    tags: tuple[str, ...],
    operation_id: str,
    parameters: list[dict[str, Any]] | None = None,
    body: dict[str, Any] | None = None,
    security: list[dict[str, list[str]]] | None = None,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "tags": list(tags),
        "responses": {str(status): response for status, response in responses.items()},
    }
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = body
    if security is not None:
        operation["security"] = security
    return operation
