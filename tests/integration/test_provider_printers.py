"""The provider's ``ipp://`` back-end against real printers: CUPS' ``ippeveprinter``.

Every printer here is a real ``ippeveprinter`` process (see ``support.ippeveprinter``) that
keeps each document it receives, so the tests compare what arrived byte for byte. A few
printers are dressed up for one scenario: one reports the impressions it printed (as real
printers do; the stock one runs ``/bin/true`` and reports none), one takes seconds per job,
one sits behind a TCP proxy that can stall a transfer half-way, and one is stopped and
started again on the same port.

Two facts about ippeveprinter these tests rely on (checked by hand, CUPS 2.4):

* it treats a Print-Job whose HTTP body was cut off (chunked or with Content-Length) as a
  complete job and prints what it got;
* it sniffs ``application/octet-stream`` documents and refuses content it cannot recognise
  (0x040b), so the "pages unknown" path uses a damaged PDF: ippeveprinter accepts it by its
  magic bytes, our analysis cannot count its pages.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from printwarden.domain.accounts import Role
from printwarden.provider.ipp import JobState
from printwarden.provider.ipp.client import IppClient
from support.appserver import AppServer
from support.ippeveprinter import IppEvePrinter
from support.provider import PrinterSpec, ProviderProcess, QueueSpec, spool_documents
from support.seeding import PRICES, wait_for

WAIT_SECONDS = 30.0  # generous: the machine may be busy; every wait below is bounded
RETRY_INITIAL = 0.25
RETRY_MAX = 2.0


class CountingPrinter(IppEvePrinter):
    """An ippeveprinter whose print command reports 3 impressions, as a real printer would."""

    def _print_command(self, workdir: Path) -> str:
        script = workdir / "count.sh"
        script.write_text("#!/bin/sh\necho 'ATTR: job-impressions-completed=3' >&2\n")
        script.chmod(0o755)
        return str(script)


class StallProxy:
    """A TCP proxy in front of a printer that can stall one upload half-way.

    With ``limit`` set, the next connection forwards that many request bytes, then stops
    reading from the client (whose send blocks once the socket buffers are full) until
    :meth:`cut` closes both sides, leaving the printer with a request cut off mid-body.
    """

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.port: int = self.server.getsockname()[1]
        self.limit: int | None = None
        self.stalled = threading.Event()
        self._cut = threading.Event()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        """Close the stalled connection on both sides; later connections pass through."""
        self.limit = None
        self._cut.set()

    def close(self) -> None:
        self._cut.set()
        self.server.close()
        _hang_up(*self._sockets)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            self._sockets += [client, upstream]
            limit, self.limit = self.limit, None
            threading.Thread(target=self._pump, args=(upstream, client, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(client, upstream, limit), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, limit: int | None) -> None:
        forwarded = 0
        try:
            while data := source.recv(65536):
                target.sendall(data)
                forwarded += len(data)
                if limit is not None and forwarded >= limit:
                    self.stalled.set()
                    self._cut.wait(timeout=WAIT_SECONDS * 2)
                    break
            else:
                target.shutdown(socket.SHUT_WR)
                return
        except OSError:
            pass
        _hang_up(source, target)


def _hang_up(*sockets: socket.socket) -> None:
    """End connections for real: close() alone leaves one open while a thread is in recv()."""
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()


@dataclass
class TunedProvider(ProviderProcess):
    """A provider with a longer retry back-off than the support default, so it can be seen."""

    def write_config(self) -> Path:
        path = super().write_config()
        text = path.read_text()
        for old, new in (
            ("retry_initial_seconds = 0.2\n", f"retry_initial_seconds = {RETRY_INITIAL}\n"),
            ("retry_max_seconds = 1.0\n", f"retry_max_seconds = {RETRY_MAX}\n"),
        ):
            assert old in text, text
            text = text.replace(old, new)
        path.write_text(text)
        return path


@dataclass
class Rig:
    app: AppServer
    admin: httpx.Client
    provider: TunedProvider
    printers: dict[str, IppEvePrinter]
    proxy: StallProxy
    documents: dict[str, bytes] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.provider.directory / "data"

    def client(self, queue: str, user: str = "alice") -> IppClient:
        return IppClient(self.provider.uri(queue), user_name=user, timeout=WAIT_SECONDS)

    def submit(self, queue: str, data: bytes, mime: str, user: str = "alice") -> int:
        with self.client(queue, user) as client:
            return client.print_job(
                data, document_format=mime, job_name=f"{queue}-job", requesting_user_name=user
            )

    def job(self, queue: str, job_id: int) -> dict[str, Any]:
        with self.client(queue) as client:
            group = client.get_job_attributes(job_id)
        return {name: group.value(name) for name in group}

    def state(self, queue: str, job_id: int) -> int:
        return int(str(self.job(queue, job_id)["job-state"]))

    def wait_state(self, queue: str, job_id: int, state: int) -> None:
        wait_for(lambda: self.state(queue, job_id) == state, f"job {job_id} in state {state}")

    def received(self, printer: str) -> list[bytes]:
        """Every document the printer received, in job order."""
        found = self.printers[printer].documents()
        return [found[job_id].read_bytes() for job_id in sorted(found)]

    def balance(self, username: str) -> int:
        value: int = self.admin.get(f"/users/{username}").json()["balance"]
        return value

    def spool_row(self, job_id: int) -> dict[str, Any]:
        """The provider's own record of a job, read from its spool database."""
        database = sqlite3.connect(f"file:{self.data / 'state.db'}?mode=ro", uri=True)
        try:
            database.row_factory = sqlite3.Row
            row = database.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        finally:
            database.close()
        assert row is not None
        return dict(row)


