"""The engine: analyse, ask the server, print, and charge each job — and survive crashes.

Crash rule for printing (no job printed twice): before a document is handed to a printer
the job is durably marked ``send_state='sending'``; after the printer took it, ``'sent'``.
At start-up a job marked ``sent`` but not finished is complete (the printer has all of it);
a job still marked ``sending`` was interrupted mid-send. Over IPP the printer either has a
complete job or none (an incomplete HTTP request is not a job), so it is sent again; over a
raw socket or a file copy nobody can tell, so the job is stopped (``processing-stopped``)
with a message for the administrator instead of risking a second copy. (Caveat: CUPS-based
printers such as ippeveprinter do keep a cut-off request as a job with a partial document,
so a resent IPP job may leave a partial copy besides the whole one.) Charging is separate
and idempotent: each job carries a transaction id from the moment it is accepted, so a
report that is retried after a crash or an outage is applied once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from printwarden.analysis import analyze
from printwarden.analysis.conversions import ConversionFailed, Converted, convert
from printwarden.analysis.convert import to_pdf
from printwarden.analysis.ghostscript import ToolError
from printwarden.analysis.papersize import from_pwg_name
from printwarden.provider import attributes as attrs
from printwarden.provider.backends import (
    Backend,
    Delivered,
    Delivery,
    DeliveryUncertain,
    PrinterRejected,
    PrinterUnavailable,
    backend_for,
)
from printwarden.provider.config import FailureMode, ProviderConfig, QueueKind
from printwarden.provider.desk import CONVERSION, EXPIRED, TO_PDF, Desk
from printwarden.provider.policy_orders import (
    POLICY,
    approval_report,
    conversion_of,
    decided_by_policy,
    policy_orders,
)
from printwarden.provider.service_client import (
    JobQuestion,
    ServerRefused,
    ServerUnreachable,
    ServiceClient,
)
from printwarden.provider.spool import (
    ABORTED,
    CANCELED,
    COMPLETED,
    HELD,
    PENDING,
    PROCESSING,
    STOPPED,
    Job,
    Spool,
)

log = logging.getLogger("printwarden.provider")

AWAITING_SERVER = "awaiting-server"
CONVERTIBLE = frozenset({"application/pdf", "application/postscript"})
REPORT_BATCH = 500


class Engine:
    """Background threads that move jobs through the spool."""

    def __init__(
        self,
        config: ProviderConfig,
        spool: Spool,
        client: ServiceClient,
        desk: Desk,
        backends: Callable[[str], Backend] = backend_for,
    ) -> None:
        self.config, self.spool, self.client, self.desk = config, spool, client, desk
        self.backends = backends
        self._work = threading.Event()
        self._news = threading.Event()
        self._stop = threading.Event()
        self._next_expiry = 0.0
        self._threads: list[threading.Thread] = []
        self.server_up = True
        self.registered = False
        self._registered: Callable[[], None] = lambda: None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self.recover()
        for target, name in ((self._dispatch_loop, "dispatch"), (self._charge_loop, "charge")):
            thread = threading.Thread(target=target, name=f"provider-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        self._work.set()
        self._news.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def wake(self) -> None:
        self._work.set()

    def on_registered(self, hook: Callable[[], None]) -> None:
        """Called once the server has taken this provider's registration."""
        self._registered = hook

    def news(self) -> None:
        """A held job arrived: report it to the server soon."""
        self._news.set()

    def recover(self) -> None:
        """Apply the crash rule to jobs interrupted while being sent."""
        for job in self.spool.jobs(states=[PROCESSING]):
            if job.send_state == "sent":
                # The printer had taken the whole job; we were waiting for it to finish.
                # Sending it again would print it twice: it is done (and charged once).
                self.spool.update(
                    job.id,
                    state=COMPLETED,
                    reasons="job-completed-successfully",
                    completed=time.time(),
                    charge_state="none" if job.tracking == "untracked" else "pending",
                )
                self.spool.delete_document(job)
            elif job.send_state == "sending" and not self._resendable(job):
                self.spool.update(
                    job.id,
                    state=STOPPED,
                    reasons="job-interrupted",
                    message="interrupted while sending; not sent again to avoid a duplicate",
                )
            else:
                self.spool.update(job.id, state=PENDING, reasons="job-queued", next_attempt=0)

    def _resendable(self, job: Job) -> bool:
        printer = self.config.printer(job.printer)
        return printer is not None and urlsplit(printer.uri).scheme in ("ipp", "ipps")

    # --- dispatching ----------------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        while not self._stop.is_set():
            self._work.wait(timeout=1.0)
            self._work.clear()
            self.run_due()

    def run_due(self) -> None:
        """Process every job that is due now."""
        self._retry_awaiting_server()
        for job in self.spool.due(time.time()):
            if self._stop.is_set():
                return
            try:
                self.process(job)
            except Exception:
                log.exception("job %s failed unexpectedly; it stays queued", job.id)
                self._retry_later(job, "internal error; retrying")

    def process(self, job: Job) -> None:
        """Decide and print one pending job."""
        analysis = job.analysis or self._analyse(job)
        question = self._question(job, analysis)
        try:
            answer = self.client.decide(question)
        except ServerUnreachable:
            self.server_up = False
            self._without_server(job)
            return
        except ServerRefused as exc:
            self._finish(job, CANCELED, attrs.denial_reasons(""), exc.detail)
            return
        self.server_up = True
        attributes = {k: v for k, v in job.attributes.items() if k != POLICY}
        attributes.update(policy_orders(answer))
        self.spool.update(
            job.id,
            cost=answer.cost,
            account=answer.account,
            tracking="tracked",
            attributes=attributes,
            message=answer.reason,  # why it is denied, held or converted
        )
        if answer.verdict == "deny":
            self._finish(job, CANCELED, attrs.denial_reasons(answer.denied_by), answer.reason)
        elif answer.verdict == "hold":
            self.spool.update(
                job.id,
                state=HELD,
                reasons="job-hold-until-specified",
                message=answer.reason,
                report_state="pending" if answer.approval else job.report_state,
            )
            if answer.approval:
                self._news.set()
        else:
            self.deliver(self._reload(job), charge=True)

    def _analyse(self, job: Job) -> dict[str, object]:
        path = self.spool.document_path(job)
        if path is None:
            return {}
        result = analyze(path, job.format)
        stored: dict[str, object] = {
            "sha256": _digest(path),
            "format": result.format,
            "pages": result.pages,
            # Colour could not be judged although pages were counted: charge them as colour
            # rather than undercharge a colour job.
            "colour_pages": (
                result.colour_page_count
                if result.colour_page_count is not None
                else result.pages or 0
            ),
            "paper_size": result.paper_size,
            "duplex": result.duplex,
            "detail": result.detail,
        }
        self.spool.update(job.id, analysis=stored)
        return stored

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
            copies=int(str(attributes.get("copies", 1))),
            duplex=sides != "one-sided",
            paper_size=str(analysis.get("paper_size") or attributes.get("media") or "A4"),
            account=str(attributes.get("job-account-id", "")),
            job_ref=job.uuid,
            released=job.released,
            facts=self._facts(job, analysis),
            decided=decided_by_policy(attributes),
        )

    def _facts(self, job: Job, analysis: dict[str, object]) -> dict[str, object]:
        """What filters judge besides usage: the document, and the printer's paper."""
        printer = self.config.printer(job.printer)
        named = [from_pwg_name(media) for media in printer.media] if printer else []
        papers = [size for size in named if size]
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
            self.spool.update(
                job.id,
                state=HELD,
                reasons=AWAITING_SERVER,
                message="held until the print server answers again",
            )
            return
        tracking = "journal" if mode is FailureMode.PRINT_AND_JOURNAL else "untracked"
        self.spool.update(job.id, tracking=tracking)
        self.deliver(self._reload(job), charge=tracking == "journal")

    def _retry_awaiting_server(self) -> None:
        waiting = self.spool.with_reasons(HELD, AWAITING_SERVER)
        if not waiting or not self.client.healthy():
            return
        for job in waiting:
            queue = self.config.queue(job.queue)
            direct = queue is not None and queue.kind is QueueKind.DIRECT
            reasons = "job-queued" if direct else "job-hold-until-specified"
            self.spool.update(
                job.id, state=PENDING if direct else HELD, reasons=reasons, message=""
            )

    # --- printing -------------------------------------------------------------------------

    def deliver(self, job: Job, *, charge: bool) -> None:
        """Hand the document to the printer, following the crash rule."""
        printer = self.config.printer(job.printer)
        path = self.spool.document_path(job)
        if printer is None or path is None:
            self._finish(job, ABORTED, "job-aborted-by-system", f"no printer {job.printer!r}")
            return
        self.spool.update(
            job.id,
            state=PROCESSING,
            reasons="job-printing",
            send_state="sending",
            processing=time.time(),
        )
        try:
            path, document_format = self._converted(job, path)
        except ToolError as exc:
            self._finish(job, ABORTED, "job-aborted-by-system", f"conversion failed: {exc}")
            return
        try:
            delivery = self._delivery(job, path, document_format)
            delivered = self.backends(printer.uri).deliver(delivery)
        except PrinterUnavailable as exc:
            self._retry_later(job, f"printer unreachable: {exc}")
            return
        except PrinterRejected as exc:
            self._finish(job, ABORTED, "job-aborted-by-system", f"printer refused: {exc}")
            return
        except DeliveryUncertain as exc:
            self.spool.update(job.id, state=STOPPED, reasons="job-interrupted", message=str(exc))
            return
        self._printed(job, delivered, charge)

    def _converted(self, job: Job, path: Path) -> tuple[Path, str]:
        """The document as the printer gets it: converted as the policy or the release
        ordered. A conversion that fails leaves the job as submitted and says why."""
        order = str(job.attributes.get(CONVERSION) or "")
        wanted = conversion_of(job.attributes, order)
        document_format = _delivery_format(job)
        target = self.spool.inline / f"{job.uuid}.converted.pdf"
        if wanted.is_identity():
            if order != TO_PDF or document_format not in CONVERTIBLE:
                return path, document_format
            if not target.exists():  # PostScript for a printer that takes only PDF
                temporary = target.with_suffix(".tmp")
                to_pdf(path, temporary, grayscale=False)
                temporary.replace(target)
            return target, "application/pdf"
        try:
            converted = convert(path, document_format, wanted, self.spool.inline)
        except ConversionFailed as exc:
            log.warning("job %s: conversion failed (%s); printing it as submitted", job.id, exc)
            self.spool.update(job.id, message=f"conversion failed, printed as submitted: {exc}")
            return path, document_format
        if converted.path != path:
            converted.path.replace(target)
        self._note_conversion(job, converted)
        return (target if converted.path != path else path), converted.document_format

    def _note_conversion(self, job: Job, converted: Converted) -> None:
        """Charge what prints: the converted document's pages, and its IPP settings."""
        analysis = dict(job.analysis)
        for name in ("pages", "colour_pages", "paper_size"):
            value = getattr(converted, name)
            if value is not None:
                analysis[name] = value
        attributes = dict(job.attributes)
        if converted.sides is not None:
            attributes["sides"] = converted.sides
        if converted.colour_mode is not None:
            attributes["print-color-mode"] = converted.colour_mode
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
            copies=int(str(attributes.get("copies", 1))),
            sides=str(attributes.get("sides", "one-sided")),
            colour_mode=str(attributes.get("print-color-mode", "auto")),
            media=str(attributes.get("media", "")),
            accepted=lambda printer_job_id: self.spool.update(
                job.id, send_state="sent", printer_job_id=printer_job_id
            ),
        )

    def _printed(self, job: Job, delivered: Delivered, charge: bool) -> None:
        if job.analysis.get("pages") is None and delivered.impressions is not None:
            # Pages unknown from the document: charge what the printer reports.
            analysis = {**job.analysis, "pages": delivered.impressions, "colour_pages": 0}
            self.spool.update(job.id, analysis=analysis)
        self.spool.update(
            job.id,
            state=COMPLETED,
            reasons="job-completed-successfully",
            send_state="sent",
            printer_job_id=delivered.printer_job_id,
            completed=time.time(),
            charge_state="pending" if charge else "none",
        )
        self._delete_documents(job)
        if charge:
            self.charge(self._reload(job))

    def _retry_later(self, job: Job, message: str) -> None:
        attempts = job.attempts + 1
        delay = min(
            self.config.retry_max_seconds,
            self.config.retry_initial_seconds * 2 ** min(attempts - 1, 16),
        )
        self.spool.update(
            job.id,
            state=PENDING,
            reasons="resources-are-not-ready",
            send_state="",
            attempts=attempts,
            next_attempt=time.time() + delay,
            message=f"{message}; retrying in {delay:.0f} s",
        )

    def _finish(self, job: Job, state: int, reason: str, message: str) -> None:
        self.spool.update(
            job.id, state=state, reasons=reason, message=message, completed=time.time()
        )
        self._delete_documents(job)

    def _delete_documents(self, job: Job) -> None:
        self.spool.delete_document(job)
        (self.spool.inline / f"{job.uuid}.converted.pdf").unlink(missing_ok=True)

    def _reload(self, job: Job) -> Job:
        fresh = self.spool.get(job.id)
        assert fresh is not None
        return fresh

    # --- charging -------------------------------------------------------------------------

    def _charge_loop(self) -> None:
        """Register with the server until it has answered once; report held jobs; expire
        old ones; upload charges the server lacks."""
        while not self._stop.is_set():
            if not self.registered:
                self.register()
            self._expire_due()
            if self.registered:
                self.report_held()
            for job in self.spool.uncharged():
                if not self.charge(job):
                    break
            self._news.wait(timeout=min(2.0, self.config.expiry_check_seconds))
            self._news.clear()

    def _expire_due(self) -> None:
        now = time.time()
        if now < self._next_expiry:
            return
        self._next_expiry = now + self.config.expiry_check_seconds
        if self.desk.expire(now):
            self._news.set()

    def report_held(self) -> None:
        """Tell the server of newly held jobs and of held jobs that ended."""
        while not self._stop.is_set():
            batch = self.spool.to_report()
            ready = [j for j in batch if j.terminal or (j.state == HELD and j.document)]
            if not ready:
                return
            try:
                refused = self.client.report_held(
                    self.config.name, [self._held_report(job) for job in ready]
                )
            except (ServerUnreachable, ServerRefused) as exc:
                log.info("reporting held jobs failed (%s); will retry", exc)
                return
            for job in ready:
                self._reported(job, refused.get(job.uuid))
            if len(batch) < REPORT_BATCH:
                return

    def _reported(self, job: Job, refusal: str | None) -> None:
        if refusal is not None and not job.terminal:
            self.desk.cancel(job, f"refused by the server: {refusal}")
            self.spool.update(job.id, report_state="final")
        else:
            self.spool.update(job.id, report_state="final" if job.terminal else "done")

    def _held_report(self, job: Job) -> dict[str, object]:
        analysis = job.analysis
        if not analysis and not job.terminal:
            analysis = self._analyse(job)
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
            unknown = self.client.register(self.config.registration())
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


def _digest(path: Path) -> str:
    """SHA-256 of the document: duplicate job detection compares contents, not names."""
    with path.open("rb") as document:
        return hashlib.file_digest(document, "sha256").hexdigest()


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat()


def _report_status(job: Job) -> str:
    """How the server should see a held job now."""
    if job.state == COMPLETED:
        return "printed"
    if job.state == CANCELED:
        return "expired" if job.message.startswith(EXPIRED) else "canceled"
    if job.state in (ABORTED, STOPPED):
        return "failed"
    return "held"


def _delivery_format(job: Job) -> str:
    """The format to announce to the printer: what analysis found when the client said only
    ``application/octet-stream`` (CUPS' lp does), so the printer need not guess."""
    detected = str(job.analysis.get("format") or "")
    if job.format == "application/octet-stream" and detected:
        return detected
    return job.format
