"""Desktop notifications through ``notify-send`` on Linux, when it is installed. Anything
else (no such program, no notification daemon) only turns them off: the window's list of
notices shows everything anyway."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading

TIMEOUT = 10.0


class Notifier:
    """Sends notifications while they work; :attr:`available` turns false for good at the
    first failure."""

    def __init__(self, program: str | None = None, platform: str = sys.platform) -> None:
        found = program or (shutil.which("notify-send") if platform.startswith("linux") else None)
        self._program = found
        self.available = found is not None

    def notify(self, title: str, text: str) -> bool:
        """Show ``text`` (in the background); whether a notification was sent."""
        if not self.available or self._program is None:
            return False
        command = [self._program, "--app-name=printwarden", title, text]
        threading.Thread(target=self._run, args=(command,), daemon=True).start()
        return True

    def _run(self, command: list[str]) -> None:
        try:
            done = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
        except (OSError, subprocess.SubprocessError):
            self.available = False
            return
        if done.returncode != 0:
            self.available = False
