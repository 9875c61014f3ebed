"""The rendering pool with real LibreOffice: formats and page counts, concurrency,
recycling, a worker killed or hung mid-render, the sandbox, and a clean stop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pikepdf
import pytest

from printwarden.rendering import DocumentRefused, RenderFailed, RenderPool, RenderSettings
from printwarden.rendering.sandbox import Mode, group_pids, group_rss
from printwarden.testing import office_corpus

TIMEOUT = 6.0


@pytest.fixture(scope="module")
def corpus() -> office_corpus.Corpus:
    return office_corpus.build()


@pytest.fixture(scope="module")
def runner() -> Iterator[asyncio.Runner]:
    with asyncio.Runner() as runner:
        yield runner


def _pool(runner: asyncio.Runner, work: Path, **settings: object) -> Iterator[RenderPool]:
    pool = RenderPool(RenderSettings(**settings), work)  # type: ignore[arg-type]
    runner.run(pool.start(wait=True))
    try:
        yield pool
    finally:
        runner.run(pool.stop())


@pytest.fixture(scope="module")
def pool(runner: asyncio.Runner, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RenderPool]:
    yield from _pool(runner, tmp_path_factory.mktemp("render"), workers=2, timeout_seconds=20)


@pytest.fixture(scope="module")
def single(
    runner: asyncio.Runner, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RenderPool]:
    """One worker, recycled every 3 documents, a short timeout."""
    yield from _pool(
        runner,
        tmp_path_factory.mktemp("single"),
        workers=1,
        max_documents=3,
        timeout_seconds=TIMEOUT,
    )


def _pages(path: Path) -> int:
    with pikepdf.open(path) as pdf:
        return len(pdf.pages)


def _soffice(pgid: int) -> int:
    for pid in group_pids(pgid):
        if Path(f"/proc/{pid}/comm").read_text().strip() == "soffice.bin":
            return pid
    raise AssertionError(f"no soffice.bin in process group {pgid}")


@pytest.mark.parametrize(
    "name", ["docx-4", "xlsx-2", "xls-2", "ods-2", "pptx-3", "odt-3", "rtf-2", "doc-2", "ppt-3"]
)
def test_renders_with_the_expected_pages(
    runner: asyncio.Runner,
    pool: RenderPool,
    corpus: office_corpus.Corpus,
    tmp_path: Path,
    name: str,
) -> None:
    dest = tmp_path / "out.pdf"
    runner.run(pool.render(corpus.path(name), dest))
    assert _pages(dest) == corpus.pages(name)


SPREADSHEETS = ("xlsx-2", "xls-2", "ods-2")


def test_spreadsheets_render_on_a_warm_worker_after_its_warm_up(
    runner: asyncio.Runner,
    corpus: office_corpus.Corpus,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # One worker, so every spreadsheet surely lands on it: the same process group from
    # start to end (LibreOffice never crashed), and no one-shot conversion.
    caplog.set_level(logging.DEBUG, logger="printwarden.rendering.worker")
    assert "calc" in RenderSettings().warm_families
    pool = RenderPool(RenderSettings(workers=1, timeout_seconds=20), tmp_path / "work")

    async def render_all() -> tuple[dict[str, int], int, int, dict[str, int]]:
        await pool.start(wait=True)
        try:
            fresh = pool.stats()
            before = pool.worker_pids()[0]
            for name in SPREADSHEETS:
                await pool.render(corpus.path(name), tmp_path / f"{name}.pdf")
            return fresh, before, pool.worker_pids()[0], pool.stats()
        finally:
            await pool.stop()

    fresh, before, after, stats = runner.run(render_all())
    assert "warmed up in" in caplog.text  # the worker converted its warm-up documents ...
    assert fresh["renders"] == fresh["one_shots"] == 0  # ... and they are not renders
    assert after == before
    assert stats["renders"] == len(SPREADSHEETS)
    assert stats["one_shots"] == stats["crashes"] == stats["failures"] == 0
    for name in SPREADSHEETS:
        assert _pages(tmp_path / f"{name}.pdf") == corpus.pages(name)


def test_concurrent_renders_share_two_workers(
    runner: asyncio.Runner, pool: RenderPool, corpus: office_corpus.Corpus, tmp_path: Path
) -> None:
    names = ["docx-10", "pptx-3", "docx-4", "odt-3", "docx-10", "rtf-2", "pptx-3", "docx-4"]
    before = pool.stats()

    async def all_of_them() -> None:
        await asyncio.gather(
            *(
                pool.render(corpus.path(name), tmp_path / f"{index}.pdf")
                for index, name in enumerate(names)
            )
        )

    runner.run(all_of_them())
    for index, name in enumerate(names):
        assert _pages(tmp_path / f"{index}.pdf") == corpus.pages(name)
    stats = pool.stats()
    assert stats["renders"] == before["renders"] + len(names)
    assert stats["workers_alive"] == 2
    assert stats["one_shots"] == before["one_shots"]


def test_worker_memory_is_its_whole_group(pool: RenderPool) -> None:
    # rss() reads the members it found once; it must agree with a full scan of the group.
    for worker in pool._workers.values():
        first, again = worker.rss(), worker.rss()
        full = group_rss(worker.pid)
        assert len(group_pids(worker.pid)) >= 2  # the host and LibreOffice
        assert first > 100_000_000
        assert abs(again - full) < 0.1 * full


def test_refuses_what_is_no_office_document(
    runner: asyncio.Runner, pool: RenderPool, tmp_path: Path
) -> None:
    pdf = tmp_path / "a.docx"
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    with pytest.raises(DocumentRefused, match="not a Word, Excel"):
        runner.run(pool.render(pdf, tmp_path / "out.pdf"))
    program = tmp_path / "b.docx"
    program.write_bytes(Path("/bin/true").read_bytes())
    with pytest.raises(DocumentRefused, match="program"):
        runner.run(pool.render(program, tmp_path / "out.pdf"))
    assert not (tmp_path / "out.pdf").exists()


def test_an_unreadable_document_fails_cleanly(
    runner: asyncio.Runner, pool: RenderPool, corpus: office_corpus.Corpus, tmp_path: Path
) -> None:
    # A real docx container whose main part is garbage: detected as docx, unreadable.
    broken = tmp_path / "broken.docx"
    with (
        zipfile.ZipFile(corpus.path("docx-4")) as source,
        zipfile.ZipFile(broken, "w") as target,
    ):
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item, b"\x00garbage" if item.filename == "word/document.xml" else data)
    before = pool.stats()

    async def attempt() -> RenderFailed | None:
        try:
            await pool.render(broken, tmp_path / "out.pdf")
        except RenderFailed as failed:
            return failed
        return None

    failed = runner.run(attempt())
    assert failed is not None
    assert failed.reason == "LibreOffice could not read this document"
    stats = pool.stats()
    assert stats["failures"] == before["failures"] + 1
    assert stats["one_shots"] == before["one_shots"] + 1
    assert not (tmp_path / "out.pdf").exists()
    runner.run(pool.wait_ready())
    assert pool.stats()["workers_alive"] == 2


@pytest.mark.skipif(os.geteuid() != 0, reason="the uid drop needs root")
def test_workers_are_sandboxed(pool: RenderPool) -> None:
    assert pool.mode is Mode.ROOT
    ours = os.readlink("/proc/self/ns/net")
    for pgid in pool.worker_pids().values():
        for pid in (pgid, _soffice(pgid)):
            status = Path(f"/proc/{pid}/status").read_text()
            uid_line = next(line for line in status.splitlines() if line.startswith("Uid:"))
            assert uid_line.split()[1:] == ["65534"] * 4
            assert os.readlink(f"/proc/{pid}/ns/net") != ours
            limits = Path(f"/proc/{pid}/limits").read_text()
            address = next(line for line in limits.splitlines() if "address space" in line)
            assert str(RenderSettings().memory_limit_bytes) in address


def test_recycled_after_max_documents(
    runner: asyncio.Runner, single: RenderPool, corpus: office_corpus.Corpus, tmp_path: Path
) -> None:
    runner.run(single.wait_ready())
    first = single.worker_pids()[0]
    recycled = single.stats()["recycled"]
    for index in range(3):
        runner.run(single.render(corpus.path("docx-4"), tmp_path / f"{index}.pdf"))
    runner.run(single.wait_ready())
    assert single.stats()["recycled"] == recycled + 1
    assert single.worker_pids()[0] != first
    assert group_pids(first) == []


def test_worker_killed_mid_render_retries_one_shot(
    runner: asyncio.Runner, single: RenderPool, corpus: office_corpus.Corpus, tmp_path: Path
) -> None:
    runner.run(single.wait_ready())
    pgid = single.worker_pids()[0]
    soffice = _soffice(pgid)
    before = single.stats()

    async def render_and_kill() -> None:
        os.kill(soffice, signal.SIGSTOP)  # so that the render is surely in flight
        task = asyncio.create_task(single.render(corpus.path("docx-10"), tmp_path / "out.pdf"))
        await asyncio.sleep(0.5)
        os.kill(soffice, signal.SIGKILL)
        await task

    runner.run(render_and_kill())
    assert _pages(tmp_path / "out.pdf") == 10
    stats = single.stats()
    assert stats["crashes"] == before["crashes"] + 1
    assert stats["one_shots"] == before["one_shots"] + 1
    runner.run(single.wait_ready())
    assert single.worker_pids()[0] != pgid
    assert group_pids(pgid) == []


def test_a_hung_render_times_out_and_the_worker_is_killed(
    runner: asyncio.Runner, single: RenderPool, corpus: office_corpus.Corpus, tmp_path: Path
) -> None:
    runner.run(single.wait_ready())
    pgid = single.worker_pids()[0]
    os.kill(_soffice(pgid), signal.SIGSTOP)
    timeouts = single.stats()["timeouts"]
    started = time.monotonic()
    with pytest.raises(RenderFailed, match=f"longer than {TIMEOUT:g} s"):
        runner.run(single.render(corpus.path("docx-4"), tmp_path / "out.pdf"))
    assert time.monotonic() - started < TIMEOUT + 3
    assert single.stats()["timeouts"] == timeouts + 1
    runner.run(asyncio.sleep(0.2))
    assert group_pids(pgid) == []
    runner.run(single.wait_ready())
    assert single.worker_pids()[0] != pgid
    runner.run(single.render(corpus.path("docx-4"), tmp_path / "again.pdf"))
    assert _pages(tmp_path / "again.pdf") == 4


def test_busy_when_the_queue_is_full(
    runner: asyncio.Runner, corpus: office_corpus.Corpus, tmp_path: Path
) -> None:
    pool = RenderPool(RenderSettings(workers=1, queue_limit=1), tmp_path / "work")

    async def flood() -> list[BaseException | None]:
        await pool.start(wait=True)
        try:
            calls = [
                pool.render(corpus.path("docx-10"), tmp_path / f"{index}.pdf") for index in range(4)
            ]
            return await asyncio.gather(*calls, return_exceptions=True)
        finally:
            await pool.stop()

    results = runner.run(flood())
    busy = [r for r in results if isinstance(r, RenderFailed)]
    assert busy
    assert all(r.reason == "the rendering service is busy" for r in busy)
    assert any(r is None for r in results)


def test_stop_leaves_nothing_behind(
    runner: asyncio.Runner, corpus: office_corpus.Corpus, tmp_path: Path
) -> None:
    work = tmp_path / "work"
    pool = RenderPool(RenderSettings(workers=2), work)
    runner.run(pool.start(wait=True))
    runner.run(pool.render(corpus.path("docx-4"), tmp_path / "out.pdf"))
    pgids = list(pool.worker_pids().values())
    homes = list(pool.worker_homes().values())
    assert len(pgids) == 2
    assert pool.sandbox is not None
    runtime = pool.sandbox.runtime
    runner.run(pool.stop())
    assert all(group_pids(pgid) == [] for pgid in pgids)
    assert not any(home.exists() for home in homes)
    assert not runtime.exists()
    assert pool.stats()["workers_alive"] == 0
    with pytest.raises(RenderFailed, match="stopped"):
        runner.run(pool.render(corpus.path("docx-4"), tmp_path / "out.pdf"))
