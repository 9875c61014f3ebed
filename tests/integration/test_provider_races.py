"""Job lifecycle races at a real Print Provider: cancels, releases and submissions at once.

An App Server, a Print Provider process with ``file://`` printers, and IPP clients on
threads (the project's own client, plus CUPS' ``ipptool``). What is checked is what a site
would see: every job ends in exactly one final state, ended jobs leave no spool file behind,
nothing is charged for a job that did not print, the provider keeps serving, and its log has
no tracebacks.

``PRINTWARDEN_RACE_JOBS`` sets how many interleavings the storm drives (1,000 by default;
``make chaos`` runs a longer one).
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import sqlite3
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pikepdf
import pytest

from printwarden.domain.accounts import Role
from printwarden.provider.ipp import Attribute, JobState, Operation, ValueTag
from printwarden.provider.ipp.client import IppClient, IppError
from printwarden.testing.appserver import AppServer, served_app
from support.provider import (
    ProviderProcess,
    QueueSpec,
    colour_and_mono,
    file_printer_documents,
    spool_documents,
)
from support.seeding import add_printer, add_user, wait_for

WAIT_SECONDS = 60.0
FINAL = (JobState.CANCELED, JobState.ABORTED, JobState.COMPLETED)
USERS = ("ann", "ben", "cat", "dan")
NOT_POSSIBLE = 0x0404


@dataclass
class World:
    app: AppServer
    admin: httpx.Client
    provider: ProviderProcess
    out: Path

    @property
    def data(self) -> Path:
        return self.provider.directory / "data"

    def client(self, queue: str, user: str) -> IppClient:
        return IppClient(self.provider.uri(queue), user_name=user, timeout=WAIT_SECONDS)

    def held(self, user: str, name: str) -> dict[str, Any] | None:
        listed = self.admin.get("/held-jobs", params={"user": user}).json()["jobs"]
        return next((j for j in listed if j["document_name"] == name), None)

    def rows(self) -> dict[int, dict[str, Any]]:
        """The provider's job rows, read without disturbing it."""
        database = f"file:{self.data / 'state.db'}?mode=ro"
        with contextlib.closing(sqlite3.connect(database, uri=True)) as db:
            db.row_factory = sqlite3.Row
            return {row["id"]: dict(row) for row in db.execute("SELECT * FROM jobs")}

    def charged_txns(self) -> Counter[str]:
        """The App Server's ledger transaction ids (unique there), counted."""
        database = self.app.database_url.removeprefix("sqlite:///")
        with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as db:
            rows = db.execute("SELECT txn_id FROM transactions").fetchall()
        return Counter(str(row[0]) for row in rows)

    def tracebacks(self) -> list[str]:
        text = (self.provider.directory / "provider.log").read_text(errors="replace")
        return re.findall(r"Traceback[^\n]*\n(?:[ \t][^\n]*\n)*[^\n]*", text)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("races")
    with served_app(root, "boss", WAIT_SECONDS) as (app, admin):
        for printer, colour in (("colour", True), ("mono", False)):
            add_printer(admin, printer, colour=colour)
        for name in USERS:
            add_user(admin, name, 10_000_000)
        out = root / "out"
        provider = ProviderProcess(
            server_url=app.url,
            token=app.token(Role.PROVIDER),
            directory=root,
            printers=colour_and_mono(out),
            queues=[
                QueueSpec("direct", "direct", "colour"),
                QueueSpec("secure", "hold", "mono", ipp_release=True),
            ],
        )
        provider.start()
        try:
            yield World(app, admin, provider, out)
        finally:
            provider.stop()


def big_pdf(path: Path, megabytes: int = 50) -> Path:
    """A one-page PDF carrying an uncompressed colour image of about ``megabytes`` MB."""
    side = int((megabytes * 1024 * 1024 / 3) ** 0.5)
    pdf = pikepdf.new()
    image = pikepdf.Stream(pdf, os.urandom(side * side * 3))
    image.Type, image.Subtype = pikepdf.Name.XObject, pikepdf.Name.Image
    image.Width, image.Height = side, side
    image.ColorSpace, image.BitsPerComponent = pikepdf.Name.DeviceRGB, 8
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=[0, 0, 595, 842],
        Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)),
        Contents=pikepdf.Stream(pdf, b"q 595 0 0 842 0 0 cm /Im0 Do Q"),
    )
    pdf.pages.append(pikepdf.Page(page))
    pdf.save(path)
    return path


