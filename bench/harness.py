"""Shared helpers for the benchmarks: throwaway databases, time budgets, machine facts.

The benchmarks are scripts (``python bench/decision.py``), not tests: they import this module
from their own directory.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TypeVar

import psycopg

import printwarden

BACKENDS = ("sqlite", "postgresql")
PG_SERVER_ENV = "PRINTWARDEN_BENCH_PG"
DEFAULT_PG_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
ROOT = Path(__file__).resolve().parent.parent

T = TypeVar("T")


class BudgetExceeded(RuntimeError):
    """A benchmark loop ran out of its time budget."""


@dataclass
class Budget:
    """A wall-clock budget: every loop of a benchmark checks it, so nothing runs unbounded."""

    seconds: float
    what: str
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = time.monotonic()

    def remaining(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    def check(self) -> None:
        if self.remaining() <= 0:
            raise BudgetExceeded(f"{self.what}: time budget of {self.seconds:.0f} s exceeded")


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def paired_times(
    first: Callable[[], object], second: Callable[[], object], runs: int, *, warm_up: bool = True
) -> tuple[list[float], list[float]]:
    """Wall times of two actions run alternately, so that drift hits both alike (after one
    warm-up call each unless ``warm_up`` is false)."""
    if warm_up:
        first()
        second()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for action, into in ((first, times[0]), (second, times[1])):
            started = time.perf_counter()
            action()
            into.append(time.perf_counter() - started)
    return times


def paired_medians(
    first: Callable[[], object], second: Callable[[], object], runs: int, *, warm_up: bool = True
) -> tuple[float, float]:
    """Median wall times of :func:`paired_times`."""
    times = paired_times(first, second, runs, warm_up=warm_up)
    return statistics.median(times[0]), statistics.median(times[1])


def pg_server_url() -> str:
    return os.environ.get(PG_SERVER_ENV, DEFAULT_PG_SERVER)


@contextmanager
def throwaway_postgres(server_url: str) -> Iterator[str]:
    """A new empty database on ``server_url``, dropped afterwards; yields its URL."""
    name = f"printwarden_bench_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        raise SystemExit(
            f"PostgreSQL is not reachable at {server_url} (set ${PG_SERVER_ENV}): {exc}"
        ) from None
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(server_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def database_url(backend: str, directory: Path) -> Iterator[str]:
    """A fresh, empty database of ``backend``: a SQLite file in ``directory`` or a PG database."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'printwarden.db'}"
    elif backend == "postgresql":
        with throwaway_postgres(pg_server_url()) as url:
            yield url
    else:
        raise ValueError(f"unknown backend {backend!r}")


def _command_output(command: list[str]) -> str:
    if shutil.which(command[0]) is None:
        return "not installed"
    done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    return (done.stdout or done.stderr).strip().splitlines()[0]


def pg_version() -> str:
    try:
        with psycopg.connect(pg_server_url(), connect_timeout=5) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            settings = conn.execute(
                "SELECT current_setting('fsync'), current_setting('synchronous_commit')"
            ).fetchone()
    except psycopg.OperationalError:
        return "not reachable"
    version = row[0] if row else "?"
    fsync, sync_commit = settings if settings else ("?", "?")
    return f"{version} (fsync={fsync}, synchronous_commit={sync_commit})"


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    return {
        "nproc": _command_output(["nproc"]),
        "cpu": _cpu_model(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": pg_version(),
        "wrk": _command_output(["wrk", "--version"]),
        "code": code_version(),
        "executable": sys.executable,
    }


def code_version() -> str:
    """The commit measured, and whether src/ differed from it (read-only git)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "src"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    where = Path(printwarden.__file__).resolve().parent
    local = "" if where.is_relative_to(ROOT) else f"; printwarden imported from {where}"
    return f"{head}{' + uncommitted changes in src/' if changed else ''}{local}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    """The 1-minute load average: other work on the machine skews every number here."""
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def print_machine() -> None:
    for key, value in machine().items():
        print(f"  {key:<11} {value}")


def load_site_bench() -> ModuleType:
    """``bench/site.py``, whose helpers other benchmarks reuse (its name is the standard
    library's ``site``, so it is loaded by path, once, as ``bench_site``)."""
    if "bench_site" in sys.modules:
        return sys.modules["bench_site"]
    spec = importlib.util.spec_from_file_location("bench_site", Path(__file__).with_name("site.py"))
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_site"] = module
    spec.loader.exec_module(module)
    return module
