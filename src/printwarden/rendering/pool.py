"""The pool of warm workers that renders office documents to PDF for the asyncio server.

``render`` detects the document's real format, waits (bounded in number and time) for an
idle worker, sends it the bytes under the timeout, and writes the PDF. A worker is replaced
after ``max_documents`` documents, above ``max_rss_bytes``, when it times out (its process
group is killed), and when it dies (on a document or idle). After a crash or a conversion
failure the document is tried once more by a one-shot ``soffice --convert-to`` before the
caller is told it could not be rendered.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import logging
import os
import tempfile
import time
from pathlib import Path

from printwarden.rendering import oneshot
from printwarden.rendering.errors import DocumentRefused, RenderFailed
from printwarden.rendering.formats import OfficeType, detect_office_stream
from printwarden.rendering.sandbox import Mode, Sandbox, make_sandbox, remove_tree
from printwarden.rendering.settings import RenderSettings
from printwarden.rendering.worker import (
    ConversionError,
    Worker,
    WorkerCrashed,
    WorkerError,
    WorkerTimedOut,
)

log = logging.getLogger(__name__)

STAT_NAMES = (
    "renders",
    "failures",
    "refused",
    "one_shots",
    "recycled",
    "crashes",
    "timeouts",
    "busy",
    "start_failures",
)
_RESTART_DELAYS = (0.0, 1.0, 2.0, 5.0, 10.0, 30.0)

UNREADABLE = "LibreOffice could not read this document"
UNSUPPORTED = "this is not a Word, Excel, PowerPoint, OpenDocument or RTF document"


class RenderPool:
    """Warm LibreOffice workers behind one ``render`` call; see the module docstring."""

    def __init__(self, settings: RenderSettings, work_dir: Path) -> None:
        self.settings = settings
        self.work_dir = work_dir
        self.sandbox: Sandbox | None = None
        self._counts: collections.Counter[str] = collections.Counter()
        self._idle: asyncio.Queue[Worker | None] = asyncio.Queue()
        self._workers: dict[int, Worker] = {}  # slot -> the slot's current (live) worker
        self._starting: set[Worker] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._start_failures: dict[int, int] = {}
        self._waiting = 0
        self._start_lock = asyncio.Lock()
        self._one_shots = asyncio.Semaphore(max(1, settings.workers))
        self._started = False
        self._stopped = False

    # -- life cycle ---------------------------------------------------------------------

    async def start(self, *, wait: bool = False) -> None:
        """Choose the sandbox and start the workers in the background (``wait``: until each
        has started or failed to). Called by the first ``render`` if not before."""
        async with self._start_lock:
            if self._stopped:
                raise RenderFailed("the rendering service is stopped")
            if not self._started:
                self.sandbox = await make_sandbox(self.settings, self.work_dir)
                log.info(
                    "rendering: %d LibreOffice workers, sandbox %s",
                    self.settings.workers,
                    self.sandbox.mode.value,
                )
                self._started = True
                for slot in range(self.settings.workers):
                    self._spawn(slot)
        if wait:
            await self.wait_ready()

    async def wait_ready(self, timeout: float | None = None) -> None:
        """Until every slot has a live worker (or ``timeout``, default the start timeout)."""
        limit = self.settings.start_timeout_seconds + 10 if timeout is None else timeout
        async with asyncio.timeout(limit):
            while len(self._workers) < self.settings.workers:
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Kill every worker's process group, fail the waiting callers, remove the
        directories. The pool cannot be started again."""
        self._stopped = True
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        workers = [*self._workers.values(), *self._starting]
        self._workers.clear()
        self._starting.clear()
        for worker in workers:
            worker.kill()
        await asyncio.gather(*(worker.close() for worker in workers))
        for _ in range(self._waiting + 1):
            self._idle.put_nowait(None)
        if self.sandbox is not None:
            await asyncio.to_thread(remove_tree, self.sandbox.runtime)

    def stats(self) -> dict[str, int]:
        """Counters for /metrics, and ``workers_alive``."""
        found = {name: self._counts[name] for name in STAT_NAMES}
        found["workers_alive"] = sum(1 for worker in self._workers.values() if worker.alive)
        found["waiting"] = self._waiting
        return found

    def worker_pids(self) -> dict[int, int]:
        """Each slot's live worker: its process group (the host's pid)."""
        return {slot: w.pid for slot, w in self._workers.items() if w.alive}

    def worker_homes(self) -> dict[int, Path]:
        """Each slot's live worker: its private directory."""
        return {slot: w.home for slot, w in self._workers.items() if w.alive}

    @property
    def mode(self) -> Mode | None:
        return None if self.sandbox is None else self.sandbox.mode

    # -- rendering ----------------------------------------------------------------------

    async def render(self, source: Path, dest: Path) -> None:
        """Render the office document at ``source`` to a PDF at ``dest`` (replaced
        atomically), or raise :class:`RenderFailed` with a reason for the user."""
        if not self._started:
            await self.start()
        try:
            data, office = await asyncio.to_thread(self._read, source)
        except DocumentRefused:
            self._counts["refused"] += 1
            raise
        try:
            pdf = await self._render_bytes(data, office)
        except RenderFailed:
            self._counts["failures"] += 1
            raise
        await asyncio.to_thread(_write_atomically, dest, pdf)
        self._counts["renders"] += 1

    def _read(self, source: Path) -> tuple[bytes, OfficeType]:
        try:
            size = source.stat().st_size
            if size > self.settings.max_document_bytes:
                limit = self.settings.max_document_bytes // 1_000_000
                raise DocumentRefused(f"the document is larger than {limit} MB")
            data = source.read_bytes()
        except OSError as exc:
            raise RenderFailed("the document could not be read") from exc
        office = detect_office_stream(io.BytesIO(data), text=self.settings.render_text)
        if office is None:
            raise DocumentRefused(UNSUPPORTED)
        return data, office

    async def _render_bytes(self, data: bytes, office: OfficeType) -> bytes:
        if office.family not in self.settings.warm_families:
            return await self._one_shot(data, office, None)
        worker = await self._checkout()
        timeout = self.settings.timeout_seconds
        try:
            pdf = await worker.convert(data, office.import_filter, timeout)
        except WorkerTimedOut:
            self._counts["timeouts"] += 1
            log.warning("rendering: worker %d timed out on %s; killed", worker.slot, office.name)
            self._replace(worker, "timed out")
            raise RenderFailed(f"rendering took longer than {timeout:g} s") from None
        except WorkerCrashed as exc:
            self._crashed(worker, str(exc))
            return await self._one_shot(data, office, f"the worker crashed ({exc})")
        except ConversionError as exc:
            self._checkin(worker)
            return await self._one_shot(data, office, str(exc))
        except BaseException:
            self._replace(worker, "interrupted")  # cancelled mid-call: its state is unknown
            raise
        worker.documents += 1
        self._checkin(worker)
        return pdf

    async def _one_shot(self, data: bytes, office: OfficeType, why: str | None) -> bytes:
        """``why``: the warm worker's failure this retries, ``None`` for a document that
        goes to a one-shot conversion first (see ``warm_families``)."""
        if self.sandbox is None:
            raise RenderFailed("the rendering service is not started")
        if why is not None and not self.settings.one_shot_retry:
            log.info("rendering: %s failed (%s); no retry", office.name, why)
            raise RenderFailed(UNREADABLE)
        if why is not None:
            log.info("rendering: %s failed on a warm worker (%s); one-shot", office.name, why)
        self._counts["one_shots"] += 1
        async with self._one_shots:
            try:
                return await oneshot.convert_one_shot(
                    self.sandbox, data, office, self.settings.timeout_seconds
                )
            except oneshot.OneShotTimedOut:
                self._counts["timeouts"] += 1
                raise RenderFailed(
                    f"rendering took longer than {self.settings.timeout_seconds:g} s"
                ) from None
            except oneshot.OneShotFailed as exc:
                log.info("rendering: one-shot failed too: %s", exc)
                raise RenderFailed(UNREADABLE) from None

    # -- the idle queue -----------------------------------------------------------------

    async def _checkout(self) -> Worker:
        if self._stopped:
            raise RenderFailed("the rendering service is stopped")
        if self._waiting >= self.settings.queue_limit:
            self._counts["busy"] += 1
            raise RenderFailed("the rendering service is busy")
        self._waiting += 1
        deadline = time.monotonic() + self.settings.queue_timeout_seconds
        try:
            while True:
                try:
                    async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                        worker = await self._idle.get()
                except TimeoutError:
                    self._counts["busy"] += 1
                    raise RenderFailed("the rendering service is busy") from None
                if worker is None or self._stopped:
                    raise RenderFailed("the rendering service is stopped")
                if worker.retired:
                    continue
                if not worker.alive:
                    self._crashed(worker, "died while idle")
                    continue
                return worker
        finally:
            self._waiting -= 1

    def _checkin(self, worker: Worker) -> None:
        if worker.retired or self._stopped:
            return
        if worker.documents >= self.settings.max_documents:
            self._recycle(worker, f"{worker.documents} documents")
            return
        rss = worker.rss()
        if rss > self.settings.max_rss_bytes:
            self._recycle(worker, f"{rss // 1_000_000} MB resident")
            return
        self._idle.put_nowait(worker)

    # -- replacing workers --------------------------------------------------------------

    def _recycle(self, worker: Worker, why: str) -> None:
        self._counts["recycled"] += 1
        log.info("rendering: recycling worker %d (pid %d): %s", worker.slot, worker.pid, why)
        self._replace(worker, why)

    def _crashed(self, worker: Worker, why: str) -> None:
        if worker.retired:
            return
        self._counts["crashes"] += 1
        log.warning("rendering: worker %d (pid %d) crashed: %s", worker.slot, worker.pid, why)
        self._replace(worker, why)

    def _replace(self, worker: Worker, why: str) -> None:
        """Retire ``worker`` (kill its group now, clean up in the background) and start a
        new one in its slot."""
        if worker.retired:
            return
        worker.retired = True
        worker.kill()
        if self._workers.get(worker.slot) is worker:
            del self._workers[worker.slot]
        self._background(worker.close())
        if not self._stopped:
            self._spawn(worker.slot)

    def _spawn(self, slot: int) -> None:
        self._background(self._start_worker(slot))

    def _background(self, coroutine: collections.abc.Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _start_worker(self, slot: int) -> None:
        failures = self._start_failures.get(slot, 0)
        await asyncio.sleep(_RESTART_DELAYS[min(failures, len(_RESTART_DELAYS) - 1)])
        if self._stopped or self.sandbox is None:
            return
        worker = await asyncio.to_thread(Worker, slot, self.sandbox)
        self._starting.add(worker)
        try:
            await worker.start()
        except (WorkerError, OSError) as exc:
            self._counts["start_failures"] += 1
            self._start_failures[slot] = failures + 1
            log.error("rendering: worker %d did not start: %s", slot, exc)
            self._starting.discard(worker)
            worker.retired = True
            await worker.close()
            self._spawn(slot)
            return
        except BaseException:
            self._starting.discard(worker)
            worker.retired = True
            await worker.close()
            raise
        self._starting.discard(worker)
        self._start_failures[slot] = 0
        if self._stopped:
            await worker.close()
            return
        self._workers[slot] = worker
        log.debug("rendering: worker %d started (pid %d)", slot, worker.pid)
        self._idle.put_nowait(worker)
        self._background(self._watch(worker))

    async def _watch(self, worker: Worker) -> None:
        """Replace the worker if its process exits by itself (LibreOffice died)."""
        assert worker.process is not None
        await worker.process.wait()
        if not worker.retired and not self._stopped:
            self._crashed(worker, f"exited with status {worker.process.returncode}")


def _write_atomically(dest: Path, data: bytes) -> None:
    fd, name = tempfile.mkstemp(prefix=".render-", suffix=".pdf", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(name, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
