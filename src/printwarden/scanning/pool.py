"""The bounded pool that turns scans into documents, in the background.

At most ``workers`` scans are processed at once, each in a thread (the work is Ghostscript,
pikepdf, Pillow and an OCRmyPDF child, none of which needs the event loop); the others
wait their turn. OCR applies to PDF and PDF/A only, and is skipped, with a note, for a
scan of more than ``ocr_page_cap`` pages; when OCR fails the document is still made,
without text, and the note says why. A failing scan fails alone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from printwarden.scanning.assemble import Format

log = logging.getLogger(__name__)

OCR_BASE_SECONDS = 60.0
OCR_PAGE_SECONDS = 20.0
"""An OCR run may take 60 s plus 20 s a page (measured: about 0.45 s a page with one
job at 300 dpi on a 2020s x86 core; dense or 600 dpi pages take several times that)."""
OCR_FORMATS: frozenset[Format] = frozenset({"pdf", "pdfa"})


@dataclass(frozen=True)
class ProcessRequest:
    """A scan to make into a document: its checked-in pages, in order, and the choices."""

    pages: tuple[Path, ...]
    fmt: Format
    ocr: bool
    colour: bool
    resolution: int
    out_dir: Path
    base_name: str
    language: str = "eng"


@dataclass(frozen=True)
class ProcessResult:
    """The files written (in order), the number of pages, whether OCR was done and why not."""

    files: tuple[Path, ...]
    pages: int
    ocr_done: bool
    note: str = ""


class ProcessingPool:
    """Scans processed in the background, ``workers`` at a time."""

    def __init__(
        self, workers: int = 2, ocr_page_cap: int = 200, *, ocr_jobs: int | None = None
    ) -> None:
        """``ocr_jobs``: OCRmyPDF processes per scan; by default one per CPU, so that a scan
        alone is as fast as plain ``ocrmypdf`` (several at once share the CPUs)."""
        if workers < 1 or ocr_page_cap < 0:
            raise ValueError("workers must be at least 1 and ocr_page_cap not negative")
        self._workers = workers
        self._page_cap = ocr_page_cap
        self._jobs = ocr_jobs or max(1, os.cpu_count() or 1)
        self._slots = asyncio.Semaphore(workers)
        self._tasks: set[asyncio.Task[ProcessResult]] = set()
        self._closed = False
        self._waiting = 0
        self._in_progress = 0
        self._done = 0
        self._failed = 0

    async def process(self, request: ProcessRequest) -> ProcessResult:
        """Make the document of ``request`` once a worker is free; raises what the
        work raised (:class:`~.pages.BadPage` within an
        :class:`~.assemble.AssemblyError`, ``ValueError``, ``OSError``)."""
        self._check_open()
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        if self._closed:
            self._slots.release()
            self._check_open()
        # From here the slot is the task's: it is released when the work ends, even if
        # this caller stops waiting for it.
        task = asyncio.create_task(self._run(request))
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        return await asyncio.shield(task)

    def stats(self) -> dict[str, int]:
        """Counts for /metrics: scans in progress and waiting now, done and failed so far."""
        return {
            "in_progress": self._in_progress,
            "waiting": self._waiting,
            "done": self._done,
            "failed": self._failed,
        }

    async def aclose(self) -> None:
        """Take no more scans (those still waiting fail) and wait for the running ones."""
        self._closed = True
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _forget(self, task: asyncio.Task[ProcessResult]) -> None:
        """Drop a finished task; its failure counts as seen (its caller may have gone)."""
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the scan processing pool is closed")

    async def _run(self, request: ProcessRequest) -> ProcessResult:
        self._in_progress += 1
        try:
            result = await asyncio.to_thread(produce, request, self._page_cap, self._jobs)
        except Exception as exc:
            self._failed += 1
            log.warning("scan %s failed: %s", request.base_name, exc)
            raise
        finally:
            self._in_progress -= 1
            self._slots.release()
        self._done += 1
        return result


def produce(request: ProcessRequest, page_cap: int, jobs: int) -> ProcessResult:
    """Make the document of ``request`` (blocking): assembly, then OCR where it applies.
    (img2pdf, pikepdf and Pillow load with the first scan, not with the server.)"""
    from printwarden.scanning.assemble import assemble

    pages = len(request.pages)
    ocr, note = ocr_plan(request, page_cap)
    if not ocr:
        files = assemble(
            request.pages,
            request.fmt,
            request.out_dir,
            request.base_name,
            colour=request.colour,
            resolution=request.resolution,
        )
        return ProcessResult(tuple(files), pages, False, note)
    return _with_ocr(request, jobs)


def ocr_plan(request: ProcessRequest, page_cap: int) -> tuple[bool, str]:
    """Whether to OCR ``request``, and the note when it asked for OCR and gets none."""
    if not request.ocr:
        return False, ""
    if request.fmt not in OCR_FORMATS:
        return False, f"OCR not done: it applies to PDF output, not {request.fmt}"
    pages = len(request.pages)
    if pages > page_cap:
        return False, f"OCR skipped: {pages} pages is more than the {page_cap}-page limit"
    return True, ""


def _with_ocr(request: ProcessRequest, jobs: int) -> ProcessResult:
    from printwarden.scanning.assemble import assemble, make_pdfa, output_names, publish_copy
    from printwarden.scanning.ocr import OcrError, ocr_pdf

    pages = len(request.pages)
    target = request.out_dir / output_names(request.fmt, request.base_name, pages)[0]
    with tempfile.TemporaryDirectory(prefix="printwarden-scan-") as work:
        [plain] = assemble(
            request.pages,
            "pdf",
            Path(work),
            "pages",
            colour=request.colour,
            resolution=request.resolution,
        )
        timeout = OCR_BASE_SECONDS + OCR_PAGE_SECONDS * pages
        pdfa = request.fmt == "pdfa"
        try:
            ocr_pdf(plain, target, language=request.language, pdfa=pdfa, jobs=jobs, timeout=timeout)
        except (OcrError, ValueError) as exc:
            log.warning("OCR of scan %s failed: %s", request.base_name, exc)
            if pdfa:
                make_pdfa(plain, target)
            else:
                publish_copy(plain, target)
            return ProcessResult((target,), pages, False, f"OCR failed: {exc}")
    return ProcessResult((target,), pages, True, "")
