"""Integrated Scanning on a server: the scans it took are processed and delivered here, with
retries and back-off per destination, and each person told how their scan ended.

One supervised loop (woken when a scan is finished, else every ``sweep_seconds``): it marks
scans never finished as abandoned, makes each received scan's document (once: kept with a
manifest, so a restart does not redo it), delivers it, and sends the notices. A failure is
that scan's, never the loop's. State lives in the ``scans`` table and the scan spool, both
durable before a device hears "done", so a server killed at any point picks up where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import smtplib
import tempfile
import weakref
import zipfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from fastapi.concurrency import run_in_threadpool
from starlette.background import BackgroundTask

from printwarden.config import ScanFolderConfig, ScanningConfig
from printwarden.domain.scanning import (
    ABANDON_AFTER,
    DOWNLOAD_FOR,
    Destination,
    file_stem,
    next_attempt,
)
from printwarden.mail.settings import SmarthostSettings, smarthost_at
from printwarden.mail.smarthost import Smarthost, read_credentials
from printwarden.scanning import mail as mails
from printwarden.scanning.destinations import (
    DeliveryError,
    Document,
    LocalFolder,
    parse_target,
)
from printwarden.scanning.destinations import (
    Destination as Target,
)
from printwarden.scanning.escl import EsclClient, EsclError, EsclSettings
from printwarden.scanning.pages import SUFFIXES, sniff
from printwarden.scanning.pool import ProcessingPool, ProcessRequest
from printwarden.scanning.spool import ScanSpool
from printwarden.service.problems import Problem
from printwarden.service.state import AppState
from printwarden.service.supervised import supervised
from printwarden.store import printers, scans
from printwarden.store.db import utc
from printwarden.store.models import DeviceRow, ScanRow
from printwarden.usecases import scanning

log = logging.getLogger("printwarden.scanning")
T = TypeVar("T")
HOURS = int(DOWNLOAD_FOR.total_seconds() // 3600)


@dataclass(frozen=True, slots=True)
class Download:
    """A file to send for a download link, and what to do once it is sent."""

    path: Path
    name: str
    media_type: str
    cleanup: BackgroundTask | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """What delivering one scan needs, read from its row."""

    scan_id: str
    username: str
    email: str
    device: str
    action: str
    destination: dict[str, Any]
    options: dict[str, Any]
    pages: int
    attempts: int
    received_at: datetime
    created_at: datetime


async def start_scanning(state: AppState, config: ScanningConfig, root: Path) -> ScanService:
    """Start delivering this server's scans (the App Server's start-up, and a Site
    Server's); ``state.scans`` is the service until :meth:`ScanService.stop`."""
    service = ScanService(state, config, root)
    await service.start()
    state.scans = service
    return service


