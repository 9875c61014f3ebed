"""The demo's print side: two real ``ippeveprinter`` printers behind a Print Provider."""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from printwarden.sim.ippeveprinter import IppEvePrinter
from printwarden.sim.processes import stop_process

PRINTERS = {"colour-laser": True, "mono-laser": False}
QUEUES = {  # name → (kind, printer)
    "direct-colour": ("direct", "colour-laser"),
    "direct-mono": ("direct", "mono-laser"),
    "secure": ("hold", "mono-laser"),
    "findme": ("findme", ""),
}
PROVIDER_PORT_OFFSET = 631
READY_SECONDS = 60.0


@dataclass
class DemoPrintSide:
    """Printers and a provider process; :meth:`start` them, :meth:`stop` them."""

    data_dir: Path
    app_url: str
    provider_token: str
    port: int
    control_token: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    printers: dict[str, IppEvePrinter] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        for name, colour in PRINTERS.items():
            printer = IppEvePrinter(f"printwarden-demo-{name}", color=colour)
            printer.start()
            self.printers[name] = printer
        config = self._write_config()
        log = (self.data_dir / "provider.log").open("ab")
        command = [
            sys.executable,
            "-m",
            "printwarden",
            "provider",
            "serve",
            "--server",
            self.app_url,
            "--token",
            self.provider_token,
            "--config",
            str(config),
        ]
        self.process = subprocess.Popen(command, stdout=log, stderr=log)
        log.close()
        self._wait_listening()

    def _write_config(self) -> Path:
        lines = [
            'name = "demo-provider"',
            f"port = {self.port}",
            f'data_dir = "{self.data_dir / "provider"}"',
            f'control_token = "{self.control_token}"',
        ]
        for name, printer in self.printers.items():
            colour = "true" if PRINTERS[name] else "false"
            lines += [
                "[[printers]]",
                f'name = "{name}"',
                f'uri = "{printer.uri}"',
                f"colour = {colour}",
            ]
        for name, (kind, printer_name) in QUEUES.items():
            lines += [
                "[[queues]]",
                f'name = "{name}"',
                f'kind = "{kind}"',
                f'printer = "{printer_name}"',
            ]
        path = self.data_dir / "provider.toml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the demo provider exited; see {self.data_dir}/provider.log")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return
            time.sleep(0.1)
        raise RuntimeError("the demo provider did not start in time")

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None
        for printer in self.printers.values():
            printer.stop()
        self.printers.clear()

    def manifest(self) -> dict[str, Any]:
        """The ``queues`` and ``printers`` keys of ``demo.json``."""
        base = f"ipp://127.0.0.1:{self.port}/ipp/print"
        return {
            "queues": {
                name: {"ipp_uri": f"{base}/{name}", "kind": kind, "printer": printer}
                for name, (kind, printer) in QUEUES.items()
            },
            "printers": {
                name: {
                    "ipp_uri": printer.uri,
                    "color": PRINTERS[name],
                    "received_dir": str(printer.spool_dir),
                }
                for name, printer in self.printers.items()
            },
            "provider": {"port": self.port, "control_token": self.control_token},
        }
