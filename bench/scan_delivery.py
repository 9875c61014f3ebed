"""Integrated Scanning: upload -> delivered, for "Scan to my email" into a local Maildir.

    .venv/bin/python bench/scan_delivery.py                 # 20 scans of 20 pages, no OCR
    .venv/bin/python bench/scan_delivery.py --ocr --scans 3 # + the OCR variant vs ocrmypdf
    .venv/bin/python bench/scan_delivery.py --scans 5 --pages 50 --sweep 2 --workers 1

The App Server's app runs in this process (``printwarden.testing.inprocess``, as
``tests/integration/test_scanning.py`` does) on SQLite, with a smarthost that is an aiosmtpd
sink writing a Maildir (``printwarden.testing.mail.SinkThread``). A device with its token and
a person with a card and an email address are seeded; the pages (A4, ``--dpi``, greyscale
JPEGs of text from ``printwarden.scanning.sample_pages``) are generated once, untimed.

One scan at a time: card login and ``POST .../scans`` (untimed), then the clock starts at the
first page's ``PUT /device/scans/{id}/pages/{n}``; every page is PUT in order, then ``POST
.../finish``, then ``GET /device/scans/{id}`` every ``--poll`` seconds (15 ms) until the
stage is ``delivered``. Reported per scan: upload (first PUT sent -> last PUT answered),
finish -> delivered, and upload -> delivered (the goal: p95 <= 2 s without OCR). Afterwards
every mail in the Maildir is checked: one per scan, a PDF of ``--pages`` pages (and, with
OCR, the first and last pages' text found by pdftotext).

Where the time goes (server side, same clock): the bench wraps, for the duration of the run,
``ScanService._deliver``, ``_make_document`` and ``_send`` and the pool's ``produce``,
``assemble`` and ``ocr_pdf`` with a ``perf_counter`` on entry and exit (microseconds of
overhead). "wake" is finish answered -> ``_deliver`` entered (the finish route wakes the
loop; else the next sweep, every ``--sweep`` seconds, finds it); "seen" is ``_deliver``
done -> the poll saw it.

``--ocr``: the same with an action whose defaults have ``"ocr": true`` (``--ocr-scans``
scans, default ``--scans``), alternating with plain OCRmyPDF on the same pages: img2pdf into
one PDF, then ``ocrmypdf IN OUT`` (the venv's CLI, default options: all CPUs as jobs) as a
subprocess; one untimed warm-up of each first. Reported in seconds per page; the ratio ours /
plain (goal <= 1.1) compares upload -> delivered against img2pdf + ocrmypdf. The service's
OCR uses one OCRmyPDF job per CPU for each scan, as plain OCRmyPDF does; its scans are
polled every 50 ms (``OCR_POLL``: each poll is CPU time OCR does not get on a small
machine; 50 ms is 1 % of a 20-page OCR scan).

Bounded: at most 200 scans of 200 pages, each scan waits at most 60 s (OCR: 60 s + 20 s a
page), the whole run ``--budget`` seconds. The app and the sink are stopped at the end
whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import email
import email.message
import io
import mailbox
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import img2pdf
import ocrmypdf
import pikepdf

from harness import Budget, code_version, load_average
from printwarden.config import Settings
from printwarden.domain.accounts import Role
from printwarden.scanning import pool as scan_pool
from printwarden.scanning.sample_pages import generate_page, page_text
from printwarden.service.scanning import ScanService
from printwarden.testing.inprocess import InProcessAppServer
from printwarden.testing.mail import SinkThread
from printwarden.testing.seeding import top_up

GOAL_SECONDS = 2.0
GOAL_RATIO = 1.1
MAX_SCANS = 200
MAX_PAGES = 200
SCAN_TIMEOUT = 60.0
OCR_POLL = 0.05  # seconds between polls of an OCR scan
OCR_PAGE_SECONDS = 20.0
PLAIN_ACTION = "Scan to my email"
OCR_ACTION = "Scan to my email (OCR)"
ACTIONS = [
    {
        "name": PLAIN_ACTION,
        "destination": "email",
        "defaults": {"format": "pdf", "resolution": 300, "ocr": False},
    },
    {
        "name": OCR_ACTION,
        "destination": "email",
        "defaults": {"format": "pdf", "resolution": 300, "ocr": True},
    },
]


# --- the server side: the app in process, and where its time goes ---------------------------


@dataclass
class BenchApp(InProcessAppServer):
    """The App Server in process, mailing scans to the sink on ``smarthost_port``."""

    smarthost_port: int = 0
    sweep_seconds: float = 0.1
    workers: int = 2

    def settings(self) -> Settings:
        base = super().settings()
        scanning = {
            "public_url": "http://scans.test",
            "sweep_seconds": self.sweep_seconds,
            "workers": self.workers,
        }
        mail = base.mail.model_copy(update={"smarthost": f"127.0.0.1:{self.smarthost_port}"})
        return base.model_copy(
            update={"mail": mail, "scanning": base.scanning.model_validate(scanning)}
        )


@dataclass
class Spans:
    """Server-side (start, end) ``perf_counter`` pairs per scan id and step."""

    found: dict[str, dict[str, list[tuple[float, float]]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(list))
    )
    lock: threading.Lock = field(default_factory=threading.Lock)
    local: threading.local = field(default_factory=threading.local)

    def add(self, scan_id: str, step: str, started: float) -> None:
        with self.lock:
            self.found[scan_id][step].append((started, time.perf_counter()))

    def first(self, scan_id: str, step: str) -> tuple[float, float] | None:
        with self.lock:
            found = self.found.get(scan_id, {}).get(step)
            return found[0] if found else None

    def total(self, scan_id: str, step: str) -> float:
        with self.lock:
            return sum(end - start for start, end in self.found.get(scan_id, {}).get(step, []))


@contextlib.contextmanager
def timed_steps(spans: Spans) -> Iterator[None]:
    """Wrap the scan service's steps with timers (restored afterwards)."""
    patches: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, wrapper: Callable[[Any], Any]) -> None:
        original = getattr(owner, name)
        patches.append((owner, name, original))
        setattr(owner, name, wrapper(original))

    def async_method(step: str) -> Callable[[Any], Any]:
        def wrap(original: Any) -> Any:
            async def timed(self: ScanService, job: Any, *args: Any) -> Any:
                started = time.perf_counter()
                try:
                    return await original(self, job, *args)
                finally:
                    spans.add(job.scan_id, step, started)

            return timed

        return wrap

    def send(original: Any) -> Any:
        def timed(self: ScanService, job: Any, files: list[Path]) -> Any:
            started = time.perf_counter()
            try:
                return original(self, job, files)
            finally:
                spans.add(job.scan_id, "send", started)

        return timed

    def produce(original: Any) -> Any:
        def timed(request: scan_pool.ProcessRequest, *args: Any) -> Any:
            spans.local.scan_id = request.out_dir.parent.name  # the spool's <scan id>/out
            started = time.perf_counter()
            try:
                return original(request, *args)
            finally:
                spans.add(spans.local.scan_id, "produce", started)

        return timed

    def in_produce(step: str) -> Callable[[Any], Any]:
        def wrap(original: Any) -> Any:
            def timed(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    spans.add(getattr(spans.local, "scan_id", "?"), step, started)

            return timed

        return wrap

    patch(ScanService, "_deliver", async_method("deliver"))
    patch(ScanService, "_make_document", async_method("document"))
    patch(ScanService, "_send", send)
    patch(scan_pool, "produce", produce)
    patch(scan_pool, "assemble", in_produce("assemble"))
    patch(scan_pool, "ocr_pdf", in_produce("ocr_pdf"))
    try:
        yield
    finally:
        for owner, name, original in reversed(patches):
            setattr(owner, name, original)


# --- the device side ------------------------------------------------------------------------


@dataclass
class ScanTimes:
    scan_id: str
    upload: float  # first PUT sent -> last PUT answered
    finish: float  # finish sent -> answered
    finish_to_delivered: float  # finish sent -> the poll saw "delivered"
    total: float  # first PUT sent -> the poll saw "delivered"
    finished_at: float  # perf_counter when finish was answered
    seen_at: float  # perf_counter when the poll saw "delivered"


@dataclass
class Device:
    admin: httpx.Client
    device: httpx.Client
    poll: float

    def person(self) -> tuple[str, str]:
        """A funded person with a card and an email address: their name and card."""
        name, card = f"bench-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex[:12]
        body = {"username": name, "email": f"{name}@example.test", "cards": [card]}
        made = self.admin.post("/users", json=body)
        _ok(made, 201)
        top_up(self.admin, made.json()["account_id"], 10_000_000)
        return name, card

    def scan(self, card: str, action: str, pages: Sequence[bytes], timeout: float) -> ScanTimes:
        """One scan: login and start (untimed), the pages, finish, poll until delivered."""
        login = self.device.post("/device/sessions", json={"method": "card", "card_number": card})
        _ok(login, 201)
        session = login.json()["session_id"]
        started = self.device.post(f"/device/sessions/{session}/scans", json={"action": action})
        _ok(started, 201)
        scan_id, token = started.json()["scan_id"], started.json()["upload_token"]
        headers = {"X-Scan-Token": token}
        base = f"/device/scans/{scan_id}"
        first = time.perf_counter()
        for number, data in enumerate(pages, 1):
            _ok(self.device.put(f"{base}/pages/{number}", content=data, headers=headers), 201)
        uploaded = time.perf_counter()
        finish = self.device.post(f"{base}/finish", json={"pages": len(pages)}, headers=headers)
        _ok(finish, 200)
        finished = time.perf_counter()
        deadline = finished + timeout
        while True:
            answer = self.device.get(base, headers=headers)
            seen = time.perf_counter()
            _ok(answer, 200)
            stage = answer.json()["stage"]
            if stage == "delivered":
                break
            if stage != "received":
                raise RuntimeError(f"scan {scan_id} {stage}: {answer.json()['detail']}")
            if seen > deadline:
                raise RuntimeError(f"scan {scan_id} not delivered within {timeout:g} s")
            time.sleep(self.poll)
        return ScanTimes(
            scan_id,
            uploaded - first,
            finished - uploaded,
            seen - uploaded,
            seen - first,
            finished,
            seen,
        )


def _ok(answer: httpx.Response, status: int) -> None:
    if answer.status_code != status:
        request = answer.request
        raise RuntimeError(
            f"{request.method} {request.url.path}: {answer.status_code} {answer.text[:300]}"
        )


# --- plain OCRmyPDF -------------------------------------------------------------------------


def ocrmypdf_program() -> list[str]:
    script = Path(sys.executable).with_name("ocrmypdf")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ocrmypdf"]


@dataclass
class PlainTimes:
    img2pdf: float
    ocrmypdf: float


def plain_ocr(pages: list[Path], work: Path, timeout: float) -> PlainTimes:
    """img2pdf of the pages into one PDF, then ``ocrmypdf IN OUT`` with its defaults."""
    source, target = work / "plain-in.pdf", work / "plain-out.pdf"
    target.unlink(missing_ok=True)
    started = time.perf_counter()
    source.write_bytes(img2pdf.convert([str(p) for p in pages]))
    converted = time.perf_counter()
    subprocess.run(
        [*ocrmypdf_program(), str(source), str(target)],
        check=True,
        capture_output=True,
        timeout=timeout,
    )
    return PlainTimes(converted - started, time.perf_counter() - converted)


# --- checks ---------------------------------------------------------------------------------


def mails_to(maildir: Path, name: str) -> list[email.message.Message]:
    box = mailbox.Maildir(maildir, create=False)
    found = [email.message_from_bytes(box.get_bytes(key)) for key in box.iterkeys()]
    return [m for m in found if m["To"] == f"{name}@example.test"]


def check_mails(maildir: Path, name: str, scans: int, pages: int, *, text: bool) -> list[str]:
    """What is wrong with the mails ``name`` got: one a scan, a PDF of ``pages`` pages
    (with the first and last pages' text when ``text``), or a download link when the
    document is too large to attach (not checked further)."""
    problems = []
    mails = mails_to(maildir, name)
    if len(mails) != scans:
        problems.append(f"{name}: {len(mails)} mails for {scans} scans")
    links = 0
    for mail in mails:
        parts = [p for p in mail.walk() if p.get_filename()]
        if not parts and "too large to attach" in _text_of(mail):
            links += 1  # over [scanning] max_attachment_bytes (10 MiB): a download link
            continue
        if len(parts) != 1 or not str(parts[0].get_filename()).endswith(".pdf"):
            problems.append(f"{name}: attachments {[p.get_filename() for p in parts]}")
            continue
        data = bytes(parts[0].get_payload(decode=True))
        with pikepdf.open(io.BytesIO(data)) as pdf:
            if len(pdf.pages) != pages:
                problems.append(f"{name}: a PDF of {len(pdf.pages)} pages, not {pages}")
        if text and not has_text(data, pages):
            problems.append(f"{name}: OCR text of page 1 or {pages} not found")
    if links:
        print(f"  note: {links} of {name}'s scans were mailed as a download link (too large)")
    return problems


def _text_of(mail: email.message.Message) -> str:
    found = [
        p.get_payload(decode=True) for p in mail.walk() if p.get_content_type() == "text/plain"
    ]
    return " ".join(bytes(b).decode(errors="replace") for b in found if isinstance(b, bytes))


def has_text(pdf: bytes, pages: int) -> bool:
    if shutil.which("pdftotext") is None:
        return True
    done = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, timeout=120, check=True
    )
    words = " ".join(done.stdout.decode(errors="replace").lower().split())
    return page_text(1).lower() in words and page_text(pages).lower() in words


