"""The IPP operations of the Print Provider (RFC 8011), on top of the spool and the desk."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from printwarden.analysis import detect
from printwarden.domain import imposition
from printwarden.domain.job_states import Phase
from printwarden.provider import attributes as attrs
from printwarden.provider import connection_logins, ipp_notify, job_template, queue_description
from printwarden.provider import identity as ident
from printwarden.provider import submission_checks as checks
from printwarden.provider.admission import Admissions
from printwarden.provider.config import ProviderConfig, QueueConfig, QueueKind
from printwarden.provider.desk import (
    NOT_AUTHORIZED,
    NOT_FORMAT,
    NOT_FOUND,
    Desk,
    DeskError,
    Submission,
)
from printwarden.provider.http import HttpAuthRequired, IppRequest, queue_from_path
from printwarden.provider.identity import Need, Requester
from printwarden.provider.ipp import (
    Attribute,
    AttributeGroup,
    GroupTag,
    Message,
    Operation,
    Resolution,
    StatusCode,
    TextWithLanguage,
)
from printwarden.provider.ipp import ValueTag as T
from printwarden.provider.printer_watch import PrinterWatch
from printwarden.provider.queue_admin import HELD_NEW_JOBS
from printwarden.provider.queue_services import QueueServices
from printwarden.provider.service_client import Login
from printwarden.provider.spool import TERMINAL_STATES, DocumentWriter, Job, Spool
from printwarden.provider.submitters import CannotTell, SubmitterRefused, Submitters

S = StatusCode
SUPPORTED_CHARSETS = frozenset({"utf-8", "us-ascii"})
NOT_COMPLETED = (3, 4, 5, 6)
DESK_STATUS = {
    NOT_FOUND: S.CLIENT_ERROR_NOT_FOUND,
    NOT_AUTHORIZED: S.CLIENT_ERROR_NOT_AUTHORIZED,
    NOT_FORMAT: S.CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED,
}
TEMPLATE_NAMES = frozenset(
    {
        "copies",
        "sides",
        "media",
        "media-col",
        "print-color-mode",
        "print-quality",
        "job-hold-until",
        "orientation-requested",
        "printer-resolution",
        "finishings",
        "output-bin",
        "multiple-document-handling",
        "job-account-id",
        *job_template.NAMES,
    }
)
# which-jobs (RFC 8011, PWG 5100.11) → the job-states it lists (None: all).
WHICH_JOBS: dict[str, tuple[int, ...] | None] = {
    "not-completed": NOT_COMPLETED,
    "completed": tuple(sorted(TERMINAL_STATES)),
    "all": None,
    "aborted": (8,),
    "canceled": (7,),
    "pending": (3,),
    "pending-held": (4,),
    "processing": (5,),
    "processing-stopped": (6,),
    "proof-print": (),  # the provider makes no proof prints: never a job of this kind
}


class Refusal(Exception):
    """An IPP error answer."""

    def __init__(
        self, status: int, message: str, unsupported: list[Attribute] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.unsupported = status, message, unsupported or []


# (username, password, client address) -> who, or None; may raise HttpThrottled.
Authenticator = Callable[[str, str, str], Login | None]
# Job attributes only the job's owner and administrators see (CUPS' JobPrivateValues).
PRIVATE_JOB_VALUES = frozenset({"job-name", "job-originating-user-name"})
SUBMITTING = frozenset({Operation.PRINT_JOB, Operation.CREATE_JOB, Operation.VALIDATE_JOB})


@dataclass
class Context:
    """One request being answered."""

    request: IppRequest
    queue: QueueConfig | None
    printer_uri: str
    user: str
    authenticated: bool
    admin: bool = False  # a password login of a server administrator

    @property
    def requester(self) -> Requester:
        return Requester(self.user, self.authenticated, self.admin)


class IppService:
    """Answers IPP requests for every queue of a provider."""

    def __init__(
        self,
        config: ProviderConfig,
        spool: Spool,
        desk: Desk,
        authenticate: Authenticator | None = None,
        printers: PrinterWatch | None = None,
        submitters: Submitters | None = None,
        services: QueueServices | None = None,
    ) -> None:
        self.config, self.spool, self.desk = config, spool, desk
        self.authenticate = authenticate
        # Passwords checked at the server, and those a connection's earlier request had.
        self.password_checks = {"asked": 0, "remembered": 0}
        self.submitters = submitters  # None: every user name is taken (no server to ask)
        self.printers = printers or PrinterWatch(config)
        self.services = services or QueueServices.create(config, spool, self.printers)
        self.admissions = Admissions(desk)  # new jobs, group-committed
        self.handlers: dict[int, Callable[[Context], Awaitable[Message]]] = {
            Operation.PRINT_JOB: self.print_job,
            Operation.VALIDATE_JOB: self.validate_job,
            Operation.CREATE_JOB: self.create_job,
            Operation.SEND_DOCUMENT: self.send_document,
            Operation.CANCEL_JOB: self.cancel_job,
            Operation.GET_JOB_ATTRIBUTES: self.get_job_attributes,
            Operation.GET_JOBS: self.get_jobs,
            Operation.GET_PRINTER_ATTRIBUTES: self.get_printer_attributes,
            Operation.HOLD_JOB: self.hold_job,
            Operation.RELEASE_JOB: self.release_job,
            Operation.CANCEL_MY_JOBS: self.cancel_my_jobs,
            Operation.CLOSE_JOB: self.close_job,
        }

    def add_operations(self, handlers: dict[int, Callable[[Context], Awaitable[Message]]]) -> None:
        """More operations (``provider/ipp_*_ops.py``); operations-supported lists them."""
        self.handlers.update(handlers)

    # --- entry -----------------------------------------------------------------------------

    async def handle(self, request: IppRequest) -> Message:
        message = request.message
        try:
            context = await self._context(request)
            handler = self.handlers.get(message.code)
            if handler is None:
                raise Refusal(S.SERVER_ERROR_OPERATION_NOT_SUPPORTED, "operation not supported")
            return await handler(context)
        except Refusal as refusal:
            return self.response(message, refusal.status, refusal.message, refusal.unsupported)
        except DeskError as exc:
            status = DESK_STATUS.get(exc.reason, S.CLIENT_ERROR_NOT_POSSIBLE)
            return self.response(message, status, exc.message)

    def error_response(
        self, status: int, detail: str, request_id: int = 0, version: tuple[int, int] = (2, 0)
    ) -> Message:
        return self.response(
            Message(code=0, request_id=request_id, version=version), status, detail
        )

    def response(
        self,
        request: Message,
        status: int,
        message: str = "",
        unsupported: list[Attribute] | None = None,
        groups: Iterable[AttributeGroup] = (),
    ) -> Message:
        operation = [
            attrs.a("attributes-charset", T.CHARSET, "utf-8"),
            attrs.a("attributes-natural-language", T.NATURAL_LANGUAGE, "en"),
        ]
        if message:
            operation.append(attrs.a("status-message", T.TEXT_WITHOUT_LANGUAGE, message[:255]))
        all_groups = [AttributeGroup(GroupTag.OPERATION, operation)]
        if unsupported:
            all_groups.append(AttributeGroup(GroupTag.UNSUPPORTED, unsupported))
        all_groups.extend(groups)
        version = request.version if request.version[0] in (1, 2) else (1, 1)
        return Message(
            code=status, request_id=request.request_id, groups=all_groups, version=version
        )

    async def _context(self, request: IppRequest) -> Context:
        message = request.message
        operation = _check_operation_group(message)
        uri = _string(operation.get("printer-uri")) or _string(operation.get("job-uri"))
        if not uri:
            raise Refusal(S.CLIENT_ERROR_BAD_REQUEST, "printer-uri or job-uri is required")
        queue = self._queue(request.queue or _queue_from_uri(uri))
        path = attrs_path(queue.name) if queue else "/ipp/print"
        printer_uri = f"{_scheme(request)}://{request.host}{path}"
        who = await self._identify(request, queue)
        return Context(request, queue, printer_uri, who.user, who.authenticated, who.admin)

    def _queue(self, name: str) -> QueueConfig | None:
        """The queue a request names; None for the server as a whole (all queues)."""
        if not name:
            return self.config.queues[0] if len(self.config.queues) == 1 else None
        queue = self.config.queue(name)
        if queue is None:
            raise Refusal(S.CLIENT_ERROR_NOT_FOUND, f"no queue named {name!r}")
        return queue

    async def _identify(self, request: IppRequest, queue: QueueConfig | None) -> Requester:
        """Who sent the request, under its queue's identity policy (``provider/identity.py``)."""
        token = ident.path_token(request.path)
        plan = ident.plan(
            queue.identity if queue else None,
            secure=ident.secure_channel(request.tls, request.client, self.config.loopback_is_local),
            password=request.basic_auth is not None and self.authenticate is not None,
            token=bool(token),
            reads_printer=request.message.code == Operation.GET_PRINTER_ATTRIBUTES,
            queue=queue.name if queue else "",
        )
        if plan.need is Need.REFUSED:
            raise Refusal(S.CLIENT_ERROR_NOT_AUTHORIZED, plan.why)
        if plan.need is Need.NOT_AUTHENTICATED:  # the probe of a phone or a Mac: "use ipps"
            raise Refusal(S.CLIENT_ERROR_NOT_AUTHENTICATED, plan.why)
        if plan.need is Need.CHALLENGE:
            raise HttpAuthRequired()
        if plan.need is Need.PASSWORD:
            return await self._password(request)
        if plan.need is Need.TOKEN:
            return await self._token(token)
        operation = request.message.operation
        claimed = _string(operation.get("requesting-user-name")) if operation else ""
        return Requester(claimed or "anonymous")

    async def _password(self, request: IppRequest) -> Requester:
        assert request.basic_auth is not None
        assert self.authenticate is not None
        user, password = request.basic_auth
        now = time.monotonic()
        login = connection_logins.recall(request.connection, user, password, now)
        if login is not None:
            self.password_checks["remembered"] += 1
            return Requester(login.username, authenticated=True, admin=login.admin)
        self.password_checks["asked"] += 1
        login = await asyncio.to_thread(self.authenticate, user, password, request.client)
        if login is None:
            raise HttpAuthRequired()
        connection_logins.remember(request.connection, user, password, login, now)
        return Requester(login.username, authenticated=True, admin=login.admin)

    async def _token(self, token: str) -> Requester:
        if self.submitters is None or not ident.well_formed(token):
            raise Refusal(S.CLIENT_ERROR_NOT_AUTHORIZED, "this print URL is not valid")
        try:
            user = await asyncio.to_thread(self.submitters.token_user, token)
        except SubmitterRefused as exc:
            raise Refusal(S.CLIENT_ERROR_NOT_AUTHORIZED, str(exc)) from None
        except CannotTell as exc:
            raise Refusal(S.SERVER_ERROR_SERVICE_UNAVAILABLE, str(exc)) from None
        return Requester(user, authenticated=True)

    async def _check_submitter(self, context: Context) -> None:
        """Refuse a job from a user the server does not know, before anything is spooled
        (a user who logged in, or whose print URL it is, is known already)."""
        if context.authenticated or self.submitters is None:
            return
        if self.submitters.remembered(context.user):  # most jobs: no thread, no question
            return
        try:
            await asyncio.to_thread(self.submitters.check_user, context.user)
        except SubmitterRefused as exc:
            raise Refusal(S.CLIENT_ERROR_NOT_AUTHORIZED, str(exc)) from None

    # --- printer operations ---------------------------------------------------------------

    async def get_printer_attributes(self, context: Context) -> Message:
        requested = _requested(context.request.message)
        operation = context.request.message.operation
        document_format = _string(operation.get("document-format")) if operation else ""
        queue = _require(context.queue)
        everything = self.queue_attributes(queue, context.printer_uri, document_format)
        chosen = _select(everything, requested)
        group = AttributeGroup(GroupTag.PRINTER, chosen)
        return self.response(context.request.message, S.SUCCESSFUL_OK, groups=[group])

    def queue_attributes(
        self, queue: QueueConfig, printer_uri: str, document_format: str = ""
    ) -> list[Attribute]:
        """Every printer attribute of ``queue`` reached at ``printer_uri`` (what
        Get-Printer-Attributes answers; DNS-SD adverts repeat part of it)."""
        queued = self.spool.count(states=NOT_COMPLETED)
        printer = self.config.printer(queue.printer)
        capabilities = self.printers.get(queue.printer)
        if printer is not None and capabilities is not None:
            printer = capabilities.printer_config(printer)
        if printer is None and queue.kind is QueueKind.FINDME:
            printer = queue_description.any_printer(self.config, self.printers.all())
        uuid = attrs.new_printer_uuid(self.config.name, queue.name)
        formats = checks.advertised(self.printers, queue)
        view = self.queue_view(queue, printer_uri, formats, printer, document_format)
        return attrs.printer_attributes(
            queue,
            printer,
            printer_uri,
            queued,
            uuid,
            self.config.max_document_bytes,
            formats=formats,
            extras=queue_description.describe(view),
        )

    def queue_view(
        self,
        queue: QueueConfig,
        printer_uri: str,
        formats: list[str],
        printer: Any,
        document_format: str = "",
    ) -> queue_description.QueueView:
        """What ``queue`` is now, for its description."""
        state, changed = self.services.states.current(queue.name)
        media = list(printer.media) if printer is not None else ["iso_a4_210x297mm"]
        return queue_description.QueueView(
            queue=queue,
            printer_uri=printer_uri,
            admin=self.services.admin.get(queue.name),
            state=state,
            state_changed=changed,
            status=self.printers.status(queue.printer) if queue.printer else None,
            formats=formats,
            media=media,
            operations=list(self.handlers),
            document_format=document_format,
            raster=queue_description.raster_of(queue, self.config, self.printers.get),
        )

    async def validate_job(self, context: Context) -> Message:
        await self._check_submitter(context)
        status, unsupported, _ = self._job_template(context)
        return self.response(context.request.message, status, unsupported=unsupported)

    async def print_job(self, context: Context) -> Message:
        status, unsupported, submission = self._job_template(context)
        await self._check_submitter(context)
        writer = await self._document(context, submission.document_format)
        job = await self.admissions.accept(submission, writer)
        return self._new_job_answer(context, status, unsupported, job)

    async def create_job(self, context: Context) -> Message:
        status, unsupported, submission = self._job_template(context)
        await self._check_submitter(context)
        job = await self.admissions.accept(submission, None)
        return self._new_job_answer(context, status, unsupported, job)

    def _new_job_answer(
        self, context: Context, status: int, unsupported: list[Attribute], job: Job
    ) -> Message:
        """The answer to a job creation: the job, and the subscriptions its request asked
        for (made before the job's job-created event, so that they see it)."""
        requests = ipp_notify.requests_in(context.request.message)
        groups, refused = ipp_notify.subscribe_all(
            self.services.notifier.store, requests, owner=context.user, queue=job.queue,
            now=time.time(), job_id=job.id,
        )  # fmt: skip
        self.services.notifier.job_created(job)
        answer = self._job_answer(context, status, unsupported, job)
        answer.groups.extend(groups)
        if refused and answer.code == S.SUCCESSFUL_OK:
            answer.code = ipp_notify.SUCCESSFUL_OK_IGNORED_SUBSCRIPTIONS
        return answer

    async def send_document(self, context: Context) -> Message:
        job = self._owned_job(context)
        operation = context.request.message.operation
        assert operation is not None
        last = operation.get("last-document")
        if last is None or not isinstance(last.value, bool):
            raise Refusal(S.CLIENT_ERROR_BAD_REQUEST, "last-document is required")
        document_format = _string(operation.get("document-format")) or job.format
        self._check_format(_require(context.queue), document_format)
        writer = await self._document(context, document_format)
        if writer.size == 0 and job.document is not None:  # no data: it only closes the job
            writer.discard()
            job = await asyncio.to_thread(self.desk.close, job) if last.value else job
            return self._job_answer(context, S.SUCCESSFUL_OK, [], job)
        name = _string(operation.get("document-name"))
        job = await asyncio.to_thread(
            functools.partial(self.desk.attach, last=last.value, document_name=name),
            job, writer, document_format,
        )  # fmt: skip
        return self._job_answer(context, S.SUCCESSFUL_OK, [], job)

    async def _document(self, context: Context, document_format: str) -> DocumentWriter:
        """The request's document, streamed into the spool; refused (and nothing kept) when
        it is larger than ``max_document_bytes`` — at once if the request says its size — or
        when its first bytes show a format its queue cannot deliver (``octet-stream`` is
        sniffed; magic bytes win over a declared type), before it is accepted."""
        limit = self.config.max_document_bytes
        declared = context.request.document_size
        if declared is not None and declared > limit:
            raise _too_large(limit)
        writer = self.spool.new_document()
        head = b""
        try:
            async for chunk in context.request.body:
                if len(head) < detect.SNIFF_BYTES:
                    head += chunk[: detect.SNIFF_BYTES - len(head)]
                    if len(head) == detect.SNIFF_BYTES:
                        self._check_content(context, head, document_format)
                writer.write(chunk)
                if writer.size > limit:
                    raise _too_large(limit)
            if len(head) < detect.SNIFF_BYTES:
                self._check_content(context, head, document_format)
        except BaseException:
            writer.discard()
            raise
        return writer

    async def close_job(self, context: Context) -> Message:
        job = self._owned_job(context)
        job = await asyncio.to_thread(self.desk.close, job)
        return self._job_answer(context, S.SUCCESSFUL_OK, [], job)

    def _job_answer(
        self, context: Context, status: int, unsupported: list[Attribute], job: Job
    ) -> Message:
        summary = attrs.job_summary(job, _queue_uri(context, job))
        group = AttributeGroup(GroupTag.JOB, summary)
        return self.response(
            context.request.message, status, unsupported=unsupported, groups=[group]
        )

    def _job_template(self, context: Context) -> tuple[int, list[Attribute], Submission]:
        message = context.request.message
        operation = message.operation
        assert operation is not None
        document_format = _string(operation.get("document-format")) or "application/octet-stream"
        queue = _require(context.queue)
        admin = self.services.admin.get(queue.name)
        if not admin.accepting or admin.shutdown:
            refusal = f"queue {queue.name} is not accepting jobs"
            raise Refusal(S.SERVER_ERROR_NOT_ACCEPTING_JOBS, refusal)
        self._check_format(queue, document_format)
        compression = _string(operation.get("compression")) or "none"
        if compression != "none":
            raise Refusal(
                S.CLIENT_ERROR_COMPRESSION_NOT_SUPPORTED,
                f"compression {compression!r} is not supported",
                [attrs.a("compression", T.KEYWORD, compression)],
            )
        template, unsupported = self._template_values(message)
        unsupported += _unlayable(template, document_format, message)
        held_new = admin.hold_new_jobs and queue.kind is QueueKind.DIRECT
        if held_new and template.get("job-hold-until", "no-hold") == "no-hold":
            template[HELD_NEW_JOBS] = True
        self._check_media(queue, template, message)
        fidelity = operation.get("ipp-attribute-fidelity")
        if unsupported and fidelity is not None and fidelity.value is True:
            raise Refusal(
                S.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                "unsupported attributes or values",
                unsupported,
            )
        status = (
            S.SUCCESSFUL_OK_IGNORED_OR_SUBSTITUTED_ATTRIBUTES if unsupported else S.SUCCESSFUL_OK
        )
        name = _string(operation.get("job-name")) or _string(operation.get("document-name"))
        submission = Submission(
            queue=queue,
            user=context.user,
            authenticated=context.authenticated,
            name=name[:255],
            document_format=document_format,
            attributes=template,
            hold=template.get("job-hold-until", "no-hold") != "no-hold" or held_new,
        )
        return status, unsupported, submission

    def _check_format(self, queue: QueueConfig, document_format: str) -> None:
        """Refuse a declared format the queue cannot deliver (octet-stream: sniffed later)."""
        refusal = checks.declared_format_refusal(self.printers, queue, document_format)
        if refusal:
            raise Refusal(
                S.CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED,
                refusal,
                [attrs.a("document-format", T.MIME_MEDIA_TYPE, document_format[:255])],
            )

    def _check_content(self, context: Context, head: bytes, document_format: str) -> None:
        """Refuse a document whose first bytes are of a format its queue cannot deliver."""
        refusal = checks.content_refusal(
            self.printers, _require(context.queue), head, document_format
        )
        if refusal:
            raise Refusal(
                S.CLIENT_ERROR_DOCUMENT_FORMAT_NOT_SUPPORTED,
                refusal,
                [attrs.a("document-format", T.MIME_MEDIA_TYPE, document_format[:255])],
            )

    def _check_media(self, queue: QueueConfig, template: dict[str, Any], message: Message) -> None:
        """Refuse paper the queue does not offer (unless it fits jobs to its own paper);
        keep the media a ``media-col`` names as the job's ``media``."""
        media = checks.requested_media(message, template)
        if media:
            template["media"] = media
        refusal = checks.media_refusal(self.printers, queue, media)
        if refusal:
            asked = message.get("media") or message.get("media-col")
            raise Refusal(
                S.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                refusal,
                [asked] if asked is not None else [],
            )

    def _template_values(self, message: Message) -> tuple[dict[str, Any], list[Attribute]]:
        template: dict[str, Any] = {}
        unsupported: list[Attribute] = []
        job_group = message.job
        sources = [g for g in (message.operation, job_group) if g is not None]
        for group in sources:
            for attribute in group.attributes:
                if attribute.name not in TEMPLATE_NAMES:
                    continue
                if attribute.name in job_template.NAMES:
                    value = job_template.parse(attribute)
                    if value is None:
                        unsupported.append(attribute)
                    else:
                        template[attribute.name] = value
                    continue
                value = _plain(attribute)
                if _acceptable(attribute.name, value):
                    template[attribute.name] = value
                else:
                    unsupported.append(attribute)
        return template, unsupported

    # --- job operations -------------------------------------------------------------------

    def _job_id(self, context: Context) -> int:
        operation = context.request.message.operation
        assert operation is not None
        job_id = operation.get("job-id")
        if job_id is not None and isinstance(job_id.value, int):
            return job_id.value
        job_uri = _string(operation.get("job-uri"))
        tail = job_uri.rsplit("/", 1)[-1] if job_uri else ""
        if tail.isdigit():
            return int(tail)
        raise Refusal(S.CLIENT_ERROR_BAD_REQUEST, "job-id or job-uri is required")

    def _find_job(self, context: Context) -> Job:
        job = self.spool.get(self._job_id(context))
        if job is None or (context.queue is not None and job.queue != context.queue.name):
            raise Refusal(S.CLIENT_ERROR_NOT_FOUND, "no such job")
        return job

    def _owned_job(self, context: Context, *, admin_too: bool = False) -> Job:
        job = self._find_job(context)
        if job.user != context.user and not (admin_too and context.admin):
            raise Refusal(S.CLIENT_ERROR_NOT_AUTHORIZED, "this job belongs to another user")
        return job

    def _job_view(self, context: Context, job: Job) -> list[Attribute]:
        """A job's attributes as this requester may see them: another user's job without
        its name and owner, except to administrators."""
        everything = attrs.job_attributes(job, _queue_uri(context, job))
        if context.requester.sees(job.user):
            return everything
        return [a for a in everything if a.name not in PRIVATE_JOB_VALUES]

    async def get_job_attributes(self, context: Context) -> Message:
        job = self._find_job(context)
        requested = _requested(context.request.message)
        chosen = _select(self._job_view(context, job), requested)
        group = AttributeGroup(GroupTag.JOB, chosen)
        return self.response(context.request.message, S.SUCCESSFUL_OK, groups=[group])

    async def get_jobs(self, context: Context) -> Message:
        operation = context.request.message.operation
        assert operation is not None
        which = _string(operation.get("which-jobs")) or "not-completed"
        if which not in WHICH_JOBS:
            raise Refusal(
                S.CLIENT_ERROR_ATTRIBUTES_OR_VALUES_NOT_SUPPORTED,
                f"which-jobs {which!r}",
                [attrs.a("which-jobs", T.KEYWORD, which)],
            )
        my_jobs = operation.get("my-jobs")
        user = context.user if my_jobs is not None and my_jobs.value is True else None
        limit_attribute = operation.get("limit")
        limit = (
            limit_attribute.value
            if limit_attribute and isinstance(limit_attribute.value, int)
            else None
        )
        states = WHICH_JOBS[which]
        waiting = which in ("not-completed", "pending", "pending-held", "processing")
        jobs = [] if states == () else self.spool.jobs(
            queue=context.queue.name if context.queue else None,
            user=user,
            states=states,
            newest_first=not waiting,
            limit=limit,
        )  # fmt: skip
        requested = _requested(context.request.message) or ["job-uri", "job-id"]
        groups = [
            AttributeGroup(
                GroupTag.JOB,
                _select(self._job_view(context, job), requested),
            )
            for job in jobs
        ]
        return self.response(context.request.message, S.SUCCESSFUL_OK, groups=groups)

    async def cancel_job(self, context: Context) -> Message:
        job = self._owned_job(context, admin_too=True)
        if job.terminal:
            raise Refusal(S.CLIENT_ERROR_NOT_POSSIBLE, f"job {job.id} is already finished")
        await asyncio.to_thread(self.desk.cancel, job)
        return self.response(context.request.message, S.SUCCESSFUL_OK)

    async def cancel_my_jobs(self, context: Context) -> Message:
        queue = context.queue.name if context.queue else None
        jobs = self.spool.jobs(queue=queue, user=context.user, states=NOT_COMPLETED)
        for job in jobs:
            try:
                await asyncio.to_thread(self.desk.cancel, job)
            except DeskError:
                continue
        return self.response(context.request.message, S.SUCCESSFUL_OK)

    async def hold_job(self, context: Context) -> Message:
        job = self._owned_job(context)
        await asyncio.to_thread(self.desk.hold, job)
        return self.response(context.request.message, S.SUCCESSFUL_OK)

    async def release_job(self, context: Context) -> Message:
        """Release-Job: by its owner on a direct queue (a job held with job-hold-until) or
        on a hold or Find-Me queue that allows it (``ipp_release``); by an administrator
        anywhere. Otherwise a held job is released where its person is seen: at a device, a
        release station, the web portal. There its owner may lift only the hold they asked
        for themselves (job-hold-until, Hold-Job): the job then waits for release as any."""
        job = self._owned_job(context, admin_too=True)
        queue = self.config.queue(job.queue)
        releasing_held = queue is None or queue.kind is not QueueKind.DIRECT
        if releasing_held and not context.admin and not (queue and queue.ipp_release):
            if not _held_by_its_owner(job):
                raise Refusal(
                    S.CLIENT_ERROR_NOT_AUTHORIZED,
                    f"jobs of queue {job.queue!r} are released at a printer's device, a "
                    "release station or the web portal",
                )
            unheld = {k: v for k, v in job.attributes.items() if k != "job-hold-until"}
            await asyncio.to_thread(self.spool.update, job.id, attributes=unheld)
            return self.response(context.request.message, S.SUCCESSFUL_OK)
        await asyncio.to_thread(self.desk.release, job)
        return self.response(context.request.message, S.SUCCESSFUL_OK)


