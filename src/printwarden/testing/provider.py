"""A real Print Provider process (``printwarden provider serve``) for integration tests."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import sqlite3
import ssl
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from printwarden.sim.ports import free_port
from printwarden.sim.processes import ChildProcess
from printwarden.testing import forkserver, processes

STARTUP_SECONDS = 30.0


class BasicOverTls(httpx.HTTPTransport):
    """An httpx transport trusting only the provider's certificate (``ca``), sending HTTP
    Basic with every request, as CUPS's back-end does."""

    def __init__(self, ca: Path, user: str, password: str) -> None:
        super().__init__(verify=ssl.create_default_context(cafile=str(ca)))
        pair = f"{user}:{password}".encode()
        self.header = "Basic " + base64.b64encode(pair).decode()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.headers["Authorization"] = self.header
        return super().handle_request(request)


@dataclass
class QueueSpec:
    name: str
    kind: str = "direct"
    printer: str = ""
    failure_mode: str = "print-and-journal"
    hold_hours: float = 4.0
    fit_to_paper: bool = False
    identity: str = ""  # trust-client-username, authenticate, token-url ("": the default)
    ipp_release: bool = False  # IPP Release-Job allowed on a hold or Find-Me queue
    dns_sd_name: str = ""  # the name DNS-SD announces ("": the queue's name)


@dataclass
class PrinterSpec:
    """A printer of the provider's configuration; ``colour=None`` and ``formats=None``
    leave those to what the printer says of itself (an ``ipp://`` printer)."""

    name: str
    uri: str
    colour: bool | None = True
    formats: list[str] | None = None


