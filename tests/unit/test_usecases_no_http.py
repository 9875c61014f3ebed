"""Use cases have no HTTP in them: no web framework, no HTTP client, no problem documents.

(The API contract's data models are allowed: the held-job release use cases still answer
with ``HeldJobOut`` views, which the web pages show too.)"""

from __future__ import annotations

import ast

from module_graph import modules

HTTP = (
    "fastapi",
    "starlette",
    "httpx",
    "printwarden.service.problems",
    "printwarden.api.problems",
    "printwarden.api.client",
)


def _imported(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _http(name: str) -> bool:
    return any(name == h or name.startswith(h + ".") for h in HTTP)


def test_use_cases_import_nothing_of_http() -> None:
    found = {
        module: sorted(n for n in _imported(path.read_text()) if _http(n))
        for module, path in modules().items()
        if module == "printwarden.usecases" or module.startswith("printwarden.usecases.")
    }
    assert len(found) > 2, "the use-case package is missing"
    wrong = {module: names for module, names in found.items() if names}
    assert not wrong, f"use cases importing HTTP: {wrong}"


def test_the_reading_sees_module_and_from_imports() -> None:
    source = "import httpx\nfrom fastapi import Request\nfrom printwarden.api.problems import X\n"
    assert {n for n in _imported(source) if _http(n)} == {
        "httpx",
        "fastapi",
        "printwarden.api.problems",
    }


def test_every_refusal_has_one_problem() -> None:
    """Each kind of error a use case raises on purpose maps to a status and a title, and a
    use case's own title and facts replace the kind's."""
    from printwarden.service.problems import ERRORS, problem_of
    from printwarden.usecases.errors import (
        REFUSALS,
        Conflict,
        NotFound,
        Unavailable,
        UseCaseError,
    )

    kinds = [*UseCaseError.__subclasses__(), *(k for k in REFUSALS if k is not UseCaseError)]
    assert len(kinds) >= 10
    assert [kind for kind in kinds if kind not in ERRORS] == []
    found = problem_of(Unavailable("held at site a", title="Site offline", site="a"))
    assert (found.status, found.title, found.detail, found.extra) == (
        503,
        "Site offline",
        "held at site a",
        {"site": "a"},
    )
    assert (problem_of(Conflict("busy")).status, problem_of(Conflict("busy")).title) == (
        409,
        "Conflict",
    )
    assert (problem_of(NotFound("no x")).status, problem_of(NotFound("no x")).detail) == (
        404,
        "no x",
    )