def _held_by_its_owner(job: Job) -> bool:
    """Whether the job carries a hold its owner asked for (job-hold-until, Hold-Job)."""
    until = job.attributes.get("job-hold-until")
    return job.phase in (Phase.HELD, Phase.INCOMING) and bool(until) and until != "no-hold"


def _too_large(limit: int) -> Refusal:
    return Refusal(
        S.CLIENT_ERROR_REQUEST_ENTITY_TOO_LARGE, f"a document may be at most {limit} bytes"
    )


def attrs_path(queue: str) -> str:
    return f"/ipp/print/{queue}"


def _queue_uri(context: Context, job: Job) -> str:
    """The URI of the queue a job was printed to (not the URI the request used)."""
    return f"{_scheme(context.request)}://{context.request.host}{attrs_path(job.queue)}"


def _scheme(request: IppRequest) -> str:
    return "ipps" if request.tls else "ipp"


def _require(queue: QueueConfig | None) -> QueueConfig:
    if queue is None:
        raise Refusal(S.CLIENT_ERROR_NOT_FOUND, "name a queue: ipp://host/ipp/print/<queue>")
    return queue


def _queue_from_uri(uri: str) -> str:
    try:
        path = urlsplit(uri).path
    except ValueError:  # e.g. "ipp://[oops/": an unparsable host
        raise Refusal(S.CLIENT_ERROR_BAD_REQUEST, f"{uri[:100]!r} is not a valid URI") from None
    return queue_from_path(path) or ""