@dataclass
class ProviderProcess:
    """A provider subprocess on a free loopback port with the given printers and queues."""

    server_url: str
    token: str
    directory: Path
    printers: list[PrinterSpec]
    queues: list[QueueSpec]
    port: int = field(default_factory=free_port)
    control_token: str = ""  # a setting older providers had; ignored now
    server_timeout: float = 2.0
    name: str = field(default_factory=lambda: f"test-provider-{uuid.uuid4().hex[:8]}")
    max_document_bytes: int | None = None
    extra: list[str] = field(default_factory=list)  # more top-level configuration lines
    tls: bool = False  # serve ipps:// on tls_port with a self-signed certificate
    tls_port: int = field(default_factory=free_port)
    bind: str = "127.0.0.1"  # the address it listens on (and is reached at)
    mdns_bus: str = ""  # the D-Bus of the avahi-daemon to announce through ("": no mDNS)
    process: ChildProcess | None = None

    @property
    def host(self) -> str:
        return f"{self.bind}:{self.port}"

    def uri(self, queue: str) -> str:
        return f"ipp://{self.host}/ipp/print/{queue}"

    def ipps_uri(self, queue: str) -> str:
        return f"ipps://{self.bind}:{self.tls_port}/ipp/print/{queue}"

    @property
    def tls_ca(self) -> Path:
        """The self-signed certificate to trust (made at the provider's first start)."""
        return self.directory / "data" / "tls" / "certificate.pem"

    def write_config(self) -> Path:
        lines = [
            f'name = "{self.name}"',
            f"port = {self.port}",
            f'host = "{self.bind}"',
            f'data_dir = "{self.directory / "data"}"',
            "retry_initial_seconds = 0.2",
            "retry_max_seconds = 1.0",
            f"server_timeout_seconds = {self.server_timeout}",
            "expiry_check_seconds = 0.5",
        ]
        if self.max_document_bytes is not None:
            lines.append(f"max_document_bytes = {self.max_document_bytes}")
        if self.control_token:
            lines.append(f'control_token = "{self.control_token}"')
        lines += self.extra
        if self.tls:
            lines += ["[tls]", f"port = {self.tls_port}"]
        if self.mdns_bus:
            lines += ["[mdns]", f"dbus_address = {json.dumps(self.mdns_bus)}", "retry_seconds = 1"]
        else:  # the tests' providers stay off the machine's avahi unless a test asks
            lines += ["[mdns]", "enabled = false"]
        for printer in self.printers:
            lines += ["[[printers]]", f'name = "{printer.name}"', f'uri = "{printer.uri}"']
            if printer.colour is not None:
                lines.append(f"colour = {'true' if printer.colour else 'false'}")
            if printer.formats is not None:
                lines.append(f"formats = {json.dumps(printer.formats)}")
        for queue in self.queues:
            lines += [
                "[[queues]]",
                f'name = "{queue.name}"',
                f'kind = "{queue.kind}"',
                f'printer = "{queue.printer}"',
                f'failure_mode = "{queue.failure_mode}"',
                f"hold_hours = {queue.hold_hours}",
            ]
            if queue.fit_to_paper:
                lines.append("fit_to_paper = true")
            if queue.identity:
                lines.append(f'identity = "{queue.identity}"')
            if queue.ipp_release:
                lines.append("ipp_release = true")
            if queue.dns_sd_name:
                lines.append(f"dns_sd_name = {json.dumps(queue.dns_sd_name)}")
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
            "--config",
            str(config),
        ]
        env = {**os.environ, "PRINTWARDEN_TOKEN": self.token}  # never on a command line
        log = (self.directory / "provider.log").open("ab")
        self.process = forkserver.popen(command, env=env, stdout=log, stderr=log)
        log.close()
        logfile = self.directory / "provider.log"
        processes.wait_ready(self.process, self._listening, "provider", logfile, STARTUP_SECONDS)

    def registered(self) -> bool:
        """Whether the provider has registered with its server: it listens first and
        registers after, and until then its doorbell answers 503."""
        try:
            return httpx.post(f"http://{self.host}/control/wake", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def _listening(self) -> bool:
        ports = [self.port, self.tls_port] if self.tls else [self.port]
        try:
            for port in ports:
                with socket.create_connection((self.bind, port), timeout=0.5):
                    pass
        except OSError:
            return False
        return True

    def log_tail(self) -> str:
        return processes.log_tail(self.directory / "provider.log")

    def stop(self) -> None:
        processes.stop(self.process)

    def kill9(self) -> None:
        """Crash the provider: SIGKILL, no clean-up."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def spool_documents(data_dir: Path) -> set[str]:
    """Names of the documents a provider's spool holds: files in ``docs/`` and, for small
    documents, those kept in their jobs' rows or, a job's further ones, in the ``documents``
    table (read without disturbing the provider)."""
    names = (
        {p.name for p in (data_dir / "docs").iterdir()} if (data_dir / "docs").exists() else set()
    )
    database = data_dir / "state.db"
    if database.exists():
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            kept = (
                "SELECT document FROM jobs WHERE document_data IS NOT NULL"
                " UNION SELECT name FROM documents"
            )
            names |= {row[0] for row in db.execute(kept)}
    return names


def spool_document(data_dir: Path, name: str) -> bytes:
    """The bytes of one spooled document, wherever the spool keeps it."""
    path = data_dir / "docs" / name
    if path.exists():
        return path.read_bytes()
    with contextlib.closing(
        sqlite3.connect(f"file:{data_dir / 'state.db'}?mode=ro", uri=True)
    ) as db:
        query = (
            "SELECT document_data FROM jobs WHERE document = ? AND document_data NOT NULL"
            " UNION ALL SELECT data FROM documents WHERE name = ?"
        )
        row = db.execute(query, (name, name)).fetchone()
    data = row[0] if row is not None else None
    assert data is not None, f"no document {name} in the spool"
    return bytes(data)


def colour_and_mono(out: Path) -> list[PrinterSpec]:
    """Printers "colour" and "mono" (not colour), writing files under ``out``."""
    return [
        PrinterSpec("colour", f"file://{out / 'colour'}"),
        PrinterSpec("mono", f"file://{out / 'mono'}", colour=False),
    ]


def file_printer_documents(folder: Path) -> list[bytes]:
    """What a ``file://`` printer has written (not the ``.part`` files it is still writing)."""
    found = []
    for path in sorted(folder.glob("*")) if folder.exists() else []:
        if path.suffix == ".part":
            continue
        with contextlib.suppress(FileNotFoundError):
            found.append(path.read_bytes())
    return found
