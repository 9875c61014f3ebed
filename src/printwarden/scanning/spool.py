"""Where a server keeps scans on disk: each scan a folder (0700) named by its id, its pages
``pages/0001`` … written whole and fsync'd before the device hears they arrived, the
finished document in ``out/`` with a manifest written last, so a crash at any point leaves
either the old state or the new one."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

from printwarden.files import fsync_dir

_SCAN_ID = re.compile(r"^(site-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MANIFEST = "manifest.json"


class PageTooLarge(ValueError):
    """A page's body went past the limit; nothing of it was kept."""


def _replace_durably(part: Path, target: Path) -> None:
    os.replace(part, target)
    fsync_dir(target.parent)


class ScanSpool:
    """The scans of one server under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def folder(self, scan_id: str) -> Path:
        if not _SCAN_ID.fullmatch(scan_id):
            raise ValueError(f"not a scan id: {scan_id!r}")
        return self.root / scan_id

    def _pages_dir(self, scan_id: str) -> Path:
        path = self.folder(scan_id) / "pages"
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def page_path(self, scan_id: str, number: int) -> Path:
        return self.folder(scan_id) / "pages" / f"{number:04d}"

    async def write_page(
        self, scan_id: str, number: int, chunks: AsyncIterator[bytes], limit: int
    ) -> int:
        """Keep page ``number`` from ``chunks`` (replacing an earlier upload of it); its
        size. PageTooLarge past ``limit`` bytes. The writes go to the page cache as they
        come; the fsyncs and the rename run in a worker thread, off the event loop."""
        folder = self._pages_dir(scan_id)
        part = folder / f".{number:04d}.part"
        size = 0
        with open(part, "wb") as handle:
            async for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    handle.close()
                    part.unlink(missing_ok=True)
                    raise PageTooLarge(f"a page may be at most {limit} bytes")
                handle.write(chunk)
            handle.flush()
            await asyncio.to_thread(os.fsync, handle.fileno())
        await asyncio.to_thread(_replace_durably, part, folder / f"{number:04d}")
        return size

    def drop_page(self, scan_id: str, number: int) -> None:
        self.page_path(scan_id, number).unlink(missing_ok=True)

    def pages(self, scan_id: str) -> list[int]:
        """The numbers of the pages kept so far, in order."""
        folder = self.folder(scan_id) / "pages"
        try:  # not "is_dir, then list": a delivered scan's folder may go in between
            names = [p.name for p in folder.iterdir()]
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(int(name) for name in names if name.isdigit())

    def page_paths(self, scan_id: str, count: int) -> list[Path]:
        return [self.page_path(scan_id, n) for n in range(1, count + 1)]

    def out_dir(self, scan_id: str) -> Path:
        """An empty folder for the document (what an interrupted run left is cleared)."""
        path = self.folder(scan_id) / "out"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir(mode=0o700, parents=True)
        return path

    def keep_document(self, scan_id: str, files: list[Path]) -> None:
        """Record the finished document's files (the manifest is written last, fsync'd)."""
        out = self.folder(scan_id) / "out"
        manifest = out / MANIFEST
        part = out / f".{MANIFEST}.part"
        part.write_text(json.dumps([f.name for f in files]), encoding="utf-8")
        with open(part, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(part, manifest)
        fsync_dir(out)

    def document(self, scan_id: str) -> list[Path] | None:
        """The finished document's files, None until it is made."""
        out = self.folder(scan_id) / "out"
        try:
            names = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        files = [out / str(name) for name in names]
        return files if all(f.is_file() for f in files) else None

    def remove(self, scan_id: str) -> None:
        shutil.rmtree(self.folder(scan_id), ignore_errors=True)

    def pages_size(self, scan_id: str) -> int:
        folder = self.folder(scan_id) / "pages"
        return sum(p.stat().st_size for p in folder.iterdir()) if folder.is_dir() else 0
