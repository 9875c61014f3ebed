"""The engine: analyse, ask the server, print, and charge each job — and survive crashes.

Every step is a transition of the job state machine (``domain/job_states.py``), made by the
spool in one transaction. When the machine refuses the engine's next step, someone else
moved the job meanwhile (a cancel, an expiry): the engine drops it, deleting what it made of
its document, and goes on. A job whose processing raises is that job's failure: logged with
its id (the traceback once), then retried after a back-off or ended, as the machine says
(:func:`~printwarden.domain.job_states.on_error`) — never the loop's death, never a tight
loop. The loops themselves run under the :class:`~printwarden.provider.supervisor.Supervisor`.

Crash rule for printing (no job printed twice): before a document is handed to a printer
the job is durably ``sending``; after the printer took it, ``sent``. At start-up a job
``sent`` but not finished is complete (the printer has all of it); a job still ``sending``
was interrupted mid-send. Over IPP the printer either has a complete job or none (an
incomplete HTTP request is not a job), so it is sent again; over a raw socket or a file copy
nobody can tell, so the job is stopped (``processing-stopped``) with a message for the
administrator instead of risking a second copy. (Caveat: CUPS-based printers such as
ippeveprinter do keep a cut-off request as a job with a partial document, so a resent IPP
job may leave a partial copy besides the whole one.) Charging is separate and idempotent:
each job carries a transaction id from the moment it is accepted, so a report that is
retried after a crash or an outage is applied once; only a completed job is charged.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from printwarden.analysis import Analysis, analyze, analyze_bytes
from printwarden.analysis.papersize import from_pwg_name
from printwarden.domain.job_states import (
    WORKING,
    Event,
    Phase,
    on_error,
    restart_event,
    retry_delay,
)
from printwarden.files import private_dir
from printwarden.provider import attributes as attrs
from printwarden.provider.backends import backend_for
from printwarden.provider.config import FailureMode, ProviderConfig, QueueKind
from printwarden.provider.delivery import (
    Backend,
    Delivered,
    Delivery,
    DeliveryUncertain,
    PrinterRejected,
    PrinterUnavailable,
)
from printwarden.provider.desk import (
    CONVERSION,
    MULTIPLE_OPERATION_TIME_OUT,
    TO_PDF,
    Desk,
    DeskError,
)
from printwarden.provider.policy_orders import (
    POLICY,
    approval_report,
    conversion_of,
    decided_by_policy,
    policy_orders,
)
from printwarden.provider.preparation import Prepared, Undeliverable, clear_scratch, prepare
from printwarden.provider.printed_pages import printed, stale
from printwarden.provider.printer_watch import PrinterWatch
from printwarden.provider.service_client import (
    JobQuestion,
    ServerRefused,
    ServerUnreachable,
    ServiceClient,
)
from printwarden.provider.spool import HELD, Job, Spool, SpooledDocument, more_documents
from printwarden.provider.supervisor import Supervisor

log = logging.getLogger("printwarden.provider")

MAX_JOB_FAILURES = 5  # unexpected failures of one job before it is aborted
REPORT_BATCH = 500
GATHER_QUIET_SECONDS = 0.05  # no job accepted for this long: the burst is over
GATHER_MAX_SECONDS = 1.0  # held jobs reach the server at most this much later
INVALID = 422  # the server's answer to a report it cannot take
# A printer's IPP answers saying it could not take the job as sent: ask it what it takes.
REFUSED_AS_SENT = frozenset({0x040A, 0x040B})  # document-format / attributes not supported


class Engine:
    """Background threads that move jobs through the spool."""

    def __init__(
        self,
        config: ProviderConfig,
        spool: Spool,
        client: ServiceClient,
        desk: Desk,
        backends: Callable[[str], Backend] = backend_for,
        supervisor: Supervisor | None = None,
        analyse: Callable[[SpooledDocument, str], Analysis] | None = None,
        printers: PrinterWatch | None = None,
    ) -> None:
        self.config, self.spool, self.client, self.desk = config, spool, client, desk
        self.backends, self.analyse = backends, analyse or analyse_document
        self.supervisor = supervisor or Supervisor()
        self.printers = printers or PrinterWatch(config)
        # What registration tells the server (the provider adds its queues' adverts).
        self.registration: Callable[[], dict[str, Any]] = self.printers.registration
        self.scratch = private_dir(spool.directory / "work")
        self._work = threading.Event()
        self._news = threading.Event()
        self._stop = self.supervisor.stopping
        self._next_expiry = 0.0
        self.server_up = True
        self.registered = False
        self.job_failures = 0  # jobs that raised (each retried or ended by the machine)
        self._failures_lock = threading.Lock()
        self._registered: Callable[[], None] = lambda: None
        # Whether an operator paused or shut down a queue: its jobs wait (Pause-Printer).
        self.halted: Callable[[str], bool] = lambda queue: False

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.recover()
        self.supervisor.spawn("dispatch", self._dispatch_round, self._work.set)
        self.supervisor.spawn("charge", self._charge_round, self._news.set)

    def stop(self) -> None:
        self.supervisor.stop()

    def wake(self) -> None:
        self._work.set()

    def on_registered(self, hook: Callable[[], None]) -> None:
        """Called once the server has taken this provider's registration."""
        self._registered = hook

    def held_job_arrived(self) -> None:
        """A held job arrived: report it to the server soon."""
        self._news.set()

    def reregister(self) -> None:
        """Tell the server again what this provider serves (a printer's capabilities
        changed)."""
        self.registered = False
        self._news.set()

    def recover(self) -> None:
        """After a crash: take back the jobs the engine was working on, by the crash rule."""
        clear_scratch(self.scratch)
        for job in self.spool.in_phases(*WORKING):
            event = restart_event(resendable=self._resendable(job))
            if job.phase is Phase.SENT:
                # The printer had taken the whole job; we were waiting for it to finish.
                # Sending it again would print it twice: it is done (and charged once, by
                # the charge loop: the server may not answer yet).
                self._printed(job, Delivered(job.printer_job_id), job.tracking != "untracked",
                              event)  # fmt: skip
            elif job.phase is Phase.SENDING and event is Event.CRASH_RESTART_RAW:
                message = "interrupted while sending; not sent again to avoid a duplicate"
                self._move(job, event, message=message)
            else:
                self._move(job, event, next_attempt=0, send_state="")

    def _resendable(self, job: Job) -> bool:
        printer = self.config.printer(job.printer)
        return printer is not None and urlsplit(printer.uri).scheme in ("ipp", "ipps")

    def _move(self, job: Job, event: Event, **changes: Any) -> Job | None:
        """Move ``job`` by ``event``; None (and its leftovers deleted, if it ended) when the
        machine refused: someone else moved it meanwhile."""
        moved = self.spool.transition(job.id, event, **changes)
        if moved is None:
            self._drop(job.id)
        return moved

    def _drop(self, job_id: int) -> None:
        """Let go of a job someone else moved; if it ended, delete whatever the engine made
        of its document meanwhile (an inline copy, a conversion)."""
        job = self.spool.get(job_id)
        if job is not None and job.terminal:
            self.desk.delete_documents(job)

    def _end(self, job: Job, event: Event, message: str, **changes: Any) -> None:
        ended = self._move(job, event, message=message, completed=time.time(), **changes)
        if ended is not None:
            self.desk.delete_documents(ended)
            if ended.report_state:
                self._news.set()

    # --- dispatching ----------------------------------------------------------------------

    def _dispatch_round(self) -> None:
        self._work.wait(timeout=1.0)
        self._work.clear()
        self.run_due()

    def run_due(self) -> None:
        """Process every job that is due now; a job that raises is that job's failure."""
        self._retry_awaiting_server()
        for job in self.spool.due(time.time()):
            if self._stop.is_set():
                return
            if self.halted(job.queue):
                continue
            try:
                self.process(job)
            except Exception as exc:
                self._failed(job.id, exc)

    def _failed(self, job_id: int, exc: Exception) -> None:
        """One job raised: retry it after a back-off or end it, as the machine says."""
        job = self.spool.get(job_id)
        if job is None:
            return
        if job.terminal:  # e.g. its document vanished under a cancel: nothing failed
            log.info("job %s ended while being processed (%s: %s)", job.id,
                     type(exc).__name__, exc)  # fmt: skip
            self.desk.delete_documents(job)
            return
        self._count_failure()
        failures = job.failures + 1
        event = on_error(job.phase, failures, MAX_JOB_FAILURES)
        message = f"internal error: {type(exc).__name__}: {exc}"[:200]
        log.error("job %s failed in phase %s (%d time(s)): %s; %s", job.id, job.phase,
                  failures, message, event, exc_info=exc if failures == 1 else None)  # fmt: skip
        if event is Event.SEND_DONE:
            self._printed(job, Delivered(job.printer_job_id), job.tracking != "untracked")
        elif event is Event.JOB_ERROR:
            delay = retry_delay(failures, *self._backoff())
            self._move(job, event, failures=failures, next_attempt=time.time() + delay,
                       message=f"{message}; retrying in {delay:.0f} s")  # fmt: skip
        elif event is Event.GIVE_UP:
            self._end(job, event, message, failures=failures)
        else:
            self._move(job, event, failures=failures, message=message)

    def _count_failure(self) -> None:
        with self._failures_lock:
            self.job_failures += 1

    def _backoff(self) -> tuple[float, float]:
        return self.config.retry_initial_seconds, self.config.retry_max_seconds

    def process(self, job: Job) -> None:
        """Analyse, decide and print one queued job."""
        taken = self._move(job, Event.ANALYSE)
        if taken is None:
            return
        analysis = taken.analysis
        if not analysis or stale(analysis, taken.attributes):  # stale: a release changed copies
            analysis = self._analyse(taken)
        deciding = self._move(taken, Event.ANALYSED, analysis=analysis)
        if deciding is None:
            return
        question = self._question(deciding, analysis)
        try:
            answer = self.client.decide(question)
        except ServerUnreachable:
            self.server_up = False
            self._without_server(deciding)
            return
        except ServerRefused as exc:
            self._end(deciding, Event.DECIDE_DENY, exc.detail, reasons=attrs.denial_reasons(""))
            return
        self.server_up = True
        attributes = {k: v for k, v in deciding.attributes.items() if k != POLICY}
        attributes.update(policy_orders(answer))
        decided: dict[str, Any] = {
            "cost": answer.cost,
            "account": answer.account,
            "tracking": "tracked",
            "attributes": attributes,
            "message": answer.reason,  # why it is denied, held or converted
        }
        if answer.verdict == "deny":
            del decided["message"]
            reasons = attrs.denial_reasons(answer.denied_by)
            self._end(deciding, Event.DECIDE_DENY, answer.reason, reasons=reasons, **decided)
        elif answer.verdict == "hold":
            # Held on a queue whose jobs are not reported (direct): an approval, or a question
            # for its owner. The server must hear of it, or nobody could release it.
            report = deciding.report_state or "pending"
            if answer.approval:
                report = "pending"
            held = self._move(deciding, Event.DECIDE_HOLD, report_state=report, **decided)
            if held is not None and report == "pending":  # reported now, not at the next turn
                self._news.set()
        elif allowed := self._move(deciding, Event.DECIDE_ALLOW, **decided):
            self.deliver(allowed, charge=True)

    def _analyse(self, job: Job, inline: bytes | None = None) -> dict[str, object]:
        """What the job prints (pages, colour, paper…: ``provider/printed_pages.py``) from
        what its documents hold; {} for a job with none yet. ``inline``: the first
        document's bytes, when already read from the spool."""
        if inline is not None and job.document:
            first: SpooledDocument | None = SpooledDocument(job.document, data=inline)
        else:
            first = self.spool.document(job)
        if first is None:
            return {}
        documents = [(first, job.format)]
        for more in more_documents(job):
            name = str(more["file"])
            further = SpooledDocument(name, path=self.spool.document_file(name))
            documents.append((further, str(more["format"])))
        results = [self.analyse(document, kind) for document, kind in documents]
        digest = _digest(first)
        if len(documents) > 1:  # the same documents in the same order: the same job
            joined = "".join(_digest(document) for document, _ in documents)
            digest = hashlib.sha256(joined.encode()).hexdigest()
        return {"sha256": digest, **printed(results, job.attributes)}

    def _question(self, job: Job, analysis: dict[str, object]) -> JobQuestion:
        attributes = job.attributes
        pages = analysis.get("pages")
        colour = int(str(analysis.get("colour_pages") or 0))
        if attributes.get("print-color-mode") == "monochrome":
            colour = 0
        sides = str(attributes.get("sides", "one-sided"))
        return JobQuestion(
            username=job.user,
            printer=job.printer,
            pages=int(str(pages)) if pages is not None else None,
            colour_pages=colour,
            copies=int(str(analysis.get("printer_copies") or attributes.get("copies", 1))),
            duplex=sides != "one-sided",
            paper_size=str(
                analysis.get("paper_size") or _paper_of(attributes) or self._paper(job.printer)
            ),
            account=str(attributes.get("job-account-id", "")),
            job_ref=job.uuid,
            released=job.released,
            facts=self._facts(job, analysis),
            decided=decided_by_policy(attributes),
        )

    def _paper(self, printer: str) -> str:
        """The paper a job that names none prints on: its printer's default."""
        capabilities = self.printers.get(printer)
        return (from_pwg_name(capabilities.default_media) if capabilities else None) or "A4"

    def _facts(self, job: Job, analysis: dict[str, object]) -> dict[str, object]:
        """What filters judge besides usage: the document, and the printer's paper."""
        printer = self.printers.get(job.printer)
        papers = list(_paper_sizes(printer.media)) if printer else []
        return {
            "document_name": job.name[:256],
            "document_format": str(analysis.get("format") or job.format)[:128],
            "document_hash": str(analysis.get("sha256") or ""),
            "size": job.size,
            "paper_sizes": papers,
            "default_paper": papers[0] if papers else "A4",
        }

    def _without_server(self, job: Job) -> None:
        """Failure mode: what a job does when no server answers."""
        queue = self.config.queue(job.queue)
        mode = queue.failure_mode if queue else FailureMode.HOLD
        if queue is None or queue.kind is not QueueKind.DIRECT or mode is FailureMode.HOLD:
            self._move(job, Event.DEFER, message="held until the print server answers again")
            return
        tracking = "journal" if mode is FailureMode.PRINT_AND_JOURNAL else "untracked"
        if allowed := self._move(job, Event.DECIDE_ALLOW, tracking=tracking):
            self.deliver(allowed, charge=tracking == "journal")

    def _retry_awaiting_server(self) -> None:
        waiting = self.spool.in_phases(Phase.AWAITING_SERVER)
        if not waiting or not self.client.healthy():
            return
        for job in waiting:
            queue = self.config.queue(job.queue)
            direct = queue is not None and queue.kind is QueueKind.DIRECT
            event = Event.SERVER_BACK if direct else Event.SERVER_BACK_HELD
            self.spool.transition(job.id, event, message="")

    # --- printing -------------------------------------------------------------------------

    def deliver(self, job: Job, *, charge: bool) -> None:
        """Hand the document of an allowed job to the printer, following the crash rule. It
        is converted first, before the job is sending (a crash then only repeats the
        conversion)."""
        printer = self.config.printer(job.printer)
        path = self.spool.document_path(job)
        if printer is None or path is None:
            self._end(job, Event.PRINTER_ERROR, f"no printer {job.printer!r}")
            return
        try:
            prepared = self._prepared(job, path)
        except Undeliverable as exc:
            self._end(job, Event.PRINTER_ERROR, f"cannot print: {exc}")
            return
        self._note_conversion(job, prepared)
        backend = self.backends(printer.uri)
        sending = self._move(job, Event.SEND_START, send_state="sending", processing=time.time())
        if sending is None:
            return  # canceled while it was prepared (its conversion is deleted)
        try:
            delivery = self._delivery(sending, prepared.path, prepared.document_format)
            delivered = backend.deliver(delivery)
        except PrinterUnavailable as exc:
            self.printers.stale(printer.name)
            self._retry_later(sending, f"printer unreachable: {exc}")
            return
        except PrinterRejected as exc:
            if exc.status in REFUSED_AS_SENT and self.printers.refresh({printer.name}):
                self._retry_later(sending, f"printer refused: {exc}; it was asked what it takes")
                return
            self._end(sending, Event.PRINTER_ERROR, f"printer refused: {exc}")
            return
        except DeliveryUncertain as exc:
            self._move(sending, Event.SEND_UNCERTAIN, message=str(exc))
            return
        self.printers.answered(printer.name)
        self._printed(sending, delivered, charge)

    def _prepared(self, job: Job, path: Path) -> Prepared:
        """The document as the printer gets it: converted as the policy or the release
        ordered, then to a format the printer takes (``provider/preparation.py``)."""
        capabilities = self.printers.get(job.printer)
        if capabilities is None:
            raise Undeliverable(f"no printer {job.printer!r}")
        order = str(job.attributes.get(CONVERSION) or "")
        queue = self.config.queue(job.queue)
        prepared = prepare(
            path,
            job.format,
            job.attributes,
            conversion_of(job.attributes, order),
            capabilities,
            self.spool.inline / f"{job.uuid}.converted",
            scratch=self.scratch,
            to_pdf=order == TO_PDF,
            fit_to_paper=queue is not None and queue.fit_to_paper,
            more=self.spool.document_paths(job)[1:],
        )
        if prepared.note:
            log.warning("job %s: %s", job.id, prepared.note)
            self.spool.update(job.id, message=prepared.note)
        return prepared

    def _note_conversion(self, job: Job, prepared: Prepared) -> None:
        """Charge what prints: the converted document's pages, and the IPP settings it
        is sent with."""
        analysis = dict(job.analysis)
        attributes = dict(job.attributes)
        if prepared.changed:
            for name in ("pages", "colour_pages", "paper_size"):
                value = getattr(prepared, name)
                if value is not None:
                    analysis[name] = value
        for name, value in (
            ("sides", prepared.sides),
            ("print-color-mode", prepared.colour_mode),
            ("media", prepared.media),
        ):
            if value is not None:
                attributes[name] = value
        if analysis == job.analysis and attributes == job.attributes:
            return
        self.spool.update(job.id, analysis=analysis, attributes=attributes)
        job.analysis.update(analysis)
        job.attributes.update(attributes)

    def _delivery(self, job: Job, path: Path, document_format: str) -> Delivery:
        attributes = job.attributes
        return Delivery(
            path=path,
            job_name=job.name or f"job-{job.id}",
            user=job.user,
            document_format=document_format,
            copies=int(str(job.analysis.get("printer_copies") or attributes.get("copies", 1))),
            sides=str(attributes.get("sides", "one-sided")),
            colour_mode=str(attributes.get("print-color-mode", "auto")),
            media=str(attributes.get("media", "")),
            accepted=lambda printer_job_id: self._accepted(job, printer_job_id),
        )

    def _accepted(self, job: Job, printer_job_id: int | None) -> None:
        self._move(job, Event.SEND_ACCEPTED, send_state="sent", printer_job_id=printer_job_id)

    def _printed(
        self, job: Job, delivered: Delivered, charge: bool, event: Event = Event.SEND_DONE
    ) -> None:
        analysis = job.analysis
        if analysis.get("pages") is None and delivered.impressions is not None:
            # Pages unknown from the document: charge what the printer reports.
            analysis = {**analysis, "pages": delivered.impressions, "colour_pages": 0}
        printed = self._move(
            job,
            event,
            analysis=analysis,
            send_state="sent",
            printer_job_id=delivered.printer_job_id,
            completed=time.time(),
            charge_state="pending" if charge else "none",
        )
        if printed is None:
            return
        self.desk.delete_documents(printed)
        if printed.report_state:
            self._news.set()
        if charge and event is Event.SEND_DONE:  # at start-up the charge loop charges it
            self._charge_one(printed)

    def _retry_later(self, job: Job, message: str) -> None:
        attempts = job.attempts + 1
        delay = retry_delay(attempts, *self._backoff())
        self._move(
            job,
            Event.PRINTER_UNAVAILABLE,
            reasons="resources-are-not-ready",
            send_state="",
            attempts=attempts,
            next_attempt=time.time() + delay,
            message=f"{message}; retrying in {delay:.0f} s",
        )

    # --- charging -------------------------------------------------------------------------

    def _charge_round(self) -> None:
        """Register with the server until it has answered once; report held jobs; expire
        old ones; upload charges the server lacks; then wait for news."""
        if not self.registered:
            self.register()
        self._expire_due()
        if self.registered:
            self.report_held()
        self.charge_due()
        if self._news.wait(timeout=min(2.0, self.config.expiry_check_seconds)):
            self._gather()
        self._news.clear()

    def _gather(self) -> None:
        """After news, wait while the IPP server keeps accepting jobs (at most
        ``GATHER_MAX_SECONDS``): a burst is analysed and reported after it, in one request
        and one transaction, not job by job while clients wait for their answers."""
        deadline = time.monotonic() + GATHER_MAX_SECONDS
        while time.monotonic() < deadline:
            if time.monotonic() - self.desk.last_accept >= GATHER_QUIET_SECONDS:
                return
            if self._stop.wait(GATHER_QUIET_SECONDS):
                return

    def charge_due(self) -> None:
        """Upload the charges of printed jobs the server has not taken yet."""
        for job in self.spool.uncharged():
            if self._stop.is_set() or not self._charge_one(job):
                return

    def _charge_one(self, job: Job) -> bool:
        """:meth:`charge`, where an unexpected failure is this job's: logged, and the job
        marked not charged (it would fail the same way again)."""
        try:
            return self.charge(job)
        except Exception as exc:
            self._count_failure()
            log.exception("job %s: charging failed unexpectedly; it is marked not charged",
                          job.id)  # fmt: skip
            message = f"not charged: internal error: {type(exc).__name__}"
            self.spool.update(job.id, charge_state="failed", message=message)
            return True

    def _expire_due(self) -> None:
        now = time.time()
        if now < self._next_expiry:
            return
        self._next_expiry = now + self.config.expiry_check_seconds
        if self.desk.expire(now):
            self._news.set()
        self.desk.close_abandoned(now, MULTIPLE_OPERATION_TIME_OUT)

    def report_held(self) -> None:
        """Tell the server of newly held jobs and of held jobs that ended."""
        while not self._stop.is_set():
            batch = self.spool.to_report()
            ready = [j for j in batch if j.terminal or (j.state == HELD and j.document)]
            reports = self._reports_of(ready)
            if not reports or not self._send_reports(reports) or len(batch) < REPORT_BATCH:
                return

    def _reports_of(self, jobs: list[Job]) -> list[tuple[Job, dict[str, object]]]:
        """The reports of ``jobs``; the analyses made for them are stored together (not
        waiting for the disk: a lost one is made again)."""
        to_analyse = [job for job in jobs if not job.analysis and not job.terminal]
        batch = _Batch(inline=self.spool.inline_documents(to_analyse))  # one query for all
        reports = [(job, report) for job in jobs if (report := self._report_of(job, batch))]
        self.spool.update_many(
            {job_id: {"analysis": analysis} for job_id, analysis in batch.analysed.items()},
            durable=False,
        )
        return reports

    def _send_reports(self, reports: list[tuple[Job, dict[str, object]]]) -> bool:
        """Send held-job reports; False if the server could not take them now.

        A report the server finds invalid (422) must not keep the others out for ever: the
        batch is sent again one by one, and the job whose own report is refused is treated
        as refused by the server (canceled, with the reason).
        """
        try:
            refused = self.client.report_held(self.config.name, [r for _, r in reports])
        except ServerRefused as exc:
            if exc.status != INVALID:
                log.info("reporting held jobs failed (%s); will retry", exc)
                return False
            if len(reports) > 1:
                return all(self._send_reports([one]) for one in reports)  # stops if unreachable
            job = reports[0][0]
            log.warning("job %s: the server refused its report (%s)", job.id, exc.detail)
            self._reported(job, exc.detail[:200])
            return True
        except ServerUnreachable as exc:
            log.info("reporting held jobs failed (%s); will retry", exc)
            return False
        marks: dict[int, dict[str, Any]] = {}
        for job, _ in reports:
            refusal = refused.get(job.uuid)
            if refusal is None or job.terminal:
                marks[job.id] = {"report_state": "final" if job.terminal else "done"}
            else:
                self._reported(job, refusal)
        # Not waiting for the disk: a mark lost to a power cut only reports the job again.
        self.spool.update_many(marks, durable=False)
        return True

    def _report_of(self, job: Job, batch: _Batch) -> dict[str, object] | None:
        """The report of one held job (its analysis, if made now, kept in ``batch``); if
        building it fails, that is the job's failure: it is reported without an analysis
        (pages unknown) rather than never."""
        try:
            return self._held_report(job, batch)
        except Exception as exc:
            fresh = self.spool.get(job.id)
            if fresh is None:
                return None
            if fresh.terminal:  # ended meanwhile (its document gone under the analysis)
                log.info("job %s ended while its report was made (%s: %s)", job.id,
                         type(exc).__name__, exc)  # fmt: skip
                self.desk.delete_documents(fresh)
            else:
                self._count_failure()
                log.exception("job %s: analysing it for its report failed; reported with "
                              "pages unknown", job.id)  # fmt: skip
                analysis = {"error": f"{type(exc).__name__}: {exc}"[:200]}
                self.spool.update(job.id, analysis=analysis)
                fresh.analysis = analysis
            try:
                return self._held_report(fresh, batch)
            except Exception:
                log.exception("job %s: its report could not be made", job.id)
                return None

    def _reported(self, job: Job, refusal: str | None) -> None:
        if refusal is not None and not job.terminal:
            try:
                self.desk.cancel(job, f"refused by the server: {refusal}")
            except DeskError:  # released and printing meanwhile: reported when it ends
                self.spool.update(job.id, report_state="done")
                return
            self.spool.update(job.id, report_state="final")
        else:
            self.spool.update(job.id, report_state="final" if job.terminal else "done")

    def _held_report(self, job: Job, batch: _Batch) -> dict[str, object]:
        analysis = job.analysis
        if not analysis and not job.terminal:  # analysed from memory: no copy on disk
            analysis = batch.analysed[job.id] = self._analyse(job, batch.inline.get(job.id))
        question = self._question(job, analysis)
        queue = self.config.queue(job.queue)
        hold_seconds = (queue.hold_hours if queue else 4.0) * 3600
        pages = question.pages
        return {
            "job_ref": job.uuid,
            "provider_job_id": job.id,
            "queue": job.queue,
            "queue_kind": queue.kind.value if queue else "hold",
            "username": job.user,
            "printer": job.printer,
            "document_name": job.name[:256],
            "document_format": str(analysis.get("format") or job.format)[:128],
            "size": job.size,
            "pages": pages,
            "colour_pages": min(question.colour_pages, pages or 0),
            "copies": max(1, min(question.copies, 999)),
            "duplex": question.duplex,
            "paper_size": question.paper_size[:32],
            "submitted_at": _iso(job.created),
            "expires_at": _iso(job.created + hold_seconds),
            "status": _report_status(job),
            "status_reason": job.message[:256],
            **approval_report(job.attributes),
        }

    def register(self) -> None:
        """Tell the server which queues and printers this provider serves."""
        try:
            unknown = self.client.register(self.registration())
        except (ServerUnreachable, ServerRefused) as exc:
            log.info("registration with the server failed (%s); will retry", exc)
            return
        self.registered = True
        self._registered()
        if unknown:
            log.warning(
                "printers unknown to the server (jobs there cannot be charged): %s",
                ", ".join(unknown),
            )

    def charge(self, job: Job) -> bool:
        """Report a printed job to the server; False while the server is unreachable."""
        question = self._question(job, job.analysis)
        printed_at = datetime.fromtimestamp(job.completed or time.time(), UTC).isoformat()
        try:
            cost = self.client.printed(question, job.txn_id, job.name, printed_at)
        except ServerUnreachable:
            return False
        except ServerRefused as exc:
            self.spool.update(job.id, charge_state="failed", message=f"not charged: {exc.detail}")
            return True
        self.spool.update(job.id, charge_state="done", cost=cost)
        return True


