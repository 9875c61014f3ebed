"""The provider's own spool, desk and engine under random interleavings (hypothesis).

A real spool on disk, the real desk and engine; a fake server and fake printers whose
answers hypothesis draws, and which interrupt the engine in the middle of its steps (while it
analyses a job, asks the server about it, sends it, or waits for the printer) to cancel,
release, hold or expire jobs — or to crash the provider, which then restarts on the same
spool. At the end every job is driven to its end and the promises are checked: each job
ends in exactly one final state, none is lost, a canceled job never reached a printer nor
was charged, a printed job reached its printer once and was charged once, a raw printer
never got a job twice, and no document is left in the spool.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from printwarden.analysis import Analysis
from printwarden.domain.job_states import FINAL, Phase
from printwarden.provider.config import ProviderConfig
from printwarden.provider.delivery import (
    Delivered,
    Delivery,
    DeliveryUncertain,
    PrinterRejected,
    PrinterUnavailable,
)
from printwarden.provider.desk import Desk, DeskError, ReleaseOrder, Submission
from printwarden.provider.engine import MAX_JOB_FAILURES, Engine, analyse_document
from printwarden.provider.service_client import (
    Answer,
    JobQuestion,
    ServerRefused,
    ServerUnreachable,
)
from printwarden.provider.spool import INLINE_MAX, IPP_STATE, Job, Spool, SpooledDocument

TAKEN = ["text/plain", "application/pdf"]
# The spool in memory where there is one: its fsyncs are not what this tests either.
MEMORY = "/dev/shm" if Path("/dev/shm").is_dir() else None
INLINE_KEPT = "SELECT COUNT(*) FROM jobs WHERE document_data IS NOT NULL"  # small documents
CONFIG: dict[str, Any] = {
    "name": "lifecycle",
    "retry_initial_seconds": 0.0001,
    "retry_max_seconds": 0.0001,
    # Printers that take the jobs' text as it is: conversions are not what this tests (and
    # a Ghostscript run per delivery made the test take minutes).
    "printers": [
        {"name": "ipp-printer", "uri": "ipp://printer.invalid/ipp/print", "formats": TAKEN},
        {"name": "raw-printer", "uri": "socket://printer.invalid:9100", "formats": TAKEN},
        {"name": "file-printer", "uri": "file:///nowhere", "formats": TAKEN},
    ],
    "queues": [
        {"name": "direct-ipp", "printer": "ipp-printer"},
        {"name": "direct-raw", "printer": "raw-printer", "failure_mode": "hold"},
        {"name": "direct-file", "printer": "file-printer", "failure_mode": "print-untracked"},
        {"name": "secure", "kind": "hold", "printer": "raw-printer"},
        {"name": "findme", "kind": "findme"},
    ],
}
QUEUES = [queue["name"] for queue in CONFIG["queues"]]
RAW = {"raw-printer", "file-printer"}  # a resend could print twice
INTERRUPTS = ("none",) * 16 + ("cancel", "cancel", "release", "hold", "expire", "crash", "crash")
VERDICTS = ["allow"] * 4 + ["deny", "hold", "unreachable", "refused"]
OUTCOMES = ["ok", "ok", "unavailable", "rejected", "uncertain"]


class Crash(BaseException):
    """The provider process dies here (not an Exception: nothing may catch it)."""


@dataclass
class Script:
    """The world's answers and interruptions, drawn (through hypothesis) as the engine goes."""

    rng: random.Random
    calm: bool = False  # the final drive: no interruptions, every answer good

    def verdict(self) -> str:
        return "allow" if self.calm else self.rng.choice(VERDICTS)

    def outcome(self) -> str:
        return "ok" if self.calm else self.rng.choice(OUTCOMES)

    def interrupt(self, point: str) -> tuple[str, int] | None:
        """What happens now, while the engine is ``point`` (analysing, sending…)."""
        if self.calm:
            return None
        action = self.rng.choice(INTERRUPTS)
        return None if action == "none" else (action, self.rng.randrange(16))