def _check_operation_group(message: Message) -> AttributeGroup:
    if message.request_id <= 0:
        raise Refusal(S.CLIENT_ERROR_BAD_REQUEST, "request-id must be positive")
    if not message.groups or message.groups[0].tag != GroupTag.OPERATION:
        raise Refusal(S.CLIENT_ERROR_BAD_REQUEST, "the operation attributes group must come first")
    operation = message.groups[0]
    names = [attribute.name for attribute in operation.attributes]
    if names[:2] != ["attributes-charset", "attributes-natural-language"]:
        raise Refusal(
            S.CLIENT_ERROR_BAD_REQUEST,
            "attributes-charset and attributes-natural-language must come first",
        )
    charset = _string(operation.get("attributes-charset")).lower()
    if charset not in SUPPORTED_CHARSETS:
        raise Refusal(
            S.CLIENT_ERROR_CHARSET_NOT_SUPPORTED,
            f"charset {charset!r} is not supported",
            [attrs.a("attributes-charset", T.CHARSET, charset)],
        )
    return operation


def _string(attribute: Attribute | None) -> str:
    if attribute is None:
        return ""
    value = attribute.value
    if isinstance(value, TextWithLanguage):
        return value.text
    return value if isinstance(value, str) else ""


def _plain(attribute: Attribute) -> Any:
    value = attribute.value
    if isinstance(value, TextWithLanguage):
        return value.text
    if attribute.name == "media-col":
        return "media-col"
    if isinstance(value, Resolution):
        return f"{value.x}x{value.y}{'dpi' if value.units == 3 else 'dpcm'}"
    if isinstance(value, str | int):
        return value
    # Out-of-band, octetString, dateTime, ranges, collections: nothing the spool can store
    # (its attributes are JSON) for these Job Template attributes; they are unsupported.
    return None