PRINTERS: dict[str, tuple[Callable[[], IppEvePrinter], str]] = {
    "colour-laser": (lambda: IppEvePrinter("pw-colour-laser", color=True), "colour"),
    "mono-laser": (lambda: IppEvePrinter("pw-mono-laser", color=False), "mono"),
    "counter": (lambda: CountingPrinter("pw-counter", color=False), "counter"),
    "flaky": (lambda: IppEvePrinter("pw-flaky", color=False), "flaky"),
    "slow": (lambda: IppEvePrinter("pw-slow", color=False, processing_seconds=3), "slow"),
    "target": (lambda: IppEvePrinter("pw-target", color=False), ""),
}


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    root = tmp_path_factory.mktemp("printers")
    app = AppServer(f"sqlite:///{root / 'app.db'}", root)
    printers: dict[str, IppEvePrinter] = {}
    proxy: StallProxy | None = None
    provider: TunedProvider | None = None
    admin: httpx.Client | None = None
    try:
        app.start()
        admin = httpx.Client(
            base_url=app.api,
            headers={"Authorization": f"Bearer {app.token(Role.ADMIN, 'boss')}"},
            timeout=WAIT_SECONDS,
        )
        for name, (make, _) in PRINTERS.items():
            printers[name] = make()
            printers[name].start()
        proxy = StallProxy(printers["target"].port)
        specs = [
            PrinterSpec(name, printers[name].uri, colour=name == "colour-laser")
            for name, (_, queue) in PRINTERS.items()
            if queue
        ]
        specs.append(PrinterSpec("proxied", f"ipp://127.0.0.1:{proxy.port}/ipp/print", False))
        for spec in specs:
            body = {
                "name": spec.name,
                "colour": spec.colour,
                "cost_model": {"sizes": {"default": PRICES}},
            }
            assert admin.post("/printers", json=body).status_code == 201
        for user in ("alice", "bob"):
            created = admin.post("/users", json={"username": user, "restricted": False})
            assert created.status_code == 201, created.text
        queues = [
            QueueSpec(queue, "direct", name) for name, (_, queue) in PRINTERS.items() if queue
        ]
        queues += [
            QueueSpec("held", "hold", "mono-laser"),
            QueueSpec("proxied", "direct", "proxied"),
        ]
        provider = TunedProvider(
            server_url=app.url,
            token=app.token(Role.PROVIDER),
            directory=root,
            printers=specs,
            queues=queues,
        )
        provider.start()
        yield Rig(app, admin, provider, printers, proxy)
    finally:
        if provider is not None:
            provider.stop()
        if proxy is not None:
            proxy.close()
        for printer in printers.values():
            printer.stop()
        if admin is not None:
            admin.close()
        app.stop()


@pytest.fixture
def running(rig: Rig) -> Rig:
    """The rig with its provider running (a failed crash test may have left it killed)."""
    process = rig.provider.process
    if process is None or process.poll() is not None:
        rig.provider.start()
    return rig