class ScanService:
    """The scans of one server (HQ, or a Site Server's local app)."""

    def __init__(self, state: AppState, config: ScanningConfig, root: Path) -> None:
        self.state, self.config = state, config
        self.spool = ScanSpool(root)
        self.pool = ProcessingPool(config.workers, config.ocr_page_cap)
        self.smarthost = _smarthost(state, config)
        self.counts = {"received": 0, "delivered": 0, "failed": 0, "abandoned": 0,
                       "retries": 0, "notices_sent": 0, "loop_restarts": 0}  # fmt: skip
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._scanners: set[asyncio.Task[None]] = set()
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._delivering: set[str] = set()  # scans a delivery task has now
        self._deliveries: set[asyncio.Task[None]] = set()
        # A scan's pages against its finish; a lock lives while someone holds or waits for it.
        self._page_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )

    async def start(self) -> None:
        self._event_loop = asyncio.get_running_loop()
        task = supervised(self._loop, "scan delivery", self.counts, log)
        self._tasks = [asyncio.create_task(task)]

    async def stop(self) -> None:
        self.state.scans = None
        tasks = [*self._tasks, *self._scanners, *self._deliveries]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.pool.aclose()

    def wake(self) -> None:
        """A scan was received: deliver it now rather than at the next sweep (from any
        thread)."""
        if self._event_loop is not None and not self._event_loop.is_closed():
            self._event_loop.call_soon_threadsafe(self._wake.set)

    def stats(self) -> dict[str, int]:
        pool = {f"pool_{k}": v for k, v in self.pool.stats().items()}
        return {**self.counts, **pool, "scanners_running": len(self._scanners),
                "delivering": len(self._delivering)}  # fmt: skip

    def page_lock(self, scan_id: str) -> asyncio.Lock:
        """Held while a page of ``scan_id`` is written and while it is finished, so that no
        page changes under a finish (in this process: a scan's calls reach the server that
        took it)."""
        lock = self._page_locks.get(scan_id)
        if lock is None:
            lock = asyncio.Lock()
            self._page_locks[scan_id] = lock
        return lock

    # --- the loop --------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.sweep_seconds)
            self._wake.clear()
            if self.state.leadership.leads():  # one App Server process delivers
                await self.sweep()

    async def sweep(self) -> None:
        """One round: abandoned scans, due deliveries, notices, expired files."""
        for scan_id in await self._db(_stale):
            await self._each(scan_id, self._abandon_stale)
        for job in await self._db(_due):
            if job.scan_id not in self._delivering:  # not one a task delivers already
                self._start_delivery(job)
        for scan_id in await self._db(_notices):
            await self._each(scan_id, self._notify)
        for scan_id in await self._db(_links_over):
            await run_in_threadpool(self.spool.remove, scan_id)
            await self._db(_link_gone, scan_id)

    def _start_delivery(self, job: Job) -> None:
        """Deliver ``job`` in a task of its own: scans are made and sent side by side (the
        pool bounds how many are made at once), and the loop goes on meanwhile."""
        self._delivering.add(job.scan_id)

        async def deliver() -> None:
            try:
                await self._each(job.scan_id, self._deliver, job)
            finally:
                self._delivering.discard(job.scan_id)

        task = asyncio.create_task(deliver())
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _each(self, scan_id: str, step: Callable[..., Any], *args: Any) -> None:
        try:  # one scan's failure is that scan's, never the loop's
            await step(*args) if args else await step(scan_id)
        except Exception:
            log.exception("scan %s: %s failed", scan_id, step.__name__)

    async def _db(self, work: Callable[..., T], *args: Any) -> T:
        def run() -> T:
            with self.state.database.session() as session:
                return work(session, *args)

        return await run_in_threadpool(run)

    # --- delivery --------------------------------------------------------------------------

    async def _deliver(self, job: Job) -> None:
        files = await run_in_threadpool(self.spool.document, job.scan_id)
        if files is None:
            try:
                files = await self._make_document(job)
            except Exception as exc:  # the pages cannot be made into the document
                await self._db(_fail, job.scan_id, f"could not make the document: {exc}")
                self.counts["failed"] += 1
                return
        try:
            where = await run_in_threadpool(self._send, job, files)
        except DeliveryError as exc:
            await self._failed_attempt(job, str(exc), temporary=exc.temporary)
            return
        except Exception as exc:  # a fault of ours (a credentials file gone): tried again
            log.exception("scan %s: delivery failed", job.scan_id)
            await self._failed_attempt(job, f"delivery failed: {exc}", temporary=True)
            return
        if not await self._db(_delivered, job.scan_id, where):  # no download link to serve
            await run_in_threadpool(self.spool.remove, job.scan_id)
        self.counts["delivered"] += 1
        log.info("scan %s of %s delivered: %s", job.scan_id, job.username, where)

    async def _make_document(self, job: Job) -> list[Path]:
        options = job.options
        out = await run_in_threadpool(self.spool.out_dir, job.scan_id)
        stem = file_stem(str(options["file_name"]), job.created_at, job.username)
        request = ProcessRequest(
            pages=tuple(self.spool.page_paths(job.scan_id, job.pages)),
            fmt=str(options["format"]),  # type: ignore[arg-type]
            ocr=bool(options["ocr"]),
            colour=bool(options["colour"]),
            resolution=int(options["resolution"]),
            out_dir=out,
            base_name=stem,
            language=self.config.ocr_language,
        )
        result = await self.pool.process(request)
        files = list(result.files)
        await run_in_threadpool(self.spool.keep_document, job.scan_id, files)
        if result.note:
            log.info("scan %s: %s", job.scan_id, result.note)
        return files

    async def _failed_attempt(self, job: Job, why: str, *, temporary: bool) -> None:
        now = datetime.now(UTC)
        again = next_attempt(job.received_at, job.attempts + 1, now) if temporary else None
        if again is None:
            await self._db(_fail, job.scan_id, why)
            self.counts["failed"] += 1
            log.warning("scan %s of %s not delivered: %s", job.scan_id, job.username, why)
            return
        await self._db(_retry_at, job.scan_id, again, why)
        self.counts["retries"] += 1
        log.info("scan %s: delivery failed (%s); next try at %s", job.scan_id, why, again)

    def _send(self, job: Job, files: list[Path]) -> str:
        """Deliver (blocking; in a worker thread); where it went, or DeliveryError."""
        names = [f.name for f in files]
        kind = job.destination.get("kind")
        if kind == Destination.EMAIL:
            return self._email_document(job, files, names)
        target = self._target(job)
        return target.deliver(Document(tuple(files), tuple(names)), tag=job.scan_id[-6:])

    def _target(self, job: Job) -> Target:
        if job.destination.get("kind") == Destination.HOME:
            if not self.config.home:
                raise DeliveryError(
                    "no home folders are configured on this server", temporary=False
                )
            text = self.config.home.replace("{username}", job.username)
            return folder_target(ScanFolderConfig(target=text,
                                 credentials_file=self.config.home_credentials_file))  # fmt: skip
        name = str(job.destination.get("folder", ""))
        found = self.config.folders.get(name)
        if found is None:
            raise DeliveryError(f"no shared folder {name!r} is configured here", temporary=False)
        return folder_target(found)

    def _email_document(self, job: Job, files: list[Path], names: list[str]) -> str:
        if not job.email:
            raise DeliveryError(f"{job.username} has no email address", temporary=False)
        mail = self._mail(job)
        size = sum(f.stat().st_size for f in files)
        if size > self.config.max_attachment_bytes:
            self._keep_link(job.scan_id)
            message = mails.link_mail(mail, self.link(job.scan_id), size, HOURS)
            self._smtp(message, job.email)
            return f"a download link mailed to {job.email} ({size} bytes)"
        self._smtp(mails.document_mail(mail, files, names), job.email)
        return f"mailed to {job.email}"

    def _keep_link(self, scan_id: str) -> None:
        with self.state.database.session() as session:
            row = scans.find(session, scan_id)
            row.download_until = datetime.now(UTC) + DOWNLOAD_FOR

    def _smtp(self, message: Any, recipient: str) -> None:
        if self.smarthost is None:
            raise DeliveryError("no smarthost is configured on this server", temporary=False)
        try:
            self.smarthost.send(message, recipient)
        except smtplib.SMTPResponseException as exc:
            permanent = 500 <= exc.smtp_code < 600
            raise DeliveryError(
                f"the smarthost said {exc.smtp_code}", temporary=not permanent
            ) from None
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryError(f"the smarthost refused {recipient}", temporary=False) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(f"the smarthost is unreachable ({exc})", temporary=True) from None

    def _mail(self, job: Job) -> mails.ScanMail:
        domain = self.state.settings.mail.domain or "printwarden.invalid"
        return mails.ScanMail(
            scan_id=job.scan_id,
            sender=self.config.mail_from or f"printwarden@{domain}",
            recipient=job.email,
            device=job.device,
            action=job.action,
            pages=job.pages,
            domain=domain,
        )

    def link(self, scan_id: str) -> str:
        """The scan's download link on this server."""
        base = self.config.public_url or self.state.settings.mail.public_url
        if not base:
            base = f"http://{self.state.settings.host}:{self.state.settings.port}"
        key = scanning.download_key(self.state.secret, scan_id)
        return f"{base.rstrip('/')}/scans/{scan_id}/{key}"

    def download(self, scan_id: str) -> Download:
        """The file a download link gives (blocking): the document, or a zip of its files
        or, if it could not be made, of the pages."""
        files = self.spool.document(scan_id)
        if files is not None and len(files) == 1:
            kind = mimetypes.guess_type(files[0].name)[0] or "application/octet-stream"
            return Download(files[0], files[0].name, kind)
        if files is None:
            pages = self.spool.pages(scan_id)
            files = [self.spool.page_path(scan_id, n) for n in pages]
            names = [f"page-{n:04d}{SUFFIXES[sniff(p)]}" for n, p in zip(pages, files, strict=True)]
        else:
            names = [f.name for f in files]
        if not files:
            raise Problem(404, "Not Found", "nothing of this scan is left")
        handle = tempfile.NamedTemporaryFile(suffix=".zip", delete=False)  # noqa: SIM115
        with handle, zipfile.ZipFile(handle, "w") as archive:
            for path, name in zip(files, names, strict=True):
                archive.write(path, name)
        zipped = Path(handle.name)
        return Download(zipped, f"scan-{scan_id[-6:]}.zip", "application/zip",
                        BackgroundTask(zipped.unlink, missing_ok=True))  # fmt: skip

    # --- notices ---------------------------------------------------------------------------

    async def _notify(self, scan_id: str) -> None:
        job, stage, detail, where = await self._db(_notice_of, scan_id)
        if not job.email:  # nobody to mail: the portal's "My scans" says it
            await self._db(_noticed, scan_id)
            return
        mail = self._mail(job)
        if stage == "delivered":
            message = mails.delivered_mail(mail, where)
        elif stage == "failed":
            message = mails.failed_mail(mail, detail, self.link(scan_id), HOURS)
        else:
            message = mails.abandoned_mail(mail, detail)
        try:
            await run_in_threadpool(self._smtp, message, job.email)
        except DeliveryError as exc:
            if exc.temporary:
                log.info("scan %s: notice not sent yet (%s)", scan_id, exc)
                return
            log.warning("scan %s: notice refused (%s); the portal shows it", scan_id, exc)
            await self._db(_noticed, scan_id, "refused")
            return
        await self._db(_noticed, scan_id)
        self.counts["notices_sent"] += 1

    async def _abandon_stale(self, scan_id: str) -> None:
        await self.abandon(scan_id, "no more pages arrived")

    async def abandon(self, scan_id: str, why: str) -> None:
        """A scan that will never be finished: nothing charged, its pages dropped, its owner
        told why."""
        await self._db(_abandon, scan_id, why)
        await run_in_threadpool(self.spool.remove, scan_id)
        self.counts["abandoned"] += 1

    # --- scanners driven by the server (eSCL) ----------------------------------------------

    def drive(self, scan_id: str, device: DeviceRow, options: dict[str, Any]) -> None:
        """Fetch the scan's pages from ``device``'s eSCL scanner in the background, then
        finish it (charged) or abandon it (the person is told why). From any thread."""
        settings = EsclSettings(
            source="feeder",
            colour=bool(options["colour"]),
            resolution=int(options["resolution"]),
            duplex=bool(options["duplex"]),
        )
        assert self._event_loop is not None, "start() the service first"
        self._event_loop.call_soon_threadsafe(
            self._spawn, scan_id, device.escl_url, device.name, settings
        )

    def _spawn(self, scan_id: str, url: str, device: str, settings: EsclSettings) -> None:
        task = asyncio.create_task(self._drive(scan_id, url, device, settings))
        self._scanners.add(task)
        task.add_done_callback(self._scanners.discard)

    async def _drive(self, scan_id: str, url: str, device: str, settings: EsclSettings) -> None:
        limits = await self._db(scanning.scan_settings)
        count = 0
        try:
            async with (
                EsclClient(url) as client,
                contextlib.aclosing(
                    client.scan(
                        settings, max_pages=limits.max_pages, max_page_bytes=limits.max_page_bytes
                    )
                ) as pages,
            ):
                async for page in pages:
                    count += 1
                    await self.spool.write_page(scan_id, count, _once(page.data), len(page.data))
        except (EsclError, OSError) as exc:
            log.warning("scan %s at %s: %s", scan_id, device, exc)
            await self.abandon(scan_id, f"the scanner failed: {exc}")
            return
        if count == 0:
            await self.abandon(scan_id, "the scanner's feeder was empty")
            return
        await self._db(_finish_escl, scan_id, count)
        self.counts["received"] += 1
        self.wake()


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