# --- the run --------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--scans", type=int, default=20, help=f"timed scans (<= {MAX_SCANS})")
    p.add_argument("--pages", type=int, default=20, help=f"pages a scan (<= {MAX_PAGES})")
    p.add_argument("--dpi", type=int, default=300, help="resolution of the pages")
    p.add_argument("--ocr", action="store_true", help="also the OCR variant vs plain ocrmypdf")
    p.add_argument("--ocr-scans", type=int, default=0, help="OCR scans (default: --scans)")
    p.add_argument(
        "--warmup",
        type=int,
        nargs="?",
        const=1,
        default=1,
        help="untimed scans first (each variant; default 1, 0: none)",
    )
    p.add_argument("--workers", type=int, default=2, help="[scanning] workers (default 2)")
    p.add_argument("--sweep", type=float, default=0.1, help="[scanning] sweep_seconds")
    p.add_argument("--poll", type=float, default=0.015, help="poll interval (s), 0.01-0.02")
    p.add_argument("--budget", type=float, default=300.0, help="seconds for the whole run")
    p.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    scans = max(1, min(args.scans, MAX_SCANS))
    ocr_scans = max(1, min(args.ocr_scans or scans, MAX_SCANS))
    count = max(1, min(args.pages, MAX_PAGES))
    poll = max(0.01, min(args.poll, 0.02))
    budget = Budget(args.budget, "scan delivery benchmark")
    print(time.strftime("scan delivery benchmark, %Y-%m-%d %H:%M:%S %Z"))
    print(
        f"  code {code_version()}; Python {sys.version.split()[0]}; ocrmypdf "
        f"{ocrmypdf.__version__}, img2pdf {img2pdf.__version__}, pikepdf "
        f"{pikepdf.__version__}, {_tesseract()}"
    )
    print(
        f"  {os.cpu_count()} CPUs, load {load_average()}; {count} pages of {args.dpi} dpi "
        f"grey; workers {args.workers}, sweep {args.sweep:g} s, poll {poll * 1000:.0f} ms"
    )
    pages = [generate_page(n, dpi=args.dpi, colour=False) for n in range(1, count + 1)]
    print(
        f"  pages generated: {sum(map(len, pages)) / 1e6:.2f} MB in all "
        f"({statistics.mean(map(len, pages)) / 1e3:.0f} kB a page)"
    )
    spans = Spans()
    with tempfile.TemporaryDirectory(prefix="printwarden-bench-") as tmp:
        root = Path(tmp)
        maildir = root / "maildir"
        sink = SinkThread(maildir)
        try:
            app = BenchApp(
                f"sqlite:///{root / 'app.db'}",
                root,
                smarthost_port=sink.port,
                sweep_seconds=args.sweep,
                workers=args.workers,
            )
            with timed_steps(spans):
                app.start()
                try:
                    code = run(
                        app, root, maildir, pages, args, scans, ocr_scans, poll, spans, budget
                    )
                finally:
                    app.stop()
        finally:
            sink.close()
    print(f"  load {load_average()} at the end; {time.monotonic() - budget.started:.0f} s in all")
    return code


