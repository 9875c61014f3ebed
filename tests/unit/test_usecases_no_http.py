"""Use cases have no HTTP in them: no web framework, no HTTP client, no problem documents."""

from __future__ import annotations

import ast

from module_graph import modules

HTTP = ("fastapi", "starlette", "httpx", "printwarden.service.problems", "printwarden.api")


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
    source = "import httpx\nfrom fastapi import Request\nfrom printwarden.api.jobs import X\n"
    assert {n for n in _imported(source) if _http(n)} == {
        "httpx",
        "fastapi",
        "printwarden.api.jobs",
    }
