"""The OpenAPI document lists each operation's error answers as problem documents, derived
from the route (token, parameters, body, method), and every reference in it resolves."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from printwarden.testing.inprocess import InProcessAppServer

PROBLEM = "application/problem+json"
SECRET_CHECKS = [
    ("/api/v1/auth/login", "post"),
    ("/api/v1/auth/device", "post"),
    ("/api/v1/device/sessions", "post"),
    ("/api/v1/device/sessions/{session_id}/account", "put"),
    ("/api/v1/jobs/decision", "post"),
    ("/api/v1/held-jobs/{job_ref}/release", "post"),
    ("/api/v1/me/held-jobs/release-all", "post"),
]


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def _problem_ref(operation: dict[str, Any], status: int) -> str:
    response = operation["responses"][str(status)]
    ref: str = response["content"][PROBLEM]["schema"]["$ref"]
    return ref


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref" and isinstance(item, str):
                yield item
            else:
                yield from _refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _refs(item)


def test_every_operation_documents_its_error_answers(app_server: InProcessAppServer) -> None:
    with app_server.client(under="") as http:
        document = http.get("/openapi.json").json()
    problems = "#/components/schemas/ProblemOut"
    checked = 0
    for path, method, operation in _operations(document):
        where = f"{method.upper()} {path}"
        if operation.get("security"):
            for status in (401, 403):
                assert _problem_ref(operation, status) == problems, where
        if operation.get("parameters") or operation.get("requestBody"):
            assert _problem_ref(operation, 422) == "#/components/schemas/ValidationProblemOut"
            assert _problem_ref(operation, 404) == problems, where
        if operation.get("requestBody"):
            assert _problem_ref(operation, 413) == problems, where
        if method in ("post", "put", "patch", "delete"):
            assert _problem_ref(operation, 409) == problems, where
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                assert list(response["content"]) == [PROBLEM], where
        checked += 1
    assert checked >= 60
    login = document["paths"]["/api/v1/auth/login"]["post"]["responses"]
    assert {"401", "429"} <= set(login)
    for path, method in SECRET_CHECKS:  # a password or PIN is checked: throttled
        assert "429" in document["paths"][path][method]["responses"], (method, path)
    assert "415" in document["paths"]["/api/v1/users/import"]["post"]["responses"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for ref in set(_refs(document)):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in document["components"]["schemas"], ref
