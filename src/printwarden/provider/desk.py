"""The job desk: what the IPP server may do to jobs, with the rules of each queue kind.

The IPP layer decodes requests and encodes answers; the desk decides what happens to jobs
(accept into the spool, hold, release, cancel) and wakes the engine that prints them. Every
change of a job's state is a transition of the job state machine (``domain/job_states.py``)
made by the spool in one transaction: a cancel racing the engine either wins (and the
engine's next step is refused) or is refused because the document is already going to the
printer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from printwarden.analysis import detect
from printwarden.domain import imposition
from printwarden.domain.ids import new_id
from printwarden.domain.job_states import Event, Phase, submitted
from printwarden.provider.config import ProviderConfig, QueueConfig, QueueKind
from printwarden.provider.spool import (
    MORE_DOCUMENTS,
    DocumentWriter,
    Job,
    NewJob,
    Spool,
    more_documents,
)

log = logging.getLogger("printwarden.provider")


class DeskError(Exception):
    """A request the desk refuses; ``reason`` names the IPP status to answer with."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.message = reason, message


NOT_FOUND = "not-found"
NOT_POSSIBLE = "not-possible"
NOT_AUTHORIZED = "not-authorized"
NOT_FORMAT = "document-format-not-supported"
MULTIPLE_OPERATION_TIME_OUT = 60  # seconds a Create-Job job waits for its next document
TOUCHED = "printwarden-touched"  # job attribute: when its client last sent a document


@dataclass(frozen=True, slots=True)
class ReleaseOrder:
    """How the server released a held job: where, and with which settings."""

    printer: str = ""
    copies: int | None = None
    duplex: bool | None = None
    grayscale: bool = False
    convert_to_pdf: bool = False
    account: str = ""

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ReleaseOrder:
        copies = body.get("copies")
        duplex = body.get("duplex")
        return cls(
            printer=str(body.get("printer", "")),
            copies=int(copies) if isinstance(copies, int) and copies > 0 else None,
            duplex=duplex if isinstance(duplex, bool) else None,
            grayscale=body.get("grayscale") is True,
            convert_to_pdf=body.get("convert_to_pdf") is True,
            account=str(body.get("account", "")),
        )

    def apply(self, attributes: dict[str, Any]) -> dict[str, Any]:
        """The job's IPP attributes with this order's settings."""
        changed = dict(attributes)
        if self.copies is not None:
            changed["copies"] = self.copies
        if self.duplex is not None:
            changed["sides"] = "two-sided-long-edge" if self.duplex else "one-sided"
        if self.grayscale:
            changed["print-color-mode"] = "monochrome"
        if self.account:
            changed["job-account-id"] = self.account
        if self.grayscale or self.convert_to_pdf:
            changed[CONVERSION] = TO_GREY_PDF if self.grayscale else TO_PDF
        return changed


# Job attribute (not IPP) naming the conversion the engine applies before sending.
CONVERSION = "printwarden-conversion"
TO_GREY_PDF, TO_PDF = "gray-pdf", "pdf"  # its values
EXPIRED = "expired"
REPORTED_KINDS = frozenset({QueueKind.HOLD, QueueKind.FINDME})


@dataclass(frozen=True, slots=True)
class Submission:
    """A new job as the IPP layer received it."""

    queue: QueueConfig
    user: str
    authenticated: bool
    name: str
    document_format: str
    attributes: dict[str, Any]
    hold: bool = False
    uuid: str = ""  # the job's id when its server named it (Web Print), else a new one