@dataclass
class _Batch:
    """One round of held-job reports: the inline documents read for it, the analyses
    made (stored together at its end)."""

    inline: dict[int, bytes]
    analysed: dict[int, dict[str, object]] = field(default_factory=dict)


def analyse_document(document: SpooledDocument, document_format: str) -> Analysis:
    """The analysis of a spooled document, read where the spool keeps it (an inline one
    from memory, without a copy on disk)."""
    if document.data is not None:
        return analyze_bytes(document.data, document_format)
    assert document.path is not None
    return analyze(document.path, document_format)


def _digest(document: SpooledDocument) -> str:
    """SHA-256 of the document: duplicate job detection compares contents, not names."""
    if document.data is not None:
        return hashlib.sha256(document.data).hexdigest()
    assert document.path is not None
    with document.path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


@functools.lru_cache(maxsize=64)
def _paper_sizes(media: tuple[str, ...]) -> tuple[str, ...]:
    """The paper sizes of a printer's media (PWG names), in its order (asked per job)."""
    return tuple(size for size in map(from_pwg_name, media) if size)


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


REPORT_STATUS = {
    Phase.COMPLETED: "printed",
    Phase.CANCELED: "canceled",
    Phase.EXPIRED: "expired",
    Phase.ABORTED: "failed",
    Phase.STOPPED: "failed",
}


def _report_status(job: Job) -> str:
    """How the server should see a held job now."""
    return REPORT_STATUS.get(job.phase, "held")


def _paper_of(attributes: dict[str, object]) -> str:
    """The paper size name of the job's ``media`` (a PWG name such as
    ``na_index-4x6_4x6in``), as the price tables name sizes."""
    media = str(attributes.get("media") or "")
    return from_pwg_name(media) or media
