"""Every module of printwarden imports when it is the first one imported, in a fresh
interpreter: an import cycle can hide until one of its modules is imported before the others
(as python-zeroconf's test_circular_imports finds). How it stays fast: import_each_first.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from module_graph import graph, modules

WORKER = Path(__file__).with_name("import_each_first.py")
NOT_IMPORTED = {
    "printwarden.__main__": "runs the command line when imported",
    "printwarden.store.migrations.env": "Alembic's environment script: it migrates when loaded",
}


def stages(edges: Mapping[str, frozenset[str]]) -> list[list[str]]:
    """Modules by height in the static graph (a module after what it imports, and no
    earlier than its package, which is imported first), so that each stage's children find
    what they import already loaded. Only the speed depends on this order."""
    height: dict[str, int] = {}

    def measure(name: str, seen: frozenset[str]) -> int:
        if name not in height:
            below = [measure(t, seen | {name}) for t in edges.get(name, ()) if t not in seen]
            height[name] = 1 + max(below, default=-1)
        return height[name]

    def staged(name: str) -> int:
        package = name.rpartition(".")[0]
        own = measure(name, frozenset())
        return max(own, staged(package)) if package in edges else own

    order: dict[int, list[str]] = {}
    for name in sorted(edges):
        order.setdefault(staged(name), []).append(name)
    return [order[h] for h in sorted(order)]


def import_each_first(
    package: str, names: list[str], order: list[list[str]], path: Path | None = None
) -> dict[str, Any]:
    asked = json.dumps({"package": package, "stages": order, "modules": names})
    env = None if path is None else {**os.environ, "PYTHONPATH": str(path)}
    done = subprocess.run(
        [sys.executable, str(WORKER)],
        input=asked,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
        env=env,
    )
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    names = sorted(set(modules()) - set(NOT_IMPORTED))
    edges = {name: targets - set(NOT_IMPORTED) for name, targets in graph().items()}
    order = [[n for n in stage if n in names] for stage in stages(edges)]
    found = import_each_first("printwarden", names, order)
    errors: dict[str, str] = found["errors"]
    assert not errors, "\n\n".join(f"{name} imported first:\n{tb}" for name, tb in errors.items())
    assert sorted(found["ran"] + found["covered"]) == names


def test_a_cycle_that_shows_only_when_imported_first_is_found(tmp_path: Path) -> None:
    """The harness itself: ``a`` imports ``b``, which takes a name from ``a``: importing
    ``b`` first works, importing ``a`` first does not, even when a stage loads ``b``."""
    package = tmp_path / "cyclic"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from cyclic import b\n\nA = 1\n")
    (package / "b.py").write_text("from cyclic.a import A\n\nB = A\n")
    (package / "c.py").write_text("C = 3\n")
    names = ["cyclic", "cyclic.a", "cyclic.b", "cyclic.c"]
    found = import_each_first("cyclic", names, [["cyclic.c"], ["cyclic.b"]], tmp_path)
    assert sorted(found["errors"]) == ["cyclic.a"]
    assert "partially initialized module 'cyclic.a'" in found["errors"]["cyclic.a"]
    assert sorted(found["ran"]) == ["cyclic", "cyclic.b", "cyclic.c"]