def folder_target(config: ScanFolderConfig) -> Target:
    """A configured folder as a destination: an SMB share or a local path; DeliveryError
    (not temporary) when the configuration names neither."""
    try:
        found = parse_target(config.target)
    except ValueError as exc:
        raise DeliveryError(str(exc), temporary=False) from None
    if found.kind == "local":
        return LocalFolder(Path(found.location))
    credentials = SmarthostSettings(credentials_file=config.credentials_file)
    username, password = read_credentials(credentials) or ("", "")
    from printwarden.scanning.smb_folder import SmbFolder  # smbprotocol: with the first share

    return SmbFolder(found.location, username=username, password=password, port=found.port)


def _smarthost(state: AppState, config: ScanningConfig) -> Smarthost | None:
    text = config.smarthost or state.settings.mail.smarthost
    if not text:
        return None
    mail = state.settings.mail
    return Smarthost(
        smarthost_at(
            text,
            config.smarthost_starttls or mail.smarthost_starttls,
            config.smarthost_credentials_file or mail.smarthost_credentials_file,
        )
    )


# --- the database steps (each in one transaction) ------------------------------------------


def _job(row: ScanRow) -> Job:
    return Job(
        scan_id=row.id,
        username=row.username,
        email=row.email,
        device=row.device,
        action=row.action,
        destination=dict(row.destination),
        options=dict(row.options),
        pages=row.pages,
        attempts=row.attempts,
        received_at=utc(row.received_at or row.created_at),
        created_at=utc(row.created_at),
    )