@dataclass
class World:
    """The provider under test, its fakes, and what they saw."""

    directory: Path
    script: Script
    config: ProviderConfig = field(default_factory=lambda: ProviderConfig.model_validate(CONFIG))
    jobs: list[int] = field(default_factory=list)  # spool ids, in submission order
    copies: Counter[str] = field(default_factory=Counter)  # whole jobs a printer holds
    reached: Counter[str] = field(default_factory=Counter)  # deliveries that sent any byte
    charged: Counter[str] = field(default_factory=Counter)  # txn ids reported printed
    reported: dict[str, str] = field(default_factory=dict)  # job uuid -> last held status
    spool: Spool = field(init=False)
    desk: Desk = field(init=False)
    engine: Engine = field(init=False)
    names: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.config.data_dir = self.directory
        self.boot()

    def boot(self) -> None:
        self.spool = Spool(self.directory)
        self.desk = Desk(self.config, self.spool)
        server: Any = FakeServer(self)
        printers = lambda uri: FakePrinter(self, uri)  # noqa: E731
        self.engine = Engine(
            self.config, self.spool, server, self.desk, printers, None, self.analyse
        )
        self.engine.registered = True
        self.engine.recover()

    def crash_and_restart(self) -> None:
        self.spool.close()
        self.boot()

    def analyse(self, document: SpooledDocument, document_format: str) -> Analysis:
        self.hook("analysing", self.by(document=document.name))
        return analyse_document(document, document_format)

    def by(self, *, document: str = "", name: str = "", uuid: str = "") -> int | None:
        """The id of the job with this document, name or uuid."""
        for job in self.spool.jobs():
            if (job.document, job.name, job.uuid).count("") < 3 and (
                (document and job.document == document)
                or (name and job.name == name)
                or (uuid and job.uuid == uuid)
            ):
                return job.id
        return None

    def hook(self, point: str, job_id: int | None) -> None:
        """The engine is in the middle of something with job ``job_id``: maybe something
        else happens now, mostly to that very job."""
        drawn = self.script.interrupt(point)
        if drawn is None:
            return
        event(f"interrupted while {point}: {drawn[0]}")
        action, index = drawn
        if action == "crash":
            raise Crash
        self.act(action, index, job_id)

    def act(self, action: str, index: int, current: int | None = None) -> None:
        if action == "expire":
            self.desk.expire(now=4e9)
            return
        if not self.jobs or action == "none":
            return
        chosen = current if current is not None and index < 12 else None
        job = self.job(chosen or self.jobs[index % len(self.jobs)])
        try:
            if action == "cancel":
                self.desk.cancel(job)
            elif action == "release":
                order = ReleaseOrder(printer="ipp-printer") if job.queue == "findme" else None
                self.desk.release(job, order)
            elif action == "hold":
                self.desk.hold(job)
            elif action == "document" and job.phase is Phase.INCOMING:
                self.desk.attach(job, self.document(index), "text/plain")
        except DeskError:
            pass  # refused: a no-op

    def job(self, job_id: int) -> Job:
        found = self.spool.get(job_id)
        assert found is not None, f"job {job_id} lost"
        return found

    def document(self, size: int) -> Any:
        writer = self.spool.new_document()
        text = f"job document {next(self.names)}\n".encode()
        writer.write(text * (1 + (INLINE_MAX // len(text) + 1) * (size % 2)))
        return writer

    def submit(self, queue: str, hold: bool, with_document: bool, size: int) -> None:
        config = self.config.queue(queue)
        assert config is not None
        submission = Submission(config, "ann", False, f"job-{len(self.jobs)}", "text/plain",
                                {"job-hold-until": "indefinite"} if hold else {}, hold)  # fmt: skip
        document = self.document(size) if with_document else None
        self.jobs.append(self.desk.accept(submission, document).id)

    def safely(self, action: Callable[[], object]) -> None:
        """Run an engine step; a crash in it restarts the provider on the same spool."""
        try:
            action()
        except Crash:
            self.crash_and_restart()


class FakeServer:
    """The print server's side, as the engine sees it."""

    def __init__(self, world: World) -> None:
        self.world = world

    def decide(self, question: JobQuestion) -> Answer:
        self.world.hook("deciding", self.world.by(uuid=question.job_ref))
        verdict = self.world.script.verdict()
        if verdict == "unreachable":
            raise ServerUnreachable("no server")
        if verdict == "refused":
            raise ServerRefused(409, "refused")
        return Answer(verdict=verdict, cost=10, reason=verdict, account="ann")

    def printed(self, question: JobQuestion, txn_id: str, name: str, printed_at: str) -> int:
        self.world.charged[txn_id] += 1  # the real ledger takes each txn id once
        return 10

    def report_held(self, provider: str, jobs: list[dict[str, Any]]) -> dict[str, str]:
        self.world.hook("reporting", self.world.by(uuid=str(jobs[0]["job_ref"])))
        for report in jobs:
            self.world.reported[str(report["job_ref"])] = str(report["status"])
        return {}

    def healthy(self) -> bool:
        return True

    def register(self, description: dict[str, Any]) -> list[str]:
        return []


class FakePrinter:
    """A printer: IPP ones say when they hold the whole job; raw ones cannot."""

    def __init__(self, world: World, uri: str) -> None:
        self.world, self.ipp = world, uri.startswith("ipp")

    def deliver(self, delivery: Delivery) -> Delivered:
        world, name = self.world, delivery.job_name
        outcome = world.script.outcome()
        if outcome == "unavailable":
            raise PrinterUnavailable("off")
        if self.ipp and outcome == "rejected":
            raise PrinterRejected("no")
        assert delivery.path.read_bytes(), "the document vanished while it was being sent"
        world.reached[name] += 1
        world.hook("sending", world.by(name=name))
        if outcome == "uncertain" and not self.ipp:
            raise DeliveryUncertain("cut off")
        world.copies[name] += 1  # the printer holds the whole job
        if self.ipp and delivery.accepted is not None:
            delivery.accepted(7)
            world.hook("accepted", world.by(name=name))
        return Delivered(7)


def drive_to_the_end(world: World) -> None:
    """What the provider and people do until nothing is left: the engine runs with every
    answer good, held jobs are reported, printed ones charged, and a person cancels what
    waits (held, stopped) — the way a job at a real site ends."""
    world.script.calm = True
    for _ in range(4):
        world.engine.run_due()
        world.engine.report_held()
        world.engine.charge_due()
        for job_id in world.jobs:
            job = world.job(job_id)
            if job.phase not in FINAL and job.phase not in (Phase.QUEUED, Phase.AWAITING_SERVER):
                with contextlib.suppress(DeskError):
                    world.desk.cancel(job)
    world.engine.report_held()
    world.engine.charge_due()


MOSTLY = st.sampled_from([True, True, True, False])
SUBMIT = st.tuples(
    st.just("submit"), st.sampled_from(QUEUES), MOSTLY.map(lambda b: not b), MOSTLY, st.integers()
)
STEP = st.tuples(st.sampled_from(["run", "run", "run", "report", "charge", "crash"]))
ACT = st.tuples(
    st.sampled_from(["cancel", "release", "hold", "expire", "document"]), st.integers(0, 15)
)
OPERATIONS = st.one_of(SUBMIT, SUBMIT, STEP, STEP, ACT)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(operations=st.lists(OPERATIONS, min_size=30, max_size=80), rng=st.randoms())
def test_random_interleavings_end_every_job_once_and_charge_only_what_printed(
    operations: list[tuple[Any, ...]], rng: random.Random
) -> None:
    with tempfile.TemporaryDirectory(dir=MEMORY) as directory:
        world = World(Path(directory), Script(rng))
        try:
            play(world, operations)
            drive_to_the_end(world)
            check(world)
        finally:
            world.spool.close()


def play(world: World, operations: list[tuple[Any, ...]]) -> None:
    for operation in operations:
        name = operation[0]
        if name == "submit":
            world.submit(*operation[1:])
        elif name == "run":
            world.safely(world.engine.run_due)
        elif name == "report":
            world.safely(world.engine.report_held)
        elif name == "charge":
            world.safely(world.engine.charge_due)
        elif name == "crash":
            world.crash_and_restart()
        else:
            world.act(name, operation[1])


def check(world: World) -> None:
    assert world.spool.count() == len(world.jobs)  # none lost
    for job_id in world.jobs:
        job = world.job(job_id)
        raw = job.printer in RAW
        why = (job.id, job.phase, job.queue, job.printer, job.message)
        assert job.phase in FINAL, why
        event(f"{job.queue} ended {job.phase}")
        assert job.state == IPP_STATE[job.phase][0], why
        copies, reached = world.copies[job.name], world.reached[job.name]
        charged = world.charged[job.txn_id]
        if job.phase is Phase.COMPLETED:
            assert copies == 1, why
            assert charged == (0 if job.tracking == "untracked" else 1), why
        else:
            assert copies == 0, why  # a canceled, expired or aborted job never printed
            assert charged == 0, why  # …and was never charged
        if raw:
            assert reached <= 1, why  # a raw printer never gets a job twice
        if job.report_state:
            assert job.report_state == "final", why
            expected = {Phase.COMPLETED: "printed", Phase.CANCELED: "canceled",
                        Phase.EXPIRED: "expired", Phase.ABORTED: "failed"}  # fmt: skip
            assert world.reported.get(job.uuid) == expected[job.phase], why
    spool = world.spool
    assert not list(spool.docs.iterdir()), "documents left in docs/"
    assert not list(spool.inline.iterdir()), "copies left in inline/"
    assert not list(spool.incoming.iterdir()), "uploads left in incoming/"
    with spool._lock:
        assert spool._db.execute(INLINE_KEPT).fetchone()[0] == 0


def calm() -> Script:
    """Nothing drawn: every answer good, nothing interrupts."""
    return Script(random.Random(0), calm=True)


def held_world(directory: Path) -> World:
    world = World(directory, calm())
    for _ in range(3):
        world.submit("secure", False, True, 0)
    return world


def test_a_report_the_server_cannot_take_keeps_no_other_job_out(tmp_path: Path) -> None:
    """One held job whose report the server finds invalid (422) used to be retried with the
    whole batch for ever, so no other held job ever reached the server."""
    world = held_world(tmp_path)
    bad = world.job(world.jobs[1])
    reported = world.engine.client.report_held

    def picky(provider: str, jobs: list[dict[str, Any]]) -> dict[str, str]:
        if any(report["job_ref"] == bad.uuid for report in jobs):
            raise ServerRefused(422, "body.jobs.0.size: too big")
        return reported(provider, jobs)

    world.engine.client.report_held = picky  # type: ignore[method-assign]
    try:
        world.engine.report_held()
        for job_id in world.jobs:
            job = world.job(job_id)
            if job.id == bad.id:
                assert job.phase is Phase.CANCELED
                assert job.message == "refused by the server: body.jobs.0.size: too big"
            else:
                assert job.phase is Phase.HELD
                assert world.reported[job.uuid] == "held"
            assert job.report_state in ("done", "final")
    finally:
        world.spool.close()


def test_a_job_whose_report_cannot_be_analysed_is_reported_with_pages_unknown(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = held_world(tmp_path)
    failing = world.job(world.jobs[0])

    def analyse(document: SpooledDocument, document_format: str) -> Analysis:
        if document.name == failing.document:
            raise ValueError("a document analysis cannot read")
        return analyse_document(document, document_format)

    world.engine.analyse = analyse
    try:
        for _ in range(3):
            world.engine.report_held()
        assert all(world.reported[world.job(j).uuid] == "held" for j in world.jobs)
        error = "ValueError: a document analysis cannot read"
        assert world.job(failing.id).analysis == {"error": error}
        tracebacks = [r for r in caplog.records if r.exc_info and str(failing.id) in r.message]
        assert len(tracebacks) == 1
        assert world.engine.job_failures == 1
    finally:
        world.spool.close()


def test_a_job_that_keeps_failing_is_retried_with_back_off_then_aborted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    world = World(tmp_path, calm())
    world.config.retry_initial_seconds, world.config.retry_max_seconds = 0.05, 0.1
    world.submit("direct-ipp", False, True, 0)
    world.engine.analyse = lambda path, document_format: 1 / 0  # type: ignore[assignment,return-value]
    try:
        for attempt in range(1, MAX_JOB_FAILURES + 1):
            time.sleep(max(0.0, world.job(world.jobs[0]).next_attempt - time.time()))
            world.engine.run_due()
            world.engine.run_due()  # at once again: not due yet, it backs off
            assert world.job(world.jobs[0]).failures == attempt
        job = world.job(world.jobs[0])
        assert job.phase is Phase.ABORTED
        assert job.message.startswith("internal error: ZeroDivisionError")
        assert world.copies[job.name] == world.charged[job.txn_id] == 0
        assert not list(world.spool.inline.iterdir())
        with world.spool._lock:
            assert world.spool._db.execute(INLINE_KEPT).fetchone()[0] == 0
        assert len([r for r in caplog.records if r.exc_info]) == 1  # one traceback, not five
    finally:
        world.spool.close()


def test_a_spool_from_before_the_machine_gets_its_phases_and_loses_ended_documents(
    tmp_path: Path,
) -> None:
    old = Spool(tmp_path)
    with old._lock:
        old._db.executescript("DROP INDEX jobs_phase; ALTER TABLE jobs DROP COLUMN phase;")
    rows = [  # (state, reasons, send_state, message) as the old provider wrote them
        (3, "job-queued", "", ""),
        (4, "job-incoming", "", ""),
        (4, "awaiting-server", "", ""),
        (4, "job-hold-until-specified", "", ""),
        (5, "job-printing", "sending", ""),
        (5, "job-printing", "sent", ""),
        (6, "job-interrupted", "sending", ""),
        (7, "job-canceled-by-user", "", "expired: held longer than 4 h"),
        (7, "job-canceled-by-user", "", "canceled-by-user"),
        (8, "job-aborted-by-system", "", ""),
        (9, "job-completed-successfully", "sent", ""),
    ]
    with old._lock:
        for number, (state, reasons, send_state, message) in enumerate(rows):
            document = f"doc{number}.doc"
            (old.docs / document).write_bytes(b"x")
            old._db.execute(
                "INSERT INTO jobs (uuid, queue, state, reasons, send_state, message, user, "
                "txn_id, created, document) VALUES (?, 'q', ?, ?, ?, ?, 'ann', ?, 0, ?)",
                (f"u{number}", state, reasons, send_state, message, f"t{number}", document),
            )
        old._db.commit()
    old.close()

    spool = Spool(tmp_path)
    try:
        phases = [job.phase.value for job in spool.jobs()]
        assert phases == ["queued", "incoming", "awaiting-server", "held", "sending", "sent",
                          "stopped", "expired", "canceled", "aborted", "completed"]  # fmt: skip
        kept = sorted(path.name for path in spool.docs.iterdir())
        assert kept == [f"doc{n}.doc" for n in range(7)]  # ended jobs' documents are gone
    finally:
        spool.close()
