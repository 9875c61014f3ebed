"""The demo's print side of one site: real ``ippeveprinter`` printers behind a Print Provider
whose server is the site's Site Server."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from printwarden.cli_tokens import SITE_OR_PROVIDER_ENV
from printwarden.files import private_file, write_private
from printwarden.sim.ippeveprinter import IppEvePrinter, dns_sd_bus
from printwarden.sim.processes import stop_process

# The demo's printers that ask before printing (their client rules, set at HQ), and how
# demo.json marks the queues onto them.
ASKING_PRINTERS: dict[str, dict[str, Any]] = {
    "confirm-laser": {"confirm": "always"},
    "project-laser": {"account_selection": True, "comment": True},
}


def _asks(printer: str) -> dict[str, bool]:
    rules = ASKING_PRINTERS.get(printer, {})
    flags = {"confirm": rules.get("confirm", "never") != "never",
             "account_selection": bool(rules.get("account_selection"))}  # fmt: skip
    return {name: True for name, on in flags.items() if on}


PROVIDER_PORT_OFFSET = 631  # the first site's provider; the next site's is one port up
PROVIDER_TLS_PORT_OFFSET = 641  # the same providers' ipps:// listeners
READY_SECONDS = 60.0


def provider_name(site: str) -> str:
    """The name of a demo site's provider (its token is bound to it)."""
    return f"demo-provider-{site}" if site else "demo-provider"


class DemoStopping(RuntimeError):
    """The demo is stopping: nothing more may start."""


@dataclass
class DemoPrintSide:
    """A site's printers and its provider process; :meth:`start` them, :meth:`stop` them.

    ``printers`` maps a printer's name to whether it prints colour; ``queues`` a queue's
    name to its kind and printer. ``stopping`` (set by another thread) ends a start early.
    """

    data_dir: Path  # the site's directory: provider.toml, provider.log, provider/ (spool)
    server_url: str  # the provider's server: the site's Site Server
    provider_token: str
    port: int
    site: str = ""
    printers_wanted: dict[str, bool] = field(default_factory=dict)
    queues: dict[str, tuple[str, str]] = field(default_factory=dict)
    tls_port: int = 0  # ipps:// on this port with ``tls_files`` (0: no TLS)
    tls_files: tuple[Path, Path] | None = None  # the demo's certificate and key
    stopping: threading.Event = field(default_factory=threading.Event)
    printers: dict[str, IppEvePrinter] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.data_dir / "provider.log"

    def start(self) -> None:
        for name, colour in self.printers_wanted.items():
            self._check()
            printer = IppEvePrinter(f"printwarden-demo-{name}", color=colour)
            self.printers[name] = printer
            printer.start()
        self._check()
        config = self._write_config()
        command = [sys.executable, "-m", "printwarden", "provider", "serve",
                   "--server", self.server_url, "--config", str(config)]  # fmt: skip
        env = {**os.environ, SITE_OR_PROVIDER_ENV: self.provider_token}  # not in ps
        with private_file(self.log).open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log, env=env)
        wait_listening(self.port, self.process, "the provider", self.log, self.stopping)
        if self.tls_port:
            wait_listening(self.tls_port, self.process, "ipps://", self.log, self.stopping)

    def _check(self) -> None:
        if self.stopping.is_set():
            raise DemoStopping("the demo is stopping")

    def _write_config(self) -> Path:
        lines = [
            f'name = "{provider_name(self.site)}"',
            f"port = {self.port}",
            f'data_dir = "{self.data_dir / "provider"}"',
        ]
        if self.tls_port and self.tls_files:
            certificate, key = self.tls_files
            lines += ["[tls]", f"port = {self.tls_port}", f'certificate = "{certificate}"',
                      f'key = "{key}"']  # fmt: skip
        # The queues are announced where the demo's printers are: the avahi-daemon they use.
        lines += ["[mdns]", f"dbus_address = {json.dumps(dns_sd_bus())}"]
        for name, printer in self.printers.items():
            colour = "true" if self.printers_wanted[name] else "false"
            lines += [
                "[[printers]]",
                f'name = "{name}"',
                f'uri = "{printer.uri}"',
                f"colour = {colour}",
            ]
        for name, (kind, printer_name) in self.queues.items():
            lines += [
                "[[queues]]",
                f'name = "{name}"',
                f'kind = "{kind}"',
                f'printer = "{printer_name}"',
                f"dns_sd_name = {json.dumps(self.dns_sd_name(name, kind))}",
            ]
        return write_private(self.data_dir / "provider.toml", "\n".join(lines) + "\n")

    def dns_sd_name(self, queue: str, kind: str) -> str:
        """The name clients list a demo queue under: the site's Find-Me queue is its
        "Secure Print", as a site's one queue for everyone would be named."""
        shown = "Secure Print" if kind == "findme" else queue
        return f"{shown} @ {self.site}" if self.site else shown

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None
        for printer in self.printers.values():
            printer.stop()
        self.printers.clear()

    def manifest(self) -> dict[str, Any]:
        """The ``queues``, ``printers`` and ``provider`` keys of ``demo.json`` for this site."""
        base = f"ipp://127.0.0.1:{self.port}/ipp/print"
        secure = f"ipps://127.0.0.1:{self.tls_port}/ipp/print" if self.tls_port else ""
        return {
            "queues": {
                name: {
                    "ipp_uri": f"{base}/{name}",
                    "kind": kind,
                    "printer": printer,
                    "site": self.site,
                    "identity": "trust-client-username",  # lp -U works as before
                    "dns_sd_name": self.dns_sd_name(name, kind),
                    **({"ipps_uri": f"{secure}/{name}"} if secure else {}),
                    **_asks(printer),
                }
                for name, (kind, printer) in self.queues.items()
            },
            "printers": {
                name: {
                    "ipp_uri": printer.uri,
                    "color": self.printers_wanted[name],
                    "received_dir": str(printer.spool_dir),
                    "site": self.site,
                }
                for name, printer in self.printers.items()
            },
            "mdns": {"dbus_address": dns_sd_bus(), "avahi": True},
            "provider": {
                "port": self.port,
                "name": provider_name(self.site),
                **({"tls_port": self.tls_port} if self.tls_port else {}),
            },
        }


def wait_listening(
    port: int,
    process: subprocess.Popen[bytes],
    what: str,
    log: Path,
    stopping: threading.Event,
    ready: Callable[[], bool] | None = None,
) -> None:
    """Wait until ``process`` accepts connections on ``port`` (and ``ready()``, if given)."""
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if stopping.is_set():
            raise DemoStopping("the demo is stopping")
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited; see {log}")
        with contextlib.suppress(OSError):
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                pass
            if ready is None or ready():
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start in time; see {log}")
