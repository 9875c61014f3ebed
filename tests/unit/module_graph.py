"""printwarden's modules and the imports its code names, read with ``ast``: at module level,
inside functions and under ``TYPE_CHECKING`` alike (test_layers.py, test_imports.py)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import printwarden

PACKAGE = "printwarden"
SOURCE = Path(printwarden.__file__).parent


@dataclass(frozen=True, slots=True)
class Import:
    """``importer`` names ``imported`` (a module of printwarden) at ``line``."""

    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer} (line {self.line}) imports {self.imported}"


@cache
def modules() -> dict[str, Path]:
    """Every module of printwarden by dotted name (a package by its ``__init__.py``)."""
    found = {}
    for path in sorted(SOURCE.rglob("*.py")):
        parts = path.relative_to(SOURCE.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


@cache
def imports() -> tuple[Import, ...]:
    """Every import of one printwarden module by another, each once per line."""
    return tuple(found for name in modules() for found in _imports_of(name))


@cache
def graph() -> dict[str, frozenset[str]]:
    """Module → the modules it imports."""
    edges: dict[str, set[str]] = {name: set() for name in modules()}
    for found in imports():
        edges[found.importer].add(found.imported)
    return {name: frozenset(targets) for name, targets in edges.items()}


def cycles(edges: dict[str, frozenset[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = [stack.pop()]
            while component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _imports_of(name: str) -> Iterator[Import]:
    path = modules()[name]
    yield from imports_in(name, path.read_text(encoding="utf-8"), path.name == "__init__.py")


def imports_in(name: str, source: str, is_package: bool = False) -> Iterator[Import]:
    """The printwarden modules that ``source`` (module ``name``) imports, wherever it does."""
    package = name if is_package else name.rpartition(".")[0]
    seen: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        for target in _targets(node, package):
            module = _module_of(target)
            if module != name and (module, node.lineno) not in seen:
                seen.add((module, node.lineno))
                yield Import(name, module, node.lineno)


def _targets(node: ast.Import | ast.ImportFrom, package: str) -> Iterator[str]:
    """The dotted names an import statement may load (``from a import b``: ``a.b`` or ``a``)."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names if _ours(alias.name))
    else:
        base = node.module or ""
        if node.level:
            parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*parent, base] if base else parent)
        if _ours(base):
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _ours(dotted: str) -> bool:
    return dotted == PACKAGE or dotted.startswith(PACKAGE + ".")


def _module_of(dotted: str) -> str:
    """The longest module name that ``dotted`` starts with."""
    known = modules()
    while dotted not in known:
        dotted = dotted.rpartition(".")[0]
    return dotted