def run(
    app: BenchApp,
    root: Path,
    maildir: Path,
    pages: list[bytes],
    args: argparse.Namespace,
    scans: int,
    ocr_scans: int,
    poll: float,
    spans: Spans,
    budget: Budget,
) -> int:
    device_name = f"mfd-bench-{uuid.uuid4().hex[:6]}"
    with (
        app.client(app.token(Role.ADMIN, "bench-admin")) as admin,
        app.client(app.device_token(device_name)) as client,
    ):
        _ok(admin.put("/scan-actions", json={"actions": ACTIONS, "max_pages": MAX_PAGES}), 200)
        device = Device(admin, client, poll)
        name, card = device.person()
        for _ in range(args.warmup):
            device.scan(card, PLAIN_ACTION, pages, SCAN_TIMEOUT)
        times = []
        for _ in range(scans):
            budget.check()
            times.append(device.scan(card, PLAIN_ACTION, pages, SCAN_TIMEOUT))
        problems = check_mails(maildir, name, args.warmup + scans, len(pages), text=False)
        met = report_plain(times, spans, len(pages))
        if args.ocr:
            ocr_met, ocr_problems = run_ocr(
                device, root, maildir, pages, args, ocr_scans, spans, budget
            )
            met, problems = met and ocr_met, problems + ocr_problems
    if problems:
        print("  WRONG: " + "; ".join(problems[:10]))
        return 2
    return 1 if args.strict and not met else 0


