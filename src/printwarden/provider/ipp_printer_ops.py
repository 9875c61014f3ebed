"""A queue's operator operations (RFC 8011, RFC 3380, PWG 5100.11) and Identify-Printer.

Operators are the server's administrators and the users the provider's configuration names
(``operators``), signed in with HTTP Basic (checked by the server): anyone else is asked to
sign in (HTTP 401) or refused (``client-error-forbidden``). What each operation does to a queue:

* Pause-Printer (and Pause-Printer-After-Current-Job: the provider never interrupts a job
  being sent, so both let it finish) stops the queue sending jobs; Resume-Printer resumes;
* Disable-Printer refuses new jobs (``server-error-not-accepting-jobs``), Enable-Printer
  takes them again;
* Hold-New-Jobs holds the jobs that come to a direct queue, Release-Held-New-Jobs releases
  them (and takes new ones again);
* Shutdown-Printer stops and refuses; Startup-Printer undoes it; Restart-Printer asks the
  printer what it is and how it is again, and starts the queue (it keeps its jobs);
* Purge-Jobs and Cancel-Jobs cancel the queue's jobs (those named) that have not gone to
  the printer; a job already being sent ends as it prints;
* each of these keeps a ``printer-message-from-operator`` given with it (RFC 3380);
* Set-Printer-Attributes sets the queue's description (``printer-settable-attributes``);
  Get-Printer-Supported-Values says any value may be given (``admin-define``);
* Identify-Printer is forwarded to the printer when it can identify itself; otherwise the
  queue shows the request (``identify-printer-requested``, its message) for a minute.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from printwarden.provider.config import QueueConfig, QueueKind
from printwarden.provider.desk import DeskError
from printwarden.provider.http import HttpAuthRequired
from printwarden.provider.ipp import (
    Attribute,
    AttributeGroup,
    GroupTag,
    Message,
    Operation,
    OutOfBand,
    TextWithLanguage,
)
from printwarden.provider.ipp import StatusCode as S
from printwarden.provider.ipp import ValueTag as T
from printwarden.provider.ipp.client import IppClient, IppClientError
from printwarden.provider.ipp_service import NOT_COMPLETED, Context, IppService, Refusal, _require
from printwarden.provider.queue_admin import HELD_NEW_JOBS, SETTABLE
from printwarden.provider.spool import Job

log = logging.getLogger("printwarden.provider")
Handler = Callable[[Context], Awaitable[Message]]


class PrinterOperations:
    """The operator operations of every queue, and Identify-Printer."""

    def __init__(self, service: IppService, wake: Callable[[], None] = lambda: None) -> None:
        self.service, self.wake = service, wake
        self.admin = service.services.admin

    def handlers(self) -> dict[int, Handler]:
        return {
            Operation.PAUSE_PRINTER: self._flag(paused=True),
            Operation.PAUSE_PRINTER_AFTER_CURRENT_JOB: self._flag(paused=True),
            Operation.RESUME_PRINTER: self._flag(paused=False),
            Operation.ENABLE_PRINTER: self._flag(accepting=True),
            Operation.DISABLE_PRINTER: self._flag(accepting=False),
            Operation.HOLD_NEW_JOBS: self._flag(hold_new_jobs=True),
            Operation.RELEASE_HELD_NEW_JOBS: self.release_held_new_jobs,
            Operation.SHUTDOWN_PRINTER: self._flag(shutdown=True),
            Operation.STARTUP_PRINTER: self._flag(shutdown=False),
            Operation.RESTART_PRINTER: self.restart_printer,
            Operation.PURGE_JOBS: self.purge_jobs,
            Operation.CANCEL_JOBS: self.cancel_jobs,
            Operation.SET_PRINTER_ATTRIBUTES: self.set_printer_attributes,
            Operation.GET_PRINTER_SUPPORTED_VALUES: self.get_printer_supported_values,
            Operation.IDENTIFY_PRINTER: self.identify_printer,
        }

    def operator(self, context: Context) -> QueueConfig:
        """The queue of an operator's request; sign in first, or be refused."""
        queue = _require(context.queue)
        if not context.authenticated:
            raise HttpAuthRequired()
        if not (context.admin or context.user in self.service.services.operators):
            raise Refusal(S.CLIENT_ERROR_FORBIDDEN, f"{context.user} is not an operator here")
        return queue

    def _flag(self, **changes: bool) -> Handler:
        async def handle(context: Context) -> Message:
            queue = self.operator(context)
            self.admin.change(queue.name, **changes)
            self._message(context, queue)
            self.wake()  # a resumed or started queue sends what waited
            return self.service.response(context.request.message, S.SUCCESSFUL_OK)

        return handle

    def _message(self, context: Context, queue: QueueConfig) -> None:
        """``printer-message-from-operator`` given with an operation (RFC 3380) is kept."""
        operation = context.request.message.operation
        said = operation.value("printer-message-from-operator") if operation else None
        if isinstance(said, str | TextWithLanguage):
            limit = SETTABLE["printer-message-from-operator"]
            text = _text(said).encode()[:limit].decode(errors="ignore")
            self.admin.describe(queue.name, {"printer-message-from-operator": text})

    async def release_held_new_jobs(self, context: Context) -> Message:
        queue = self.operator(context)
        self.admin.change(queue.name, hold_new_jobs=False)
        self._message(context, queue)
        for job in self.service.spool.jobs(queue=queue.name, states=(4,)):
            if job.attributes.get(HELD_NEW_JOBS) and job.document is not None:
                try:
                    await asyncio.to_thread(self.service.desk.release, job)
                except DeskError as exc:  # canceled or released meanwhile
                    log.info("job %s stays as it is: %s", job.id, exc.message)
        return self.service.response(context.request.message, S.SUCCESSFUL_OK)

    async def restart_printer(self, context: Context) -> Message:
        queue = self.operator(context)
        if queue.printer:
            await asyncio.to_thread(self.service.printers.refresh, {queue.printer})
        self.admin.change(queue.name, paused=False, shutdown=False, accepting=True)
        state, _ = self.service.services.states.current(queue.name)
        self.service.services.notifier.restarted(queue.name, state, f"{queue.name} restarted.")
        self.wake()
        return self.service.response(context.request.message, S.SUCCESSFUL_OK)

    async def purge_jobs(self, context: Context) -> Message:
        queue = self.operator(context)
        await self._cancel(self.service.spool.jobs(queue=queue.name, states=NOT_COMPLETED))
        return self.service.response(context.request.message, S.SUCCESSFUL_OK)

    async def cancel_jobs(self, context: Context) -> Message:
        """Cancel-Jobs: the jobs named by ``job-ids`` (all or none), else every job."""
        queue = self.operator(context)
        operation = context.request.message.operation
        ids = [v for v in operation.values_of("job-ids") if isinstance(v, int)] if operation else []
        if not ids:
            jobs = self.service.spool.jobs(queue=queue.name, states=NOT_COMPLETED)
            await self._cancel(jobs)
            return self.service.response(context.request.message, S.SUCCESSFUL_OK)
        found = {job_id: self.service.spool.get(job_id) for job_id in ids}
        wrong = [
            job_id for job_id, job in found.items()
            if job is None or job.queue != queue.name or job.terminal
        ]  # fmt: skip
        if wrong:
            answer = self.service.response(
                context.request.message, S.CLIENT_ERROR_NOT_POSSIBLE,
                "no job, another queue's, or already ended: " + ", ".join(map(str, wrong)),
            )  # fmt: skip
            answer.groups[0].add(Attribute("job-ids", T.INTEGER, list(wrong)))
            return answer
        await self._cancel([job for job in found.values() if job is not None])
        return self.service.response(context.request.message, S.SUCCESSFUL_OK)

    async def _cancel(self, jobs: list[Job]) -> None:
        for job in jobs:
            try:
                await asyncio.to_thread(self.service.desk.cancel, job, "canceled by an operator")
            except DeskError as exc:  # being sent: it ends as it prints
                log.info("job %s not canceled: %s", job.id, exc.message)

    async def set_printer_attributes(self, context: Context) -> Message:
        queue = self.operator(context)
        group = context.request.message.printer
        if group is None or not len(group):
            raise Refusal(S.CLIENT_ERROR_BAD_REQUEST, "no printer attributes to set")
        values: dict[str, str] = {}
        refused: list[Attribute] = []
        for attribute in group.attributes:
            value = _settable_value(attribute)
            if value is None:
                refused.append(
                    Attribute(attribute.name, T.NOT_SETTABLE, [OutOfBand(T.NOT_SETTABLE)])
                )
            elif len(value.encode()) > SETTABLE[attribute.name]:
                raise Refusal(
                    S.CLIENT_ERROR_REQUEST_VALUE_TOO_LONG,
                    f"{attribute.name} is at most {SETTABLE[attribute.name]} octets",
                    [attribute],
                )
            else:
                values[attribute.name] = value
        if refused:
            raise Refusal(S.CLIENT_ERROR_ATTRIBUTES_NOT_SETTABLE, "not settable", refused)
        self.admin.describe(queue.name, values)
        state, _ = self.service.services.states.current(queue.name)
        changed = ", ".join(sorted(values))
        self.service.services.notifier.printer_configured(
            queue.name, f"{queue.name}: {changed} set.", state
        )
        return self.service.response(context.request.message, S.SUCCESSFUL_OK)

    async def get_printer_supported_values(self, context: Context) -> Message:
        self.operator(context)
        operation = context.request.message.operation
        asked = operation.values_of("requested-attributes") if operation else []
        names = [n for n in SETTABLE if not asked or n in asked or "all" in asked]
        group = AttributeGroup(
            GroupTag.PRINTER,
            [Attribute(name, T.ADMIN_DEFINE, [OutOfBand(T.ADMIN_DEFINE)]) for name in names],
        )
        return self.service.response(context.request.message, S.SUCCESSFUL_OK, groups=[group])

    async def identify_printer(self, context: Context) -> Message:
        queue = _require(context.queue)
        operation = context.request.message.operation
        actions = [
            v for v in (operation.values_of("identify-actions") if operation else [])
            if isinstance(v, str)
        ]  # fmt: skip
        message = _text(operation.value("message")) if operation else ""
        status = self.service.printers.status(queue.printer) if queue.printer else None
        printer = self.service.config.printer(queue.printer)
        if status is not None and status.can_identify and printer is not None:
            try:
                await asyncio.to_thread(_forward_identify, printer.uri, actions, message)
            except IppClientError as exc:
                raise Refusal(S.SERVER_ERROR_DEVICE_ERROR, f"the printer did not: {exc}") from exc
            return self.service.response(context.request.message, S.SUCCESSFUL_OK)
        if actions and "display" not in actions:
            raise Refusal(
                S.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                "this queue can only display that it was asked to identify itself",
                [Attribute("identify-actions", T.KEYWORD, list(actions))],
            )
        where = "Find-Me queue" if queue.kind is QueueKind.FINDME else f"printer {queue.printer}"
        self.admin.identify(queue.name, message or f"Identify {where} ({context.user} asks)")
        return self.service.response(context.request.message, S.SUCCESSFUL_OK)


def _forward_identify(uri: str, actions: list[str], message: str) -> None:
    attributes: list[Attribute] = []
    if actions:
        attributes.append(Attribute("identify-actions", T.KEYWORD, list(actions)))
    if message:
        attributes.append(Attribute("message", T.TEXT_WITHOUT_LANGUAGE, [message[:127]]))
    with IppClient(uri, timeout=10.0, connect_timeout=3.0) as client:
        client.request(Operation.IDENTIFY_PRINTER, attributes)


def _settable_value(attribute: Attribute) -> str | None:
    """The value to set (``""``: delete it), or None when it cannot be set."""
    if attribute.name not in SETTABLE or len(attribute.values) != 1:
        return None
    value: Any = attribute.value
    if isinstance(value, OutOfBand):
        return "" if value.tag == T.DELETE_ATTRIBUTE else None
    text = _text(value)
    if attribute.name == "printer-geo-location" and text and not text.startswith("geo:"):
        return None
    return text if isinstance(value, str | TextWithLanguage) else None


def _text(value: object) -> str:
    if isinstance(value, TextWithLanguage):
        return value.text
    return value if isinstance(value, str) else ""
