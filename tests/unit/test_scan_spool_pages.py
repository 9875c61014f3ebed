"""The pages a scan's spool lists while the scan is delivered and its folder cleared: a
device asking for its scan then gets no pages, not a server error."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from printwarden.scanning.spool import ScanSpool


def test_pages_of_a_scan_whose_folder_goes_while_they_are_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = ScanSpool(tmp_path / "scans")
    scan_id = str(uuid.uuid4())
    pages = spool.folder(scan_id) / "pages"
    pages.mkdir(parents=True)
    (pages / "0001").write_bytes(b"page")
    (pages / "0002").write_bytes(b"page")
    assert spool.pages(scan_id) == [1, 2]
    listed = Path.iterdir

    def cleared_first(path: Path) -> Iterator[Path]:
        shutil.rmtree(spool.folder(scan_id))  # delivered meanwhile
        return listed(path)

    monkeypatch.setattr(Path, "iterdir", cleared_first)
    assert spool.pages(scan_id) == []
