"""A real Print Provider process (``printwarden provider serve``) for integration tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from support import processes
from support.databases import free_port

STARTUP_SECONDS = 30.0


@dataclass
class QueueSpec:
    name: str
    kind: str = "direct"
    printer: str = ""
    failure_mode: str = "print-and-journal"


@dataclass
class PrinterSpec:
    name: str
    uri: str
    colour: bool = True


@dataclass
class ProviderProcess:
    """A provider subprocess on a free loopback port with the given printers and queues."""

    server_url: str
    token: str
    directory: Path
    printers: list[PrinterSpec]
    queues: list[QueueSpec]
    port: int = field(default_factory=free_port)
    control_token: str = "control-secret"
    name: str = field(default_factory=lambda: f"test-provider-{uuid.uuid4().hex[:8]}")
    process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def uri(self, queue: str) -> str:
        return f"ipp://{self.host}/ipp/print/{queue}"

    def write_config(self) -> Path:
        lines = [
            f'name = "{self.name}"',
            f"port = {self.port}",
            f'data_dir = "{self.directory / "data"}"',
            f'control_token = "{self.control_token}"',
            "retry_initial_seconds = 0.2",
            "retry_max_seconds = 1.0",
            "server_timeout_seconds = 2.0",
        ]
        for printer in self.printers:
            lines += [
                "[[printers]]",
                f'name = "{printer.name}"',
                f'uri = "{printer.uri}"',
                f"colour = {'true' if printer.colour else 'false'}",
            ]
        for queue in self.queues:
            lines += [
                "[[queues]]",
                f'name = "{queue.name}"',
                f'kind = "{queue.kind}"',
                f'printer = "{queue.printer}"',
                f'failure_mode = "{queue.failure_mode}"',
            ]
        path = self.directory / "provider.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> None:
        config = self.write_config()
        command = [
            sys.executable,
            "-m",
            "printwarden",
            "provider",
            "serve",
            "--server",
            self.server_url,
            "--token",
            self.token,
            "--config",
            str(config),
        ]
        log = (self.directory / "provider.log").open("ab")
        self.process = subprocess.Popen(command, stdout=log, stderr=log, env=dict(os.environ))
        log.close()
        logfile = self.directory / "provider.log"
        processes.wait_ready(self.process, self._listening, "provider", logfile, STARTUP_SECONDS)

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def log_tail(self) -> str:
        return processes.log_tail(self.directory / "provider.log")

    def stop(self) -> None:
        processes.stop(self.process)

    def kill9(self) -> None:
        """Crash the provider: SIGKILL, no clean-up."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
