"""Child processes of the demo, the tests and the benchmarks: stop them politely, then firmly."""

from __future__ import annotations

import subprocess

STOP_SECONDS = 10.0


def stop_process(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate ``process``; kill it if it has not ended within ``STOP_SECONDS``."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