def run_ocr(
    device: Device,
    root: Path,
    maildir: Path,
    pages: list[bytes],
    args: argparse.Namespace,
    scans: int,
    spans: Spans,
    budget: Budget,
) -> tuple[bool, list[str]]:
    """Ours (the OCR action) and plain OCRmyPDF, alternately, on the same pages."""
    work = root / "plain"
    work.mkdir()
    files = []
    for number, data in enumerate(pages, 1):
        files.append(work / f"page-{number:03}.jpg")
        files[-1].write_bytes(data)
    timeout = SCAN_TIMEOUT + OCR_PAGE_SECONDS * len(pages)
    device.poll = OCR_POLL  # each poll takes CPU from OCR on a small machine
    name, card = device.person()
    if args.warmup:
        device.scan(card, OCR_ACTION, pages, timeout)
        plain_ocr(files, work, timeout)
    ours: list[ScanTimes] = []
    plain: list[PlainTimes] = []
    for _ in range(scans):
        budget.check()
        ours.append(device.scan(card, OCR_ACTION, pages, timeout))
        budget.check()
        plain.append(plain_ocr(files, work, timeout))
    problems = check_mails(maildir, name, (1 if args.warmup else 0) + scans, len(pages), text=True)
    if not has_text((work / "plain-out.pdf").read_bytes(), len(pages)):
        problems.append("plain ocrmypdf: text of page 1 or the last not found")
    return report_ocr(ours, plain, spans, len(pages), args.workers), problems