class Desk:
    """Accepts, holds, releases and cancels jobs of one provider."""

    def __init__(self, config: ProviderConfig, spool: Spool) -> None:
        self.config = config
        self.spool = spool
        self._wake: Callable[[], None] = lambda: None
        self._held: Callable[[], None] = lambda: None
        self._lock = threading.Lock()
        self.last_accept = 0.0  # time.monotonic() of the last jobs accepted

    def on_work(self, wake: Callable[[], None]) -> None:
        """Called whenever a job becomes ready for the engine."""
        self._wake = wake

    def on_held(self, news: Callable[[], None]) -> None:
        """Called when a job the server must list (hold and Find-Me queues) is held."""
        self._held = news

    def accept(self, submission: Submission, document: DocumentWriter | None) -> Job:
        """Spool a job durably. ``document`` is None for Create-Job (a document follows)."""
        outcome = self.accept_many([(submission, document)])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def accept_many(
        self, batch: Sequence[tuple[Submission, DocumentWriter | None]]
    ) -> list[Job | Exception]:
        """Spool jobs durably in one transaction (group commit: one fsync for all); for
        each entry its job, or the error that kept it out."""
        self.last_accept = time.monotonic()
        outcomes: list[Job | Exception | None] = []
        admitted: list[NewJob] = []
        for submission, document in batch:
            try:
                name = document.commit() if document is not None else None
            except Exception as exc:
                outcomes.append(exc)
                continue
            outcomes.append(None)  # its job, once spooled
            admitted.append(_new_job(submission, document, name))
        try:
            jobs = iter(self.spool.add_many(admitted))
        except Exception as exc:
            for new in admitted:
                if new.values["document"] is not None:  # no job will ever own it
                    (self.spool.docs / new.values["document"]).unlink(missing_ok=True)
            return [exc if outcome is None else outcome for outcome in outcomes]
        spooled = [next(jobs) if outcome is None else outcome for outcome in outcomes]
        queued = held = False
        for job in spooled:
            if isinstance(job, Job):
                queued |= job.phase is Phase.QUEUED
                held |= bool(job.report_state) and job.document is not None
        if queued:
            self._wake()
        if held:
            self._held()
        return spooled

    def attach(
        self,
        job: Job,
        document: DocumentWriter,
        document_format: str,
        *,
        last: bool = True,
        document_name: str = "",
    ) -> Job:
        """Send-Document: one document of the job arrived; ``last`` closes the job (it is
        then printed or held), else it waits for more (Create-Job jobs may have several)."""
        if job.terminal or job.phase is not Phase.INCOMING:
            document.discard()
            raise DeskError(NOT_POSSIBLE, f"job {job.id} already has all its documents")
        if job.document is not None and not layable(document_format, job.format):
            document.discard()
            raise DeskError(
                NOT_FORMAT,
                f"a job's documents must all be printable as PDF to be printed together; "
                f"{job.format} and {document_format} cannot",
            )
        name = document.commit()
        touched = {**job.attributes, TOUCHED: time.time()}
        if job.document is None:
            values: dict[str, Any] = {"document": name, "size": document.size,
                                      "format": document_format, "attributes": touched}  # fmt: skip
        else:
            added = {"file": name, "format": document_format, "size": document.size,
                     "document-name": document_name[:255]}  # fmt: skip
            more = [*more_documents(job), added]
            values = {"attributes": {**touched, MORE_DOCUMENTS: more}}
        try:
            if not last:
                stored = self.spool.store_document(job.id, name, document.inline, **values)
                if stored is None:
                    raise DeskError(NOT_FOUND, f"no job {job.id}")
                return stored
            if job.document is not None:  # the first holds the job's document columns
                self.spool.store_document(job.id, name, document.inline)
                inline = None
            else:
                inline = document.inline
            return self._close(job, inline, **values)
        except BaseException:
            self.spool.delete_file(name)  # no job will ever own it
            raise

    def close(self, job: Job) -> Job:
        """Close-Job (or a client that went quiet): print (or hold) what arrived; a job
        without any document ends canceled."""
        if job.terminal or job.phase is not Phase.INCOMING:
            return job
        if job.document is None:
            return self._end(job, Event.CANCEL, "closed without a document")
        return self._close(job, None)

    def _close(self, job: Job, inline: bytes | None, **values: Any) -> Job:
        queue = self.config.queue(job.queue)
        held = queue is None or queue.kind is not QueueKind.DIRECT or _hold_requested(job)
        event = Event.DOCUMENT_HELD if held else Event.DOCUMENT
        closed = self.spool.transition(job.id, event, document_data=inline, **values)
        if closed is None:  # canceled or expired meanwhile
            now = self._job(job.id)
            self.delete_documents(now)
            raise DeskError(NOT_POSSIBLE, f"job {job.id} has ended")
        if closed.phase is Phase.QUEUED:
            self._wake()
        elif job.report_state:
            self._held()
        return closed

    def close_abandoned(self, now: float, seconds: float) -> list[Job]:
        """Close the jobs whose client sent no document for ``seconds``
        (``multiple-operation-time-out``, action ``process-job``)."""
        closed = []
        for job in self.spool.in_phases(Phase.INCOMING):
            touched = job.attributes.get(TOUCHED, job.created)
            if not isinstance(touched, int | float) or touched > now - seconds:
                continue
            try:
                closed.append(self.close(job))
            except DeskError:
                continue  # ended meanwhile
        return closed

    def cancel(self, job: Job, reason: str = "canceled-by-user") -> Job:
        """End a job that has not gone to the printer, and delete its document. Refused
        (``not-possible``) once it ended or its document is going to the printer."""
        return self._end(job, Event.CANCEL, reason)

    def _end(self, job: Job, event: Event, message: str) -> Job:
        ended = self.spool.transition(job.id, event, message=message, completed=time.time())
        if ended is None:
            now = self._job(job.id)
            if now.terminal:
                raise DeskError(NOT_POSSIBLE, f"job {job.id} is already finished")
            raise DeskError(NOT_POSSIBLE, f"job {job.id} is being sent to the printer")
        self.delete_documents(ended)
        if ended.report_state:
            self._held()
        return ended

    def delete_documents(self, job: Job) -> None:
        """Delete whatever the spool keeps of an ended job's document (again, harmlessly)."""
        self.spool.delete_document(job)
        for converted in self.spool.inline.glob(f"{job.uuid}.converted*"):
            converted.unlink(missing_ok=True)

    def hold(self, job: Job) -> Job:
        """Hold-Job: hold a job that waits to print (or, sent by Create-Job, its document
        when it comes)."""
        attributes = {**job.attributes, "job-hold-until": "indefinite"}
        held = self.spool.transition(job.id, Event.HOLD, attributes=attributes)
        if held is None:
            raise DeskError(NOT_POSSIBLE, f"job {job.id} cannot be held now")
        return held

    def release(self, job: Job, order: ReleaseOrder | None = None) -> Job:
        """Release a held job: by its owner over IPP, or by the server with an order (to
        another printer for Find-Me, with changed settings)."""
        if job.document is None:
            raise DeskError(NOT_POSSIBLE, f"job {job.id} has no document yet")
        target = (order.printer if order else "") or job.printer
        if not target or self.config.printer(target) is None:
            raise DeskError(NOT_POSSIBLE, f"no printer {target!r} at this provider")
        changes: dict[str, Any] = {}
        if order is not None:
            changes = {"attributes": order.apply(job.attributes), "released": True}
        released = self.spool.transition(
            job.id, Event.RELEASE, printer=target, next_attempt=0, **changes
        )
        if released is None:
            raise DeskError(NOT_POSSIBLE, f"job {job.id} is not held")
        self._wake()
        return released

    def expire(self, now: float) -> list[Job]:
        """Cancel held jobs of hold and Find-Me queues held longer than their queue allows."""
        expired = []
        for queue in self.config.queues:
            if queue.kind not in REPORTED_KINDS:
                continue
            for job in self.spool.held_before(queue.name, now - queue.hold_hours * 3600):
                message = f"{EXPIRED}: held longer than {queue.hold_hours:g} h"
                try:
                    expired.append(self._end(job, Event.EXPIRE, message))
                except DeskError:
                    continue  # released or canceled meanwhile
                except Exception:  # this job's failure; the others still expire
                    log.exception("job %s: expiring it failed", job.id)
                    continue
                log.info("job %s of %s in %s %s; its document is deleted", job.id, job.user,
                         queue.name, message)  # fmt: skip
        return expired

    def _job(self, job_id: int) -> Job:
        job = self.spool.get(job_id)
        if job is None:
            raise DeskError(NOT_FOUND, f"no job {job_id}")
        return job

    def find(self, job_id: int) -> Job:
        return self._job(job_id)


def layable(*document_formats: str) -> bool:
    """Whether documents of these formats can be printed together (laid out as one PDF);
    ``application/octet-stream`` is judged when the job prints."""
    return all(
        f == "application/octet-stream" or imposition.layable(detect.normalize(f))
        for f in document_formats
    )


def _new_job(submission: Submission, document: DocumentWriter | None, name: str | None) -> NewJob:
    """The spool row of an accepted submission (its document already committed)."""
    held = submission.hold or submission.queue.kind is not QueueKind.DIRECT
    kind = submission.queue.kind
    named = {"uuid": submission.uuid} if submission.uuid else {}
    return NewJob(
        submitted(document=name is not None, hold=held),
        {
            **named,
            "queue": submission.queue.name,
            "user": submission.user,
            "authenticated": submission.authenticated,
            "name": submission.name,
            "format": submission.document_format,
            "document": name,
            "size": document.size if document is not None else 0,
            "attributes": submission.attributes,
            "printer": submission.queue.printer,
            "txn_id": new_id(),
            "report_state": "pending" if kind in REPORTED_KINDS else "",
        },
        document.inline if document is not None else None,
    )


def _hold_requested(job: Job) -> bool:
    return str(job.attributes.get("job-hold-until", "no-hold")) != "no-hold"
