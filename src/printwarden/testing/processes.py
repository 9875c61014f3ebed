"""Helpers for the real processes the tests start: wait until ready, stop, read the log."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from printwarden.sim.processes import ChildProcess, stop_process


def wait_ready(
    process: ChildProcess,
    ready: Callable[[], bool],
    what: str,
    log: Path,
    seconds: float = 30.0,
) -> None:
    """Poll ``ready()`` until true; raise with the log if ``process`` dies or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: {log_tail(log)}")
        if ready():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not get ready in {seconds:.0f} s: {log_tail(log)}")


def log_tail(path: Path, size: int = 3000) -> str:
    return path.read_text(errors="replace")[-size:] if path.exists() else ""


stop = stop_process
