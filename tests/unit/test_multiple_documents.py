"""Jobs of several documents in the real spool and desk: added one by one, closed, kept
across a restart, timed out, and every document deleted when the job ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from printwarden.domain.job_states import Phase
from printwarden.provider.config import ProviderConfig
from printwarden.provider.desk import Desk, DeskError, Submission
from printwarden.provider.spool import INLINE_MAX, Spool, more_documents

CONFIG = ProviderConfig.model_validate(
    {
        "printers": [{"name": "laser", "uri": "file:///nowhere"}],
        "queues": [{"name": "direct", "printer": "laser"}],
    }
)


def desk_in(folder: Path) -> Desk:
    return Desk(CONFIG, Spool(folder))


def created(desk: Desk) -> int:
    submission = Submission(
        queue=CONFIG.queues[0], user="alice", authenticated=False, name="two",
        document_format="application/pdf", attributes={},
    )  # fmt: skip
    return desk.accept(submission, None).id


def send(desk: Desk, job_id: int, data: bytes, *, last: bool, fmt: str = "application/pdf") -> None:
    writer = desk.spool.new_document()
    writer.write(data)
    desk.attach(desk.find(job_id), writer, fmt, last=last)


def stored(spool: Spool) -> set[str]:
    """Every document the spool keeps: files, a job's first in its row, further ones in
    the ``documents`` table."""
    names = {p.name for p in spool.docs.iterdir()}
    rows = spool._db.execute(
        "SELECT name FROM documents UNION SELECT document FROM jobs WHERE document_data NOT NULL"
    ).fetchall()
    return names | {row[0] for row in rows}


def test_documents_are_added_until_the_last_and_kept_across_a_restart(tmp_path: Path) -> None:
    desk = desk_in(tmp_path)
    job_id = created(desk)
    send(desk, job_id, b"%PDF-small", last=False)
    send(desk, job_id, b"%PDF-big" + b"x" * INLINE_MAX, last=False)  # a file in docs/
    job = desk.find(job_id)
    assert job.phase is Phase.INCOMING
    assert len(more_documents(job)) == 1
    desk.spool.close()
    desk = desk_in(tmp_path)  # restart: orphan clean-up keeps both documents
    send(desk, job_id, b"%PDF-third", last=True)
    job = desk.find(job_id)
    assert job.phase is Phase.QUEUED
    paths = desk.spool.document_paths(job)
    assert [path.read_bytes()[:8] for path, _ in paths] == [b"%PDF-sma", b"%PDF-big", b"%PDF-thi"]
    assert len(stored(desk.spool)) == 3
    with pytest.raises(DeskError):
        send(desk, job_id, b"%PDF-late", last=True)  # closed: it has all its documents
    desk.cancel(job)
    assert stored(desk.spool) == set()
    assert not list(desk.spool.inline.iterdir())


def test_close_prints_what_arrived_and_a_job_without_a_document_ends(tmp_path: Path) -> None:
    desk = desk_in(tmp_path)
    empty, one = created(desk), created(desk)
    send(desk, one, b"%PDF-only", last=False)
    assert desk.close(desk.find(one)).phase is Phase.QUEUED
    assert desk.close(desk.find(empty)).phase is Phase.CANCELED


def test_a_client_gone_quiet_has_its_job_closed_after_the_time_out(tmp_path: Path) -> None:
    desk = desk_in(tmp_path)
    job_id = created(desk)
    send(desk, job_id, b"%PDF-one", last=False)
    touched = desk.find(job_id).attributes["printwarden-touched"]
    assert desk.close_abandoned(touched + 59, 60) == []
    closed = desk.close_abandoned(touched + 61, 60)
    assert [job.id for job in closed] == [job_id]
    assert desk.find(job_id).phase is Phase.QUEUED


def test_documents_that_cannot_be_laid_out_together_are_refused(tmp_path: Path) -> None:
    desk = desk_in(tmp_path)
    job_id = created(desk)
    send(desk, job_id, b"%PDF-one", last=False)
    with pytest.raises(DeskError) as refused:
        send(desk, job_id, b"RaS2", last=True, fmt="image/pwg-raster")
    assert "PDF" in refused.value.message
    assert len(stored(desk.spool)) == 1
