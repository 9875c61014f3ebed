"""Job operations of IPP/2.1 and 2.2 (RFC 3380, PWG 5100.11, PWG 5100.5) beyond RFC 8011's.

* Set-Job-Attributes changes a waiting job's ``job-name`` and ``job-priority`` (its owner
  or an operator); the priority orders what prints next;
* Promote-Job prints a job next, Schedule-Job-After after another (or last): operators;
* Suspend-Current-Job stops the job the engine is working on if it has not gone to the
  printer (``processing-stopped``, ``job-suspended-by-operator``), Resume-Job lets it go on,
  Cancel-Current-Job cancels it: operators;
* Restart-Job, Reprocess-Job and Resubmit-Job would print an ended job again, but the
  provider deletes a job's documents when it ends (nobody's document is kept longer than
  needed): they answer ``client-error-not-possible`` saying so;
* Get-Documents and Get-Document-Attributes describe a job's documents, Set-Document-
  Attributes renames one, Cancel-Document removes one the job has not printed yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from printwarden.domain.job_states import BEFORE_SENDING, Event, Phase
from printwarden.provider import clock
from printwarden.provider.attributes import FIRST_DOCUMENT_NAME, a, job_documents
from printwarden.provider.desk import DeskError
from printwarden.provider.http import HttpAuthRequired
from printwarden.provider.ipp import (
    Attribute,
    AttributeGroup,
    GroupTag,
    Message,
    Operation,
    TextWithLanguage,
)
from printwarden.provider.ipp import StatusCode as S
from printwarden.provider.ipp import ValueTag as T
from printwarden.provider.ipp_service import (
    Context,
    IppService,
    Refusal,
    _queue_uri,
    _requested,
    _require,
    _select,
)
from printwarden.provider.spool import MORE_DOCUMENTS, ORDER, Job, more_documents

Handler = Callable[[Context], Awaitable[Message]]
NOT_KEPT = (
    "the documents of a job are deleted when it ends (none is kept longer than needed): "
    "print it again"
)
WAITING = frozenset(
    {Phase.INCOMING, Phase.HELD, Phase.QUEUED, Phase.AWAITING_SERVER, Phase.SUSPENDED}
)
# document-state (PWG 5100.5) of a job's documents, by job-state.
DOCUMENT_STATES = {3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9}


class JobOperations:
    """The IPP/2.x job and document operations of every queue."""

    def __init__(self, service: IppService, wake: Callable[[], None] = lambda: None) -> None:
        self.service, self.wake = service, wake
        self.spool = service.spool
        self.notifier = service.services.notifier

    def handlers(self) -> dict[int, Handler]:
        return {
            Operation.SET_JOB_ATTRIBUTES: self.set_job_attributes,
            Operation.RESTART_JOB: self.print_again,
            Operation.REPROCESS_JOB: self.print_again,
            Operation.RESUBMIT_JOB: self.print_again,
            Operation.PROMOTE_JOB: self.promote_job,
            Operation.SCHEDULE_JOB_AFTER: self.schedule_job_after,
            Operation.CANCEL_CURRENT_JOB: self.cancel_current_job,
            Operation.SUSPEND_CURRENT_JOB: self.suspend_current_job,
            Operation.RESUME_JOB: self.resume_job,
            Operation.GET_DOCUMENTS: self.get_documents,
            Operation.GET_DOCUMENT_ATTRIBUTES: self.get_document_attributes,
            Operation.SET_DOCUMENT_ATTRIBUTES: self.set_document_attributes,
            Operation.CANCEL_DOCUMENT: self.cancel_document,
        }

    # --- who may ---------------------------------------------------------------------------

    def _operator(self, context: Context) -> None:
        if not context.authenticated:
            raise HttpAuthRequired()
        if not (context.admin or context.user in self.service.services.operators):
            raise Refusal(S.CLIENT_ERROR_FORBIDDEN, f"{context.user} is not an operator here")

    def _is_operator(self, context: Context) -> bool:
        return context.authenticated and (
            context.admin or context.user in self.service.services.operators
        )

    def _job(self, context: Context) -> Job:
        """The job a request names, if its owner or an operator asks."""
        job = self.service._find_job(context)
        if job.user != context.user and not self._is_operator(context):
            raise Refusal(S.CLIENT_ERROR_NOT_AUTHORIZED, "this job belongs to another user")
        return job

    def _ok(self, context: Context, groups: list[AttributeGroup] | None = None) -> Message:
        return self.service.response(context.request.message, S.SUCCESSFUL_OK, groups=groups or [])

    # --- job attributes and order -------------------------------------------------------------

    async def set_job_attributes(self, context: Context) -> Message:
        job = self._job(context)
        if job.phase not in WAITING:
            raise Refusal(S.CLIENT_ERROR_NOT_POSSIBLE, f"job {job.id} is printing or has ended")
        group = context.request.message.job
        if group is None or not len(group):
            raise Refusal(S.CLIENT_ERROR_BAD_REQUEST, "no job attributes to set")
        changes: dict[str, Any] = {}
        refused: list[Attribute] = []
        for attribute in group.attributes:
            value = attribute.value
            if attribute.name == "job-name" and isinstance(value, str | TextWithLanguage):
                changes["name"] = _text(value)[:255]
            elif attribute.name == "job-priority" and _priority(value):
                changes["job-priority"] = value
            else:
                refused.append(Attribute.out_of_band(attribute.name, T.NOT_SETTABLE))
        if refused:
            raise Refusal(S.CLIENT_ERROR_ATTRIBUTES_NOT_SETTABLE, "not settable", refused)
        values: dict[str, Any] = {}
        if "name" in changes:
            values["name"] = changes.pop("name")
        if changes:
            values["attributes"] = {**job.attributes, **changes}
        await asyncio.to_thread(self.spool.update, job.id, **values)
        self._configured(job.id, f"Job {job.id} changed by {context.user}.")
        if "attributes" in values:
            self._reordered(job.queue, f"Job {job.id} has priority {changes['job-priority']}.")
        return self._ok(context)

    async def promote_job(self, context: Context) -> Message:
        self._operator(context)
        job = self._pending(context)
        others = [j for j in self.spool.pending(job.queue) if j.id != job.id]
        first = others[0] if others else None
        priority = max(_priority_of(j) for j in [job, *others])
        order = (_order_of(first) - 1) if first is not None else job.id
        await self._schedule(job, priority, order)
        self._reordered(job.queue, f"Job {job.id} prints next.")
        return self._ok(context)

    async def schedule_job_after(self, context: Context) -> Message:
        self._operator(context)
        job = self._pending(context)
        operation = context.request.message.operation
        after_id = operation.value("job-id-after") if operation else None
        others = [j for j in self.spool.pending(job.queue) if j.id != job.id]
        if isinstance(after_id, int) and not isinstance(after_id, bool):
            after = next((j for j in others if j.id == after_id), None)
            if after is None:
                raise Refusal(S.CLIENT_ERROR_NOT_FOUND, f"job {after_id} is not waiting here")
            later = others[others.index(after) + 1 :]
            following = next((j for j in later if _priority_of(j) == _priority_of(after)), None)
            end = _order_of(following) if following is not None else _order_of(after) + 2
            priority, order = _priority_of(after), (_order_of(after) + end) / 2
            text = f"Job {job.id} prints after job {after.id}."
        else:
            priority = min([_priority_of(j) for j in others] or [_priority_of(job)])
            order = max([_order_of(j) for j in others] or [job.id]) + 1
            text = f"Job {job.id} prints last."
        await self._schedule(job, priority, order)
        self._reordered(job.queue, text)
        return self._ok(context)

    def _pending(self, context: Context) -> Job:
        job = self.service._find_job(context)
        if job.phase not in (Phase.QUEUED, Phase.HELD, Phase.INCOMING, Phase.AWAITING_SERVER):
            raise Refusal(S.CLIENT_ERROR_NOT_POSSIBLE, f"job {job.id} is not waiting to print")
        return job

    async def _schedule(self, job: Job, priority: int, order: float) -> None:
        attributes = {**job.attributes, "job-priority": priority, ORDER: order}
        await asyncio.to_thread(self.spool.update, job.id, attributes=attributes)
        self._configured(job.id, f"Job {job.id} rescheduled.")
        self.wake()

    # --- the current job --------------------------------------------------------------------

    def _current(self, context: Context) -> Job:
        """The queue's job the engine is working on (the one named, if any)."""
        queue = _require(context.queue)
        working = [j for j in self.spool.in_phases(*BEFORE_SENDING, Phase.SENDING, Phase.SENT)
                   if j.queue == queue.name]  # fmt: skip
        operation = context.request.message.operation
        named = operation.value("job-id") if operation else None
        if isinstance(named, int) and not isinstance(named, bool):
            working = [j for j in working if j.id == named]
        if not working:
            raise Refusal(S.CLIENT_ERROR_NOT_POSSIBLE, f"no job of {queue.name} is printing now")
        return working[0]

    async def cancel_current_job(self, context: Context) -> Message:
        self._operator(context)
        job = self._current(context)
        try:
            await asyncio.to_thread(self.service.desk.cancel, job, "canceled by an operator")
        except DeskError as exc:
            raise Refusal(S.CLIENT_ERROR_NOT_POSSIBLE, exc.message) from None
        return self._ok(context)

    async def suspend_current_job(self, context: Context) -> Message:
        self._operator(context)
        job = self._current(context)
        suspended = await asyncio.to_thread(
            self.spool.transition, job.id, Event.SUSPEND, message=f"suspended by {context.user}"
        )
        if suspended is None:
            raise Refusal(S.CLIENT_ERROR_NOT_POSSIBLE, f"job {job.id} is going to the printer")
        return self._ok(context)

    async def resume_job(self, context: Context) -> Message:
        self._operator(context)
        job = self.service._find_job(context)
        resumed = await asyncio.to_thread(
            self.spool.transition, job.id, Event.RESUME, message="", next_attempt=0
        )
        if resumed is None:
            raise Refusal(S.CLIENT_ERROR_NOT_POSSIBLE, f"job {job.id} is not suspended")
        self.wake()
        return self._ok(context)

    async def print_again(self, context: Context) -> Message:
        """Restart-Job, Reprocess-Job, Resubmit-Job: an ended job's documents are gone."""
        job = self._job(context)
        if not job.terminal:
            raise Refusal(S.CLIENT_ERROR_NOT_POSSIBLE, f"job {job.id} has not ended")
        raise Refusal(S.CLIENT_ERROR_NOT_POSSIBLE, f"job {job.id}: {NOT_KEPT}")

    # --- documents -----------------------------------------------------------------------------

    async def get_documents(self, context: Context) -> Message:
        job = self._job(context)
        requested = _wanted(context)
        groups = [
            AttributeGroup(GroupTag.DOCUMENT, _select(self._document(context, job, n), requested))
            for n in range(1, len(job_documents(job)) + 1)
        ]
        return self._ok(context, groups)

    async def get_document_attributes(self, context: Context) -> Message:
        job = self._job(context)
        number = self._number(context, job)
        described = _select(self._document(context, job, number), _wanted(context))
        return self._ok(context, [AttributeGroup(GroupTag.DOCUMENT, described)])

    async def set_document_attributes(self, context: Context) -> Message:
        job = self._job(context)
        number = self._number(context, job)
        if job.terminal:
            raise Refusal(S.CLIENT_ERROR_NOT_POSSIBLE, f"job {job.id} has ended")
        group = context.request.message.group(GroupTag.DOCUMENT)
        if group is None or not len(group):
            raise Refusal(S.CLIENT_ERROR_BAD_REQUEST, "no document attributes to set")
        name = group.value("document-name")
        wrong = [x for x in group.attributes if x.name != "document-name"]
        if wrong or not isinstance(name, str | TextWithLanguage):
            refused = [Attribute.out_of_band(x.name, T.NOT_SETTABLE) for x in group.attributes]
            raise Refusal(S.CLIENT_ERROR_ATTRIBUTES_NOT_SETTABLE, "not settable", refused)
        attributes = dict(job.attributes)
        if number == 1:
            attributes[FIRST_DOCUMENT_NAME] = _text(name)[:255]
        else:
            more = more_documents(job)
            more[number - 2] = {**more[number - 2], "document-name": _text(name)[:255]}
            attributes[MORE_DOCUMENTS] = more
        await asyncio.to_thread(self.spool.update, job.id, attributes=attributes)
        self._configured(job.id, f"Document {number} of job {job.id} renamed.")
        return self._ok(context)

    async def cancel_document(self, context: Context) -> Message:
        """Remove a document the job has not printed yet (the first stays: cancel the job)."""
        job = self._job(context)
        number = self._number(context, job)
        if job.phase not in WAITING:
            raise Refusal(S.CLIENT_ERROR_NOT_POSSIBLE, f"job {job.id} is printing or has ended")
        if number == 1:
            raise Refusal(
                S.CLIENT_ERROR_NOT_POSSIBLE, "the first document is the job's: cancel the job"
            )
        more = more_documents(job)
        removed = more.pop(number - 2)
        attributes = {**job.attributes, MORE_DOCUMENTS: more}
        await asyncio.to_thread(self.spool.update, job.id, attributes=attributes, analysis={})
        await asyncio.to_thread(self.spool.delete_file, str(removed["file"]))
        self._configured(job.id, f"Document {number} of job {job.id} canceled.")
        return self._ok(context)

    def _number(self, context: Context, job: Job) -> int:
        operation = context.request.message.operation
        number = operation.value("document-number") if operation else None
        if not isinstance(number, int) or isinstance(number, bool):
            raise Refusal(S.CLIENT_ERROR_BAD_REQUEST, "document-number is required")
        if not 1 <= number <= len(job_documents(job)):
            raise Refusal(S.CLIENT_ERROR_NOT_FOUND, f"job {job.id} has no document {number}")
        return number

    def _document(self, context: Context, job: Job, number: int) -> list[Attribute]:
        document = job_documents(job)[number - 1]
        closed = job.phase is not Phase.INCOMING
        uri = _queue_uri(context, job)
        state = DOCUMENT_STATES.get(job.state, 3)
        return [
            a("document-number", T.INTEGER, number),
            a("document-job-id", T.INTEGER, job.id),
            a("document-job-uri", T.URI, f"{uri}/{job.id}"),
            a("document-printer-uri", T.URI, uri),
            a("document-format", T.MIME_MEDIA_TYPE, str(document["format"])),
            a("document-name", T.NAME_WITHOUT_LANGUAGE, str(document.get("document-name", ""))),
            a("document-state", T.ENUM, state),
            a("document-state-reasons", T.KEYWORD, *job.reasons.split(",")),
            a("k-octets", T.INTEGER, (int(document.get("size", 0)) + 1023) // 1024),
            a("last-document", T.BOOLEAN, number == len(job_documents(job)) and closed),
            a("time-at-creation", T.INTEGER, clock.ipp_time(job.created)),
            a("date-time-at-creation", T.DATE_TIME, clock.date_time(job.created)),
            a("printer-up-time", T.INTEGER, clock.up_time()),
        ]

    # --- events --------------------------------------------------------------------------------

    def _configured(self, job_id: int, text: str) -> None:
        job = self.spool.get(job_id)
        if job is not None:
            self.notifier.job_configured(job, text)

    def _reordered(self, queue: str, text: str) -> None:
        state, _ = self.service.services.states.current(queue)
        self.notifier.queue_reordered(queue, text, state)


def _priority(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 100


def _priority_of(job: Job) -> int:
    value = job.attributes.get("job-priority", 50)
    return value if isinstance(value, int) else 50


def _order_of(job: Job) -> float:
    value = job.attributes.get(ORDER, job.id)
    return float(value) if isinstance(value, int | float) else float(job.id)


def _wanted(context: Context) -> list[str]:
    requested = _requested(context.request.message)
    return [] if "all" in requested or "document-description" in requested else requested


def _text(value: object) -> str:
    if isinstance(value, TextWithLanguage):
        return value.text
    return value if isinstance(value, str) else ""