def job_state(world: World, queue: str, user: str, job_id: int) -> int:
    with world.client(queue, user) as client:
        return int(str(client.get_job_attributes(job_id, ["job-state"]).value("job-state")))


def release(client: IppClient, job_id: int) -> None:
    client.request(Operation.RELEASE_JOB, [Attribute.of("job-id", ValueTag.INTEGER, job_id)])


def held_text_reaches_the_server(world: World, user: str) -> None:
    """The provider still lists a new Secure Print job at the server."""
    name = f"after-{uuid.uuid4().hex[:8]}"
    with world.client("secure", user) as client:
        client.print_job(b"next job\n", document_format="text/plain", job_name=name)
    wait_for(lambda: world.held(user, name), f"{name} held at the server", WAIT_SECONDS)


def direct_text_prints(world: World, user: str) -> None:
    """The provider still prints the next job of a direct queue."""
    text = f"next direct job {uuid.uuid4().hex}\n".encode()
    with world.client("direct", user) as client:
        job_id = client.print_job(text, document_format="text/plain", job_name="next")
    wait_for(
        lambda: job_state(world, "direct", user, job_id) == JobState.COMPLETED,
        "the next direct job printed",
        WAIT_SECONDS,
    )
    assert text in file_printer_documents(world.out / "colour")


def ended_without_files(world: World) -> None:
    """Every job is in a final IPP state and the spool keeps no document of an ended job."""
    rows = world.rows()
    live = {r["document"] for r in rows.values() if r["state"] not in FINAL and r["document"]}
    assert spool_documents(world.data) <= live
    leftovers = [p.name for p in (world.data / "inline").iterdir()]
    assert all(any(name.startswith(doc) for doc in live) for name in leftovers), leftovers


def charges_settled(world: World) -> bool:
    return all(r["charge_state"] != "pending" for r in world.rows().values())


# --- the two reproductions of issue 16 --------------------------------------------------


def test_cancel_of_a_held_job_during_its_analysis_keeps_secure_print_alive(
    world: World, tmp_path: Path
) -> None:
    """Issue 16: a 50 MB PDF canceled while the provider analyses it killed the thread that
    reports held jobs, so no later Secure Print job reached the server."""
    document = big_pdf(tmp_path / "big.pdf")
    with world.client("secure", "ann") as client, document.open("rb") as data:
        job_id = client.print_job(data, document_format="application/pdf", job_name="big")
        client.cancel_job(job_id)
    assert job_state(world, "secure", "ann", job_id) == JobState.CANCELED
    held_text_reaches_the_server(world, "ann")
    wait_for(lambda: world.rows()[job_id]["report_state"] == "final", "the cancel reported")
    ended_without_files(world)
    assert world.tracebacks() == []


def test_print_then_cancel_pairs_on_a_direct_queue_all_end(world: World) -> None:
    """Issue 16: 20 Print-Job + Cancel-Job pairs left 14 jobs pending for ever."""
    ids: dict[int, bool] = {}
    refusals = []
    with world.client("direct", "ben") as client:
        for number in range(20):
            text = f"pair {number} {uuid.uuid4().hex}\n".encode() * 200
            job_id = client.print_job(text, document_format="text/plain", job_name="pair")
            try:
                client.cancel_job(job_id)
                ids[job_id] = True
            except IppError as exc:  # it was already being sent, or printed
                refusals.append(exc.status)
                ids[job_id] = False
    assert set(refusals) <= {NOT_POSSIBLE}

    def settled() -> bool:
        rows = world.rows()
        return all(rows[job_id]["state"] in FINAL for job_id in ids)

    wait_for(settled, "every pair to end", WAIT_SECONDS)
    wait_for(lambda: charges_settled(world), "the printed pairs charged", WAIT_SECONDS)
    rows = world.rows()
    for job_id, canceled in ids.items():
        expected = JobState.CANCELED if canceled else JobState.COMPLETED
        assert rows[job_id]["state"] == expected, rows[job_id]
    charged = world.charged_txns()
    for job_id, canceled in ids.items():
        assert charged[rows[job_id]["txn_id"]] == (0 if canceled else 1)
    ended_without_files(world)
    direct_text_prints(world, "ben")
    assert world.tracebacks() == []


