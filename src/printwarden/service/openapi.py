"""The OpenAPI document, with each operation's error answers: RFC 9457 problem documents
(``application/problem+json``), derived from what the route is, so a new route gets them too:

- a route behind a token (``current_caller`` among its dependencies, which FastAPI lists as
  the operation's bearer ``security``): 401 and 403;
- any parameter or a body: 404 (a record it names does not exist) and 422 (a validation
  problem, with ``errors[]``);
- a body: 400 (unreadable), 413 (over its size limit, ``service/body_limits.py``) and 415
  where the body is not JSON;
- a write (POST, PUT, PATCH, DELETE): 409 (a conflict with existing records);
- a login: 401 (wrong credentials) and 429 (too many attempts).

FastAPI's own 422 (``HTTPValidationError``, ``application/json``) is replaced: errors here are
problem documents.
"""

from __future__ import annotations

import copy
from typing import Any

from fastapi import FastAPI

from printwarden.api.problems import PROBLEM_JSON, ProblemOut, ValidationProblemOut

WRITES = frozenset({"post", "put", "patch", "delete"})
LOGINS = frozenset({"/api/v1/auth/login", "/api/v1/auth/device", "/api/v1/device/sessions"})
DESCRIPTIONS = {
    400: "The body could not be read",
    401: "No valid token",
    403: "The token's role or scope does not allow this",
    404: "A record named in the request does not exist (or is not the caller's)",
    409: "The change conflicts with existing records",
    413: "The body is larger than this route accepts",
    415: "The body is not of the media type this route takes",
    422: "A parameter or the body is invalid",
    429: "Too many attempts: try again later",
    503: "Unavailable now (a site offline, or a service this needs): try again later",
}
FASTAPI_VALIDATION = ("HTTPValidationError", "ValidationError")


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` document every operation's error answers."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            # A copy: FastAPI's document shares dicts with the routes' ``openapi_extra``.
            schema = copy.deepcopy(generate())
            document_errors(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_errors(schema: dict[str, Any]) -> None:
    """Add the error answers of every operation to ``schema`` (FastAPI's document)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in FASTAPI_VALIDATION:
        components.pop(name, None)
    ref = "#/components/schemas/{model}"
    for model in (ProblemOut, ValidationProblemOut):
        found = model.model_json_schema(ref_template=ref, mode="serialization")
        components.update(found.pop("$defs", {}))
        components[model.__name__] = found
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            _hoist_definitions(operation.get("requestBody", {}), components)
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status in sorted(_statuses(path, method, operation)):
                model = ValidationProblemOut if status == 422 else ProblemOut
                responses.setdefault(str(status), _problem(status, model.__name__))
            for status, response in responses.items():
                if status[0] in "45" and "content" not in response:  # a route's own, described
                    response["content"] = _problem(int(status), ProblemOut.__name__)["content"]


def _hoist_definitions(body: dict[str, Any], components: dict[str, Any]) -> None:
    """A body schema given by hand (``openapi_extra``, from a pydantic ``TypeAdapter``)
    keeps its definitions in ``$defs``, which "#/$defs/…" cannot reach from the document's
    root: move them to the components and point there."""
    for media in body.get("content", {}).values():
        schema = media.get("schema", {})
        definitions = schema.pop("$defs", {})
        if definitions:
            components.update(_repointed(definitions))
            media["schema"] = _repointed(schema)


def _repointed(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: (
                item.replace("#/$defs/", "#/components/schemas/")
                if key == "$ref" and isinstance(item, str)
                else _repointed(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_repointed(item) for item in value]
    return value


def _statuses(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    parameters = operation.get("parameters", [])
    body = operation.get("requestBody")
    found: set[int] = set()
    if operation.get("security"):  # FastAPI lists the bearer scheme of ``current_caller``
        found |= {401, 403}
    if parameters or body:
        found |= {404, 422}
    if body:
        found |= {400, 413}
        if any(not media.endswith("json") for media in body.get("content", {})):
            found.add(415)
    if method in WRITES:
        found.add(409)
    if path in LOGINS and method == "post":
        found |= {401, 429}
    return found


def _problem(status: int, model: str) -> dict[str, Any]:
    return {"description": DESCRIPTIONS[status], "content": _problem_content(model)}


def _problem_content(model: str) -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{model}"}}}
