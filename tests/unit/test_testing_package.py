"""``printwarden.testing`` is the one harness of the tests and the benchmarks: the product
never imports it, importing it costs nothing, and the benchmarks do not reach into tests/."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import printwarden

SRC = Path(printwarden.__file__).resolve().parent
ROOT = SRC.parent.parent
BENCH = ROOT / "bench"


def _imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_the_product_never_imports_the_testing_package() -> None:
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "testing" not in path.relative_to(SRC).parts[:1]
        and any(m.startswith("printwarden.testing") for m in _imported(path))
    ]
    assert offenders == []


def test_importing_the_package_imports_nothing_else() -> None:
    code = (
        "import sys, printwarden; before = set(sys.modules); import printwarden.testing; "
        "print(sorted(set(sys.modules) - before))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['printwarden.testing']"


def test_benchmarks_import_the_shared_harness_not_tests() -> None:
    for path in sorted(BENCH.glob("*.py")):
        text = path.read_text()
        assert "sys.path" not in text, path.name
        assert not {"support", "corpus"} & {m.split(".")[0] for m in _imported(path)}, path.name


def test_one_free_port_in_the_repository() -> None:
    definitions = [
        str(path.relative_to(ROOT))
        for folder in ("src", "tests", "bench", "fuzz")
        for path in (ROOT / folder).rglob("*.py")
        if re.search(r"^\s*def free_port\(", path.read_text(), re.MULTILINE)
    ]
    assert definitions == ["src/printwarden/sim/ports.py"]
