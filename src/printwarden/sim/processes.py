"""Child processes of the demo, the tests and the benchmarks: stop them politely, then firmly."""

from __future__ import annotations

import subprocess
from typing import Protocol

STOP_SECONDS = 10.0


class ChildProcess(Protocol):
    """What of :class:`subprocess.Popen` the demo, tests and benchmarks use of a child."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def send_signal(self, sig: int) -> None: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...


def stop_process(process: ChildProcess | None) -> None:
    """Terminate ``process``; kill it if it has not ended within ``STOP_SECONDS``."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
