"""Imports each module first, in a forked child, and prints the failures as JSON.
test_imports.py runs it in a fresh interpreter and gives it, on stdin,
``{"package": ..., "stages": [[module, ...], ...], "modules": [module, ...]}``.

A child imports its module with none of the modules that (through others) import it loaded,
so every cycle through that module runs as in a fresh interpreter. To stay at a few
seconds on two cores, the children share what the parent already loaded:

- The parent loads the third-party libraries once (it imports every module, then forgets
  the package's), so a child pays only for the package's own code.
- Then, stage by stage, the parent learns (from a probe child) what importing the stage's
  modules would load, imports each of those first in a child of its own, and only then
  imports the stage itself and keeps it. What the parent keeps is always everything that
  importing some modules loaded, so it imports nothing outside itself: a child's import
  never runs through it back into the child's module. Stages are only for speed (the test
  orders modules by their static imports); what each child starts with is whatever the
  parent had really loaded.

A module that importing one of its packages already loaded is not imported again: importing
it first runs exactly its package's import (``import a.b.c`` imports ``a.b`` first).
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any, NoReturn

WORKERS = 2


def loaded(package: str) -> frozenset[str]:
    return frozenset(m for m in sys.modules if m == package or m.startswith(package + "."))


def forget(package: str, keep: frozenset[str] = frozenset()) -> None:
    for name in loaded(package) - keep:
        del sys.modules[name]


def child(name: str, report: Path) -> NoReturn:
    """Import ``name`` and write what happened to ``report``."""
    try:
        importlib.import_module(name)
    except BaseException:
        report.write_text(json.dumps({"error": traceback.format_exc()}))
        os._exit(1)
    inside = sorted(m for m in sys.modules if m.startswith(name + "."))
    report.write_text(json.dumps({"loaded": inside}))
    os._exit(0)


def import_all(names: list[str]) -> bool:
    try:
        for name in names:
            importlib.import_module(name)
    except Exception:
        return False
    return True


def prepare(package: str, modules: list[str]) -> None:
    """Load the third-party libraries, then forget the package's modules."""
    for name in modules:
        import_all([name])  # one that fails is reported by its own child
    forget(package)
    gc.collect()
    gc.freeze()  # children neither scan nor copy what the parent holds


class Children:
    """At most ``WORKERS`` forked children at a time, each importing one module first."""

    def __init__(self, package: str, scratch: str) -> None:
        self.package, self.scratch = package, scratch
        self.running: dict[int, tuple[str, Path]] = {}
        self.errors: dict[str, str] = {}
        self.loaded_by: dict[str, list[str]] = {}

    def start(self, name: str) -> None:
        while len(self.running) >= WORKERS:
            self.reap()
        report = Path(self.scratch, f"{name}.json")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            try:
                child(name, report)
            finally:
                os._exit(2)
        self.running[pid] = (name, report)

    def wait_for(self, names: list[str]) -> None:
        """Until none of ``names`` is still being imported."""
        while {name for name, _ in self.running.values()} & set(names):
            self.reap()

    def reap(self) -> None:
        pid, status = os.wait()
        name, report = self.running.pop(pid)
        gone = {"error": f"the child ended without a report (wait status {status})"}
        found: dict[str, Any] = json.loads(report.read_text()) if report.exists() else gone
        if "error" in found:
            self.errors[name] = found["error"]
        else:
            self.loaded_by[name] = found["loaded"]

    def probe(self, names: list[str]) -> frozenset[str] | None:
        """What importing ``names`` loads (None: it fails; the children say why)."""
        report = Path(self.scratch, "probe.json")
        pid = os.fork()
        if pid == 0:
            try:
                ok = import_all(names)
                report.write_text(json.dumps(sorted(loaded(self.package)) if ok else None))
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        found = json.loads(report.read_text())
        return None if found is None else frozenset(found)

    def first(self, names: list[str]) -> list[str]:
        """Import each of ``names`` first (a package before its modules); return those that
        importing one of their packages already loaded (they are not imported again)."""
        covered = []
        for name in sorted(names):
            parents = [name.rsplit(".", depth)[0] for depth in range(name.count("."), 0, -1)]
            self.wait_for(parents)
            if any(name in self.loaded_by.get(parent, ()) for parent in parents):
                covered.append(name)
            else:
                self.start(name)
        self.wait_for(names)
        return covered


def main() -> None:
    asked = json.load(sys.stdin)
    package, modules = asked["package"], sorted(asked["modules"])
    prepare(package, modules)
    covered: list[str] = []
    done: set[str] = set()
    with tempfile.TemporaryDirectory() as scratch:
        children = Children(package, scratch)
        for stage in asked["stages"]:
            new = children.probe(stage)
            if new is None:
                break
            roots = (new & set(modules)) - done
            covered += children.first(sorted(roots))
            done |= roots
            if not import_all(stage):
                break
            gc.freeze()
        covered += children.first(sorted(set(modules) - done))
    ran = sorted(children.loaded_by)
    print(json.dumps({"errors": children.errors, "ran": ran, "covered": covered}))


if __name__ == "__main__":
    main()
