"""Running ``printwarden demo`` for a test module: start it, wait for demo.json, stop it."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from printwarden.demo.sites import PORT_OFFSETS
from printwarden.testing.ports import free_port_base

READY_SECONDS = 60


@contextmanager
def running_demo(data_dir: Path, required: str) -> Iterator[dict[str, Any]]:
    """The demo's manifest (plus ``_dir``) once written and holding the key ``required``."""
    command = [sys.executable, "-m", "printwarden", "demo", "--data-dir", str(data_dir),
               "--port-base", str(free_port_base(PORT_OFFSETS))]  # fmt: skip
    log = data_dir / "demo.log"
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    manifest = data_dir / "demo.json"
    try:
        deadline = time.monotonic() + READY_SECONDS
        while not manifest.exists():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "demo.json did not appear"
            time.sleep(0.1)
        content = json.loads(manifest.read_text())
        assert required in content, f"the demo is incomplete:\n{log.read_text()}"
        yield {**content, "_dir": data_dir}
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