def make_pdf(path: Path, pages: int) -> bytes:
    program = " ".join(
        f"/Helvetica findfont 24 scalefont setfont 72 720 moveto (printwarden page {n}) show "
        "showpage"
        for n in range(1, pages + 1)
    )
    command = [
        "gs",
        "-q",
        "-dNOPAUSE",
        "-dBATCH",
        "-dSAFER",
        "-sDEVICE=pdfwrite",
        "-sPAPERSIZE=a4",
        f"-sOutputFile={path}",
        "-c",
        program,
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    return path.read_bytes()


# --- documents arrive as sent -----------------------------------------------------------------


def test_pdf_and_text_reach_the_printers_byte_for_byte_and_are_charged(
    running: Rig, tmp_path: Path
) -> None:
    pdf = make_pdf(tmp_path / "two-pages.pdf", 2)
    assert pdf.startswith(b"%PDF")
    text = b"".join(b"plain text line %03d\n" % i for i in range(30))  # one page
    before = running.balance("alice")
    pdf_job = running.submit("colour", pdf, "application/pdf")
    text_job = running.submit("mono", text, "text/plain")
    running.wait_state("colour", pdf_job, JobState.COMPLETED)
    running.wait_state("mono", text_job, JobState.COMPLETED)
    assert running.received("colour-laser").count(pdf) == 1
    assert running.received("mono-laser").count(text) == 1
    assert running.job("colour", pdf_job)["job-impressions-completed"] == 2
    # Two grey PDF pages and one text page, 10 each.
    wait_for(lambda: running.balance("alice") == before - 30, "the charges")
    row = running.spool_row(pdf_job)
    assert row["send_state"] == "sent"
    assert isinstance(row["printer_job_id"], int)
    assert running.printers["colour-laser"].documents()[row["printer_job_id"]].read_bytes() == pdf


# --- pages unknown: charged by what the printer reports -------------------------------------

DAMAGED_PDF = b"%PDF-1.7\n" + bytes(range(256)) * 20  # no xref, no pages: uncountable


def test_pages_unknown_are_charged_as_the_printer_reports_them(running: Rig) -> None:
    before = running.balance("bob")
    job_id = running.submit("counter", DAMAGED_PDF, "application/octet-stream", user="bob")
    running.wait_state("counter", job_id, JobState.COMPLETED)
    assert running.received("counter").count(DAMAGED_PDF) == 1
    assert running.job("counter", job_id)["job-impressions-completed"] == 3
    wait_for(lambda: running.balance("bob") == before - 30, "3 grey pages charged")
    time.sleep(0.5)
    assert running.balance("bob") == before - 30


def test_pages_unknown_on_a_printer_reporting_none_are_charged_as_zero_pages(
    running: Rig,
) -> None:
    """What happens today: the stock ippeveprinter (print command ``/bin/true``) completes
    the job with job-impressions-completed = 0, and the provider charges 0 pages for it.
    A printer that under-reports prints an uncountable document for free."""
    before = running.balance("bob")
    job_id = running.submit("mono", DAMAGED_PDF, "application/octet-stream", user="bob")
    running.wait_state("mono", job_id, JobState.COMPLETED)
    assert DAMAGED_PDF in running.received("mono-laser")
    assert running.job("mono", job_id)["job-impressions-completed"] == 0
    wait_for(lambda: running.spool_row(job_id)["charge_state"] == "done", "the charge report")
    assert running.spool_row(job_id)["cost"] == 0
    assert running.balance("bob") == before


# --- CUPS clients ---------------------------------------------------------------------------


def _cups(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args), capture_output=True, text=True, timeout=WAIT_SECONDS, check=False
    )


def test_lpstat_lists_and_cancel_removes_a_held_job(running: Rig) -> None:
    document = b"held for lpstat " + uuid.uuid4().hex.encode() + b"\n"
    docs_before = spool_documents(running.data)
    job_id = running.submit("held", document, "text/plain", user="bob")
    host = running.provider.host
    listed = _cups("lpstat", "-h", host, "-U", "bob", "-o", "held")
    assert listed.returncode == 0, listed.stderr
    line = next(ln for ln in listed.stdout.splitlines() if ln.startswith(f"held-{job_id} "))
    assert line.split()[1] == "bob"
    other = _cups("lpstat", "-h", host, "-U", "bob", "-o", "mono")
    assert f"held-{job_id} " not in other.stdout
    assert len(spool_documents(running.data) - docs_before) == 1

    refused = _cups("cancel", "-h", host, "-U", "mallory", f"held-{job_id}")
    assert refused.returncode != 0
    assert running.state("held", job_id) == JobState.PENDING_HELD

    canceled = _cups("cancel", "-h", host, "-U", "bob", f"held-{job_id}")
    assert canceled.returncode == 0, canceled.stderr
    assert running.state("held", job_id) == JobState.CANCELED
    assert spool_documents(running.data) == docs_before
    listed = _cups("lpstat", "-h", host, "-U", "bob", "-o", "held")
    assert listed.returncode == 0, listed.stderr
    assert f"held-{job_id} " not in listed.stdout
    time.sleep(0.5)
    assert document not in running.received("mono-laser")