def _stale(session: Any) -> list[str]:
    return [row.id for row in scans.stale(session, datetime.now(UTC) - ABANDON_AFTER)]


def _due(session: Any) -> list[Job]:
    return [_job(row) for row in scans.due(session, datetime.now(UTC))]


def _notices(session: Any) -> list[str]:
    return [row.id for row in scans.notices_due(session)]


def _links_over(session: Any) -> list[str]:
    return [row.id for row in scans.links_over(session, datetime.now(UTC))]


def _link_gone(session: Any, scan_id: str) -> None:
    scans.find(session, scan_id).download_until = None


def _fail(session: Any, scan_id: str, why: str) -> None:
    scanning.failed(scans.find(session, scan_id), why, datetime.now(UTC))


def _retry_at(session: Any, scan_id: str, at: datetime, why: str) -> None:
    row = scans.find(session, scan_id)
    row.attempts, row.next_attempt_at, row.detail = row.attempts + 1, at, why


def _delivered(session: Any, scan_id: str, where: str) -> bool:
    """Mark it delivered; whether its files are still needed (a download link)."""
    row = scans.find(session, scan_id)
    scanning.delivered(row, where)
    if row.destination.get("kind") != Destination.EMAIL:
        row.notice = "pending"
    return row.download_until is not None


def _notice_of(session: Any, scan_id: str) -> tuple[Job, str, str, str]:
    row = scans.find(session, scan_id)
    return _job(row), row.stage, row.detail, row.delivered_to


def _noticed(session: Any, scan_id: str, how: str = "sent") -> None:
    scans.find(session, scan_id).notice = how


def _abandon(session: Any, scan_id: str, why: str) -> None:
    row = scans.find(session, scan_id)
    if row.stage == "scanning":
        scanning.abandon(row, why)


def _finish_escl(session: Any, scan_id: str, pages: int) -> None:
    row = scans.find(session, scan_id)
    scanning.finish(session, row, pages, printers.find_device(session, row.device))