# --- the storm ----------------------------------------------------------------------------

JOBS = int(os.environ.get("PRINTWARDEN_RACE_JOBS", "1000"))
SEED = int(os.environ.get("PRINTWARDEN_RACE_SEED", "16"))
WORKERS = 8
IPPTOOL_JOBS = 8  # of the storm's jobs, printed and canceled by CUPS' ipptool
HOLD = {"job-hold-until": "indefinite"}
KINDS = (  # (what a client does, weight)
    ("print", 15),
    ("print-cancel", 30),
    ("hold-release", 15),
    ("hold-release-cancel", 12),
    ("hold-cancel", 10),
    ("secure-cancel", 10),
    ("secure-keep", 8),
)
# ipptool defines $user itself (the local login name), so the owner travels as $owner.
IPPTOOL_TEST = """
{
  NAME "Print-Job"
  OPERATION Print-Job
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR naturalLanguage attributes-natural-language en
  ATTR uri printer-uri $uri
  ATTR name requesting-user-name $owner
  ATTR name job-name $name
  ATTR mimeMediaType document-format text/plain
  FILE $document
  STATUS successful-ok
  EXPECT job-id OF-TYPE integer
}
{
  NAME "Cancel-Job"
  OPERATION Cancel-Job
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR naturalLanguage attributes-natural-language en
  ATTR uri printer-uri $uri
  ATTR integer job-id $job-id
  ATTR name requesting-user-name $owner
  STATUS successful-ok
}
"""


@dataclass
class Play:
    """One client's interleaving and what the provider answered."""

    number: int
    kind: str
    user: str
    queue: str = "direct"
    job_id: int = 0
    released: bool = False  # Release-Job answered successful-ok
    canceled: bool | None = None  # Cancel-Job: True answered ok, False not-possible
    answers: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"storm-{self.number}"


def play(world: World, number: int, tools: Path) -> Play:
    rng = random.Random(SEED * 1_000_003 + number)
    kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
    done = Play(
        number, kind, rng.choice(USERS), "secure" if kind.startswith("secure") else "direct"
    )
    text = f"{done.name} {uuid.uuid4().hex}\n".encode() * rng.choice((1, 50, 2000))
    if number < IPPTOOL_JOBS:
        return _play_ipptool(world, done, text, tools)
    with world.client(done.queue, done.user) as client:
        attributes = HOLD if kind.startswith("hold") else None
        done.job_id = client.print_job(
            text, document_format="text/plain", job_name=done.name, attributes=attributes
        )
        time.sleep(pause(rng))
        if "release" in kind:
            release(client, done.job_id)
            done.released = True
            time.sleep(pause(rng))
        if kind.endswith("cancel"):
            try:
                client.cancel_job(done.job_id)
                done.canceled = True
            except IppError as exc:
                done.answers.append(f"cancel: {exc.status:#06x} {exc}")
                done.canceled = False
    return done


def pause(rng: random.Random) -> float:
    """Seconds to wait before the next step: from none to long enough for the engine to
    have analysed, decided or sent the job."""
    return rng.choice((0.0, 0.005, 0.03, 0.1, 0.3)) * rng.random()


def _play_ipptool(world: World, done: Play, text: bytes, tools: Path) -> Play:
    done.kind = "ipptool-print-cancel"
    document = tools / f"{done.name}.txt"
    document.write_bytes(text)
    test = tools / "print-cancel.test"
    command = ["ipptool", "-t", "-T", "30", "-d", f"owner={done.user}", "-d", f"name={done.name}",
               "-d", f"document={document}", world.provider.uri("direct"), str(test)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    report = result.stdout
    assert re.search(r"Print-Job\s+\[PASS\]", report), report + result.stderr
    done.canceled = bool(re.search(r"Cancel-Job\s+\[PASS\]", report))
    done.answers.append(report)
    return done


def server_releases(world: World, kept: list[Play]) -> None:
    """Jobs left held on the Secure Print queue: half released through the server (its
    doorbell), some of those canceled over IPP at the same moment, the rest canceled."""
    for job in kept:
        wait_for(partial(world.held, job.user, job.name), f"{job.name} listed")

    def end(job: Play) -> None:
        held = world.held(job.user, job.name)
        assert held is not None
        if job.number % 2:
            _cancel_quietly(world, job)
            return
        racing = threading.Thread(target=_cancel_quietly, args=(world, job))
        if job.number % 4 == 0:
            racing.start()
        answer = world.admin.post(f"/held-jobs/{held['id']}/release", json={"printer": "mono"})
        job.answers.append(f"server release: {answer.status_code}")
        assert answer.status_code in (200, 409, 503), answer.text
        if racing.ident is not None:
            racing.join()

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(end, kept))