# --- an unreachable printer -----------------------------------------------------------------


def test_unreachable_printer_is_retried_with_backoff_and_prints_once_when_back(
    running: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky = running.printers["flaky"]
    port = flaky.port
    flaky.stop()
    document = b"waiting for the printer " + uuid.uuid4().hex.encode() + b"\n"
    job_id = running.submit("flaky", document, "text/plain")

    delays: dict[int, float] = {}

    def three_attempts() -> bool:
        # While pending, the row holds the last attempt's start and the next attempt's time.
        row = running.spool_row(job_id)
        if row["state"] == JobState.PENDING and row["attempts"]:
            delays.setdefault(row["attempts"], row["next_attempt"] - row["processing"])
        return all(n in delays for n in (1, 2, 3))

    wait_for(three_attempts, "three attempts at the stopped printer")
    job = running.job("flaky", job_id)
    assert job["job-state"] == JobState.PENDING
    message = str(job["job-state-message"])
    assert "printer unreachable" in message, message
    assert "retrying in" in message, message
    # Each wait doubles: 0.25, 0.5, 1 s (measured from the start of the failed attempt, so
    # a little longer: the attempt itself takes a moment).
    expected = [min(RETRY_MAX, RETRY_INITIAL * 2**n) for n in range(3)]
    observed = [delays[n] for n in (1, 2, 3)]
    for want, got in zip(expected, observed, strict=True):
        assert want <= got <= want + 0.5, (expected, observed)

    # The printer comes back on the same port (ippeveprinter picks its port with free_port).
    monkeypatch.setattr(sys.modules[IppEvePrinter.__module__], "free_port", lambda: port)
    back = IppEvePrinter("pw-flaky-again", color=False)
    running.printers["flaky"] = back
    back.start()
    assert back.port == port
    running.wait_state("flaky", job_id, JobState.COMPLETED)
    time.sleep(1.0)
    assert running.received("flaky") == [document]


# --- kill -9 while a job is with an IPP printer ---------------------------------------------


def test_kill_9_after_the_printer_took_the_job_does_not_print_it_again(running: Rig) -> None:
    """The provider follows a job until the printer finishes it. A crash while it follows
    must not send the job again: the printer already has all of it."""
    document = b"accepted by a slow printer " + uuid.uuid4().hex.encode() + b"\n"
    job_id = running.submit("slow", document, "text/plain")
    wait_for(lambda: document in running.received("slow"), "the document at the slow printer")
    wait_for(
        lambda: running.spool_row(job_id)["send_state"] == "sent",
        "the provider recording that the printer took the whole job",
        seconds=10,
    )
    assert running.state("slow", job_id) == JobState.PROCESSING, "still following the job"
    running.provider.kill9()
    running.provider.start()
    running.wait_state("slow", job_id, JobState.COMPLETED)
    time.sleep(2.0)
    assert running.received("slow").count(document) == 1, "printed twice"


def test_kill_9_mid_transfer_to_an_ipp_printer_resends_it_once(running: Rig) -> None:
    """The crash rule for ipp://: a job interrupted mid-send is sent again.

    The whole document reaches the printer exactly once. ippeveprinter also keeps the part
    it got before the cut as a job of its own (see the module docstring): every other
    document it holds must be a strict prefix of ours, never a second whole copy.
    """
    document = b"".join(
        b"line %07d of a long document %s\n" % (i, b"x" * 20) for i in range(160000)
    )
    before = running.received("target")
    running.proxy.stalled.clear()
    running.proxy.limit = 1024 * 1024
    job_id = running.submit("proxied", document, "text/plain")
    wait_for(running.proxy.stalled.is_set, "the transfer stalled half-way")
    assert running.state("proxied", job_id) == JobState.PROCESSING
    assert running.spool_row(job_id)["send_state"] == "sending"
    running.provider.kill9()
    running.proxy.cut()
    running.provider.start()
    running.wait_state("proxied", job_id, JobState.COMPLETED)
    time.sleep(1.0)
    new = running.received("target")[len(before) :]
    assert new.count(document) == 1, "the whole document must arrive exactly once"
    partial = [d for d in new if d != document]
    assert all(len(d) < len(document) and document.startswith(d) for d in partial)