ACCEPTED_VALUES: dict[str, frozenset[Any]] = {
    "sides": frozenset({"one-sided", "two-sided-long-edge", "two-sided-short-edge"}),
    "print-color-mode": frozenset({"auto", "color", "monochrome"}),
    "job-hold-until": frozenset({"no-hold", "indefinite"}),
    "print-quality": frozenset({3, 4, 5}),
    "orientation-requested": frozenset({3, 4, 5, 6}),
    "finishings": frozenset({3}),
    "output-bin": frozenset({"face-down"}),
}


def _acceptable(name: str, value: Any) -> bool:
    if name == "copies":
        return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 999
    if name in (
        "media",
        "media-col",
        "job-account-id",
        "printer-resolution",
        "multiple-document-handling",
    ):
        return value is not None
    allowed = ACCEPTED_VALUES.get(name)
    return allowed is None or value in allowed


def _unlayable(template: dict[str, Any], document_format: str, message: Message) -> list[Attribute]:
    """Page ranges, number-up and overrides asked for a declared format that cannot be laid
    out (raster, PCL): ignored, and reported unsupported."""
    declared = detect.normalize(document_format)
    if declared == "application/octet-stream" or imposition.layable(declared):
        return []
    dropped = []
    for name in sorted(job_template.LAYOUT_NAMES & template.keys()):
        if name == "number-up" and template[name] == 1:
            continue
        asked = message.get(name)
        if asked is not None:
            dropped.append(asked)
        del template[name]
    return dropped


def _requested(message: Message) -> list[str]:
    operation = message.operation
    attribute = operation.get("requested-attributes") if operation else None
    if attribute is None:
        return []
    return [v for v in attribute.values if isinstance(v, str)]


def _select(everything: list[Attribute], requested: list[str]) -> list[Attribute]:
    if not requested or "all" in requested:
        return everything
    wanted = set(requested)
    if wanted & {"printer-description", "job-template", "job-description", "job-status"}:
        return everything
    return [attribute for attribute in everything if attribute.name in wanted]
