"""Web Print's renderer on a server: turns each handed-in document into the PDF its provider
will spool, finds what it prints and costs, and rings the provider once it may fetch it.

PDF is taken as it is (checked to open), images, text and PostScript go through the
conversions the provider itself uses (``analysis/``), office documents through warm
LibreOffice workers (:mod:`printwarden.rendering`). One document's failure is that
document's ("Could not render: …"), never the loop's; a loop that dies anyway is restarted
and counted (``stats``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.datastructures import UploadFile

from printwarden.analysis import detect
from printwarden.config import WebPrintConfig
from printwarden.domain.web_print import (
    Kind,
    NotPrintable,
    PrintOptions,
    Rendered,
    Stage,
    WebPrintPolicy,
)
from printwarden.files import private_dir
from printwarden.rendering import RenderFailed, RenderPool, RenderSettings, detect_office
from printwarden.service.provider_control import ProviderUnreachable
from printwarden.service.state import AppState
from printwarden.service.supervised import supervised
from printwarden.store import providers, users, web_prints
from printwarden.store.models import WebPrintRow
from printwarden.usecases import web_print
from printwarden.usecases.errors import Unavailable, UseCaseError
from printwarden.usecases.release import bell_for

log = logging.getLogger("printwarden.web_print")

PREVIEW_PAGES = 3
PREVIEW_DPI = 40
SWEEP_SECONDS = 300.0
UPLOAD_CHUNK = 1 << 20


class WebPrintService:
    """Renders submissions in the background, ``workers`` at a time."""

    def __init__(self, state: AppState, config: WebPrintConfig, directory: Path) -> None:
        self.state, self.config = state, config
        self.directory = private_dir(directory)
        self.pool = RenderPool(
            RenderSettings(
                workers=config.workers,
                max_documents=config.documents_per_worker,
                max_rss_bytes=config.worker_rss_mb * 1024 * 1024,
                timeout_seconds=config.render_timeout_seconds,
                sandbox=config.sandbox,
            ),
            # Outside the server's private directories: LibreOffice runs as another user.
            Path(tempfile.gettempdir()) / "printwarden-rendering",
        )
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []
        self._pool_started = False
        self.counts = {"rendered": 0, "failed": 0, "loop_restarts": 0, "rings_failed": 0}

    def source(self, submission_id: str) -> Path:
        return self.directory / f"{submission_id}.src"

    def document(self, name: str) -> Path:
        return self.directory / name

    async def start(self) -> None:
        """Start the loops; LibreOffice starts with the first office document."""
        for _ in range(self.config.workers):
            self.tasks.append(asyncio.create_task(self._supervised(self._render_loop, "render")))
        self.tasks.append(asyncio.create_task(self._supervised(self._sweep_loop, "sweep")))
        waiting = await anyio.to_thread.run_sync(self._waiting)
        for submission_id in waiting:
            self.queue.put_nowait(submission_id)

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.pool.stop()

    def stats(self) -> dict[str, int]:
        return {**self.counts, **{f"pool_{k}": v for k, v in self.pool.stats().items()}}

    def enqueue(self, submission_id: str) -> None:
        self.queue.put_nowait(submission_id)

    def _waiting(self) -> list[str]:
        with self.state.database.read() as session:
            return web_prints.waiting_to_render(session, limit=10_000)

    def _supervised(
        self, loop: Callable[[], Awaitable[None]], name: str
    ) -> Coroutine[Any, Any, None]:
        return supervised(loop, f"web print {name}", self.counts, log)

    async def _render_loop(self) -> None:
        while True:
            submission_id = await self.queue.get()
            try:
                await self.process(submission_id)
            except Exception as exc:  # this document's failure, never the loop's
                log.exception("web print %s: rendering failed", submission_id)
                await anyio.to_thread.run_sync(
                    self._fail, submission_id, f"internal error ({type(exc).__name__})"
                )

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            if self.state.leadership.leads():  # one App Server process sweeps
                await anyio.to_thread.run_sync(self.sweep)

    def sweep(self) -> int:
        """Remove the documents of submissions past their time; how many."""
        with self.state.database.session() as session:
            rows = web_prints.expired(session, datetime.now(UTC))
            for row in rows:
                self._remove_files(row)
                row.document = ""
                if row.stage in (Stage.READY, Stage.SUBMITTED, Stage.RENDERING):
                    web_prints.set_stage(row, Stage.CANCELED, "not printed in time")
        return len(rows)

    async def process(self, submission_id: str) -> None:
        """Render one submission, record what it prints and costs, and submit it if asked."""
        row = await anyio.to_thread.run_sync(self._load, submission_id)
        if row is None:
            return
        options = PrintOptions.from_json(row.options)
        target = self.directory / f"{submission_id}.pdf"
        try:
            rules = await anyio.to_thread.run_sync(self._policy)
            detected = await self._to_pdf(self.source(submission_id), target, rules)
            rendered = await anyio.to_thread.run_sync(
                self._select_and_analyse, target, options, rules
            )
        except (NotPrintable, RenderFailed) as exc:
            reason = exc.reason if isinstance(exc, RenderFailed) else str(exc)
            target.unlink(missing_ok=True)
            self.source(submission_id).unlink(missing_ok=True)
            await anyio.to_thread.run_sync(self._fail, submission_id, reason)
            return
        self.source(submission_id).unlink(missing_ok=True)
        ring = await anyio.to_thread.run_sync(
            self._rendered, submission_id, target, detected, rendered
        )
        self.counts["rendered"] += 1
        if ring:
            await anyio.to_thread.run_sync(self.ring, ring)

    def _load(self, submission_id: str) -> WebPrintRow | None:
        with self.state.database.read() as session:
            row = web_prints.get(session, submission_id)
            if row is None or row.stage != Stage.RENDERING:
                return None
            session.expunge(row)
            return row

    async def _to_pdf(self, source: Path, target: Path, rules: WebPrintPolicy) -> str:
        """Render ``source`` to PDF at ``target``; the format found."""
        with source.open("rb") as handle:
            head = handle.read(detect.SNIFF_BYTES)
        found = detect.sniff(head) or (detect.TEXT if detect.looks_like_text(head) else "")
        office = None
        if found in ("", detect.ZIP, detect.OLE) or head.startswith(b"{\\rtf"):
            office = await anyio.to_thread.run_sync(detect_office, source)
        kind = _kind(found, office is not None)
        if kind is None:
            raise NotPrintable(_unsupported(found))
        refusal = rules.kind_refusal(kind)
        if refusal:
            raise NotPrintable(refusal)
        if kind is Kind.OFFICE:
            if not self._pool_started:
                self._pool_started = True
                await self.pool.start()
            await self.pool.render(source, target)
            return str(office)
        await anyio.to_thread.run_sync(self._convert, source, target, found)
        return found

    def _policy(self) -> WebPrintPolicy:
        with self.state.database.read() as session:
            return web_print.policy(session)

    def _convert(self, source: Path, target: Path, found: str) -> None:
        from printwarden.service import web_print_documents as documents  # ~40 MB: on use

        documents.convert(source, target, found, self.config.paper)

    def _select_and_analyse(
        self, target: Path, options: PrintOptions, rules: WebPrintPolicy
    ) -> Rendered:
        """Keep the pages asked for, then analyse what will print."""
        from printwarden.service import web_print_documents as documents

        return documents.select_and_analyse(target, options, rules, self.config.paper)

    def _rendered(self, submission_id: str, target: Path, detected: str, rendered: Rendered) -> str:
        """Record the rendered document; the provider to ring ("" if none yet)."""
        digest = _sha256(target)
        with self.state.database.session() as session:
            row = web_prints.get(session, submission_id)
            if row is None or row.stage != Stage.RENDERING:  # canceled meanwhile
                target.unlink(missing_ok=True)
                return ""
            row.detected, row.document = detected[:128], target.name
            row.size, row.sha256 = target.stat().st_size, digest
            row.pages, row.colour_pages = rendered.pages, rendered.colour_pages
            row.paper_size = rendered.paper_size
            row.cost = web_print.estimate(session, row, rendered)
            web_prints.set_stage(row, Stage.SUBMITTED if row.submit else Stage.READY)
            return row.provider if row.submit else ""

    def _fail(self, submission_id: str, reason: str) -> None:
        self.counts["failed"] += 1
        with self.state.database.session() as session:
            row = web_prints.get(session, submission_id)
            if row is not None and row.stage == Stage.RENDERING:
                web_prints.set_stage(row, Stage.FAILED, reason)

    def ring(self, provider_name: str) -> None:
        """Ring the provider's doorbell: it fetches what waits for it. A ring that fails is
        logged; the provider also looks now and then."""
        try:
            with self.state.database.read() as session:
                row = providers.find(session, provider_name)
                if row is None:
                    return
                bell = bell_for(self.state, session, row, "print")
            self.state.providers.ring(bell)
        except (ProviderUnreachable, UseCaseError) as exc:
            self.counts["rings_failed"] += 1
            log.info("web print: ringing %s failed (%s); it will look later", provider_name, exc)

    def taken(self, rows: list[WebPrintRow]) -> None:
        """The provider has these documents (or refused them): their files may go."""
        for row in rows:
            self._remove_files(row)

    def _remove_files(self, row: WebPrintRow) -> None:
        if row.document:
            self.document(row.document).unlink(missing_ok=True)
        for page in range(1, PREVIEW_PAGES + 1):
            self.preview_path(row.id, page).unlink(missing_ok=True)
        self.source(row.id).unlink(missing_ok=True)

    def preview_path(self, submission_id: str, page: int) -> Path:
        return self.directory / f"{submission_id}-{page}.png"

    def preview(self, row: WebPrintRow, page: int) -> Path | None:
        """A small PNG of ``page`` of the rendered document (made once)."""
        if not row.document or not 1 <= page <= min(PREVIEW_PAGES, row.pages or 0):
            return None
        path = self.preview_path(row.id, page)
        if not path.exists():
            from printwarden.service import web_print_documents as documents

            documents.render_preview(self.document(row.document), page, path, PREVIEW_DPI)
        return path


def _kind(found: str, office: bool) -> Kind | None:
    if office:
        return Kind.OFFICE
    if found == detect.PDF:
        return Kind.PDF
    if found in detect.PHOTOS:
        return Kind.IMAGE
    if found == detect.POSTSCRIPT:
        return Kind.POSTSCRIPT
    if found == detect.TEXT:
        return Kind.TEXT
    return None


def _unsupported(found: str) -> str:
    if found in (detect.ZIP, detect.OLE):
        return "not a document Web Print can print (an archive or an unknown office file)"
    if found:
        return f"{found} is not a format Web Print can print"
    return "not a document Web Print can print (its content is not a known format)"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


async def hand_in(
    state: AppState,
    username: str,
    key: str,
    file: UploadFile,
    options: PrintOptions,
    client: str,
    *,
    submit: bool,
    by_printer: bool = False,
) -> WebPrintRow:
    """Take one uploaded document (the API's and the portal's): check the person and the
    queue (``key``, or a printer's with ``by_printer``), record it, keep the file, and queue
    it for rendering; ``submit``: print once rendered (else it waits for its preview)."""
    service = service_of(state)
    row = await anyio.to_thread.run_sync(
        _record, state, username, key, by_printer, file, options, client, submit
    )
    try:
        await save_upload(file, service.source(row.id))
    except BaseException:
        await anyio.to_thread.run_sync(forget, state, row.id)
        raise
    service.enqueue(row.id)
    return row


def _record(
    state: AppState,
    username: str,
    key: str,
    by_printer: bool,
    file: UploadFile,
    options: PrintOptions,
    client: str,
    submit: bool,
) -> WebPrintRow:
    site = web_print.site_of_issuer(state.issuer)
    with state.database.session() as session:
        user = users.find_user(session, username)
        web_print.check_person(session, user, client, web_print.policy(session))
        if by_printer:
            chosen = web_print.queue_of_printer(session, site, key)
        else:
            chosen = web_print.find_queue(session, site, key)
        name, size = upload_name(file.filename), file.size or 0
        row = web_print.begin(session, user, chosen, name, size, options, submit=submit)
        session.expunge(row)
        return row


def service_of(state: AppState) -> WebPrintService:
    """The server's Web Print service (503 while it is not running)."""
    if not isinstance(state.web_print, WebPrintService):
        raise Unavailable("Web Print is not running on this server")
    return state.web_print


async def save_upload(file: UploadFile, target: Path) -> None:
    """Copy an uploaded file to ``target`` (private), a chunk at a time."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := await file.read(UPLOAD_CHUNK):
            out.write(chunk)


def upload_name(filename: str | None) -> str:
    """An uploaded file's own name, without any path or control character a client put in."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if ch.isprintable())[:200] or "document"


def forget(state: AppState, submission_id: str) -> None:
    """Remove a submission whose upload did not arrive whole."""
    with state.database.session() as session:
        row = web_prints.get(session, submission_id)
        if row is not None:
            session.delete(row)