# --- reports --------------------------------------------------------------------------------


def quantiles(values: list[float]) -> tuple[float, float, float]:
    """p50, p95 (linear between the closest ranks) and max."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return statistics.median(values), cuts[94], max(values)


def _ms(values: list[float]) -> str:
    p50, p95, top = quantiles(values)
    return f"p50 {p50 * 1000:7.1f}  p95 {p95 * 1000:7.1f}  max {top * 1000:7.1f} ms"


def breakdown(times: list[ScanTimes], spans: Spans) -> dict[str, list[float]]:
    """Per step, the seconds of each scan (server-side spans; see the module's doc)."""
    rows: dict[str, list[float]] = defaultdict(list)
    for t in times:
        deliver = spans.first(t.scan_id, "deliver")
        rows["upload (all PUTs)"].append(t.upload)
        rows["finish request"].append(t.finish)
        if deliver is None:
            continue
        rows["wake: finish -> _deliver"].append(deliver[0] - t.finished_at)
        rows["  _make_document"].append(spans.total(t.scan_id, "document"))
        rows["    pool produce"].append(spans.total(t.scan_id, "produce"))
        rows["      assemble"].append(spans.total(t.scan_id, "assemble"))
        if spans.total(t.scan_id, "ocr_pdf"):
            rows["      ocr_pdf"].append(spans.total(t.scan_id, "ocr_pdf"))
        rows["  _send (SMTP)"].append(spans.total(t.scan_id, "send"))
        rows["_deliver in all"].append(deliver[1] - deliver[0])
        rows["seen: _deliver -> poll"].append(t.seen_at - deliver[1])
    return rows


def report_plain(times: list[ScanTimes], spans: Spans, pages: int) -> bool:
    total = [t.total for t in times]
    p95 = quantiles(total)[1]
    met = p95 <= GOAL_SECONDS
    print(f"\n  no OCR, {len(times)} scans of {pages} pages (seconds; p95 interpolated):")
    print(f"    upload -> delivered        {_ms(total)}")
    print(f"    upload                     {_ms([t.upload for t in times])}")
    print(f"    finish -> delivered        {_ms([t.finish_to_delivered for t in times])}")
    print("  where it goes (each scan's steps):")
    for what, values in breakdown(times, spans).items():
        print(f"    {what:<26} {_ms(values)}")
    print(
        f"  p95 upload -> delivered {p95:.2f} s (goal <= {GOAL_SECONDS:g} s): "
        f"{'met' if met else 'MISSED'}"
    )
    return met


def report_ocr(
    ours: list[ScanTimes], plain: list[PlainTimes], spans: Spans, pages: int, workers: int
) -> bool:
    jobs = max(1, os.cpu_count() or 1)
    ours_total = statistics.median(t.total for t in ours)
    ours_finish = statistics.median(t.finish_to_delivered for t in ours)
    ours_ocr = statistics.median(spans.total(t.scan_id, "ocr_pdf") for t in ours)
    plain_convert = statistics.median(p.img2pdf for p in plain)
    plain_ocr_ = statistics.median(p.ocrmypdf for p in plain)
    plain_total = statistics.median(p.img2pdf + p.ocrmypdf for p in plain)
    print(
        f"\n  OCR, {len(ours)} scans of {pages} pages alternating with plain ocrmypdf "
        f"(medians; seconds per page):"
    )
    print(f"    ours upload -> delivered   {ours_total / pages:7.3f} s/page ({ours_total:.2f} s)")
    print(f"    ours finish -> delivered   {ours_finish / pages:7.3f} s/page ({ours_finish:.2f} s)")
    print(
        f"    ours ocr_pdf alone         {ours_ocr / pages:7.3f} s/page ({ours_ocr:.2f} s), "
        f"{jobs} OCRmyPDF job(s)"
    )
    print(
        f"    plain img2pdf + ocrmypdf   {plain_total / pages:7.3f} s/page ({plain_total:.2f} s;"
        f" img2pdf {plain_convert:.2f} s), {os.cpu_count()} jobs"
    )
    print(f"    plain ocrmypdf alone       {plain_ocr_ / pages:7.3f} s/page")
    print("  where ours goes (each scan's steps):")
    for what, values in breakdown(ours, spans).items():
        print(f"    {what:<26} {_ms(values)}")
    ratio = ours_total / plain_total
    met = ratio <= GOAL_RATIO
    print(
        f"  ratio ours/plain: upload -> delivered {ratio:.2f}, finish -> delivered "
        f"{ours_finish / plain_total:.2f}, ocr_pdf / ocrmypdf {ours_ocr / plain_ocr_:.2f} "
        f"(goal <= {GOAL_RATIO}): {'met' if met else 'MISSED'}"
    )
    return met


def _tesseract() -> str:
    if shutil.which("tesseract") is None:
        return "tesseract not installed"
    done = subprocess.run(
        ["tesseract", "--version"], capture_output=True, text=True, timeout=10, check=False
    )
    return (done.stdout or done.stderr).strip().splitlines()[0]


if __name__ == "__main__":
    raise SystemExit(main())
