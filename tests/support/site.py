"""A Site Server subprocess, reached by its site's components; its App Server behind a Link."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from support import processes
from support.databases import free_port

STARTUP_SECONDS = 30.0


@dataclass
class SiteProcess:
    upstream: str  # the App Server as the site reaches it (through a Link in tests)
    token: str
    site: str
    data_dir: Path
    secret_file: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api(self) -> str:
        return f"{self.url}/api/v1"

    @property
    def log(self) -> Path:
        return self.data_dir / "site.log"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "printwarden", "site", "serve",
                   "--upstream", self.upstream, "--token", self.token, "--site", self.site,
                   "--data-dir", str(self.data_dir), "--port", str(self.port),
                   "--secret-file", str(self.secret_file)]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log)
        processes.wait_ready(self.process, self._answers, "Site Server", self.log, STARTUP_SECONDS)

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/site/status", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def status(self) -> dict[str, Any]:
        found: dict[str, Any] = httpx.get(f"{self.url}/site/status", timeout=5).json()
        return found

    def log_tail(self) -> str:
        return processes.log_tail(self.log)

    def stop(self) -> None:
        processes.stop(self.process)

    def kill9(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