def _cancel_quietly(world: World, job: Play) -> None:
    with world.client("secure", job.user) as client, contextlib.suppress(IppError):
        client.cancel_job(job.job_id)


def printed_names(world: World) -> Counter[str]:
    """How often each storm job's name reached a printer (a file printer names its files
    ``<document>-<job name>``)."""
    found: Counter[str] = Counter()
    for folder in (world.out / "colour", world.out / "mono"):
        for path in folder.glob("*-storm-*") if folder.exists() else []:
            found[path.name[path.name.index("-storm-") + 1 :]] += 1
    return found


def metrics(world: World) -> dict[str, float]:
    text = httpx.get(f"http://{world.provider.host}/metrics", timeout=WAIT_SECONDS).text
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[re.sub(r'provider="[^"]*",?', "", name).replace("{}", "")] = float(value)
    return values


def test_a_storm_of_submits_cancels_and_releases_ends_every_job_once(
    world: World, tmp_path: Path
) -> None:
    (tmp_path / "print-cancel.test").write_text(IPPTOOL_TEST)
    started = time.monotonic()
    with ThreadPoolExecutor(WORKERS) as pool:
        plays = list(pool.map(lambda n: play(world, n, tmp_path), range(JOBS)))
    kept = [p for p in plays if p.kind == "secure-keep"]
    server_releases(world, kept)
    rows = world.rows()
    by_name = {row["name"]: row for row in rows.values()}
    for done in plays:  # ipptool's jobs are known by name
        done.job_id = done.job_id or by_name[done.name]["id"]
    ids = {done.job_id for done in plays}

    def settled() -> bool:
        rows = world.rows()
        return all(rows[i]["state"] in FINAL and rows[i]["charge_state"] != "pending" for i in ids)

    wait_for(settled, "every storm job ended and charged", max(WAIT_SECONDS, JOBS * 0.05))
    storm_seconds = time.monotonic() - started
    rows = world.rows()
    printed, charged = printed_names(world), world.charged_txns()
    for done in plays:
        row = rows[done.job_id]
        why = (done, row["phase"], row["message"])
        if done.canceled:
            assert row["phase"] == "canceled", why
        if done.canceled is False:  # refused: it was going to the printer
            assert row["phase"] == "completed", why
        if done.kind in ("print", "hold-release"):
            assert row["phase"] == "completed", why
        assert row["phase"] in ("completed", "canceled"), why
        # It reached the printer exactly once if it completed, never if it was canceled;
        # it was charged exactly when it printed.
        assert printed[done.name] == (1 if row["phase"] == "completed" else 0), why
        assert charged[row["txn_id"]] == (1 if row["phase"] == "completed" else 0), why
        assert row["report_state"] in ("", "final"), why
    ended_without_files(world)
    direct_text_prints(world, "cat")
    held_text_reaches_the_server(world, "dan")
    assert world.tracebacks() == []
    values = metrics(world)
    for loop in ("dispatch", "charge", "orders"):
        assert values[f'printwarden_provider_loop_up{{loop="{loop}"}}'] == 1
        assert values[f'printwarden_provider_loop_restarts_total{{loop="{loop}"}}'] == 0
        assert values[f'printwarden_provider_loop_errors_total{{loop="{loop}"}}'] == 0
    assert values["printwarden_provider_job_failures_total"] == 0
    # It started without collections (``printwarden.heap``) and turned them on to serve.
    assert values['printwarden_provider_heap{counter="enabled"}'] == 1
    assert values['printwarden_provider_heap{counter="frozen_objects"}'] > 50_000
    outcomes = Counter((p.kind, rows[p.job_id]["phase"]) for p in plays)
    print(f"\n{JOBS} interleavings settled in {storm_seconds:.1f} s: {sorted(outcomes.items())}")
