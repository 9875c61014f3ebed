"""``printwarden client --tui`` in a subprocess, driven through pipes as a person would type."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path


class TerminalClient:
    """The User Client's text mode for ``username`` at ``server`` (its password from the
    environment, never the command line), its token kept under ``config``."""

    def __init__(self, server: str, username: str, password: str, config: Path) -> None:
        env = {**os.environ, "PRINTWARDEN_CLIENT_PASSWORD": password,
               "PRINTWARDEN_CLIENT_CONFIG_DIR": str(config), "PYTHONUNBUFFERED": "1"}  # fmt: skip
        env.pop("DISPLAY", None)
        command = [sys.executable, "-m", "printwarden", "client", "--tui",
                   "--server", server, "--user", username]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=env, bufsize=1,
        )  # fmt: skip
        self.output = ""
        self._seen = 0
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        while chunk := self.process.stdout.read(1):
            with self._lock:
                self.output += chunk

    def expect(self, text: str, seconds: float = 30.0) -> str:
        """Wait until ``text`` appears after what was expected before; the output up to it."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                found = self.output.find(text, self._seen)
                if found >= 0:
                    said, self._seen = self.output[self._seen : found], found + len(text)
                    return said
            time.sleep(0.02)
        raise AssertionError(f"the client never said {text!r}; it said:\n{self.output}")

    def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
