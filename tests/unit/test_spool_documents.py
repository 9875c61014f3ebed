"""Where the spool keeps a small document: in its job's row, committed with the job — also
for a spool from before, whose ``documents`` table is emptied into the rows at start."""

from __future__ import annotations

from pathlib import Path

from printwarden.domain.job_states import Phase
from printwarden.provider.spool import INLINE_MAX, Spool

PDF = b"%PDF-1.4 a small document\n%%EOF\n"


def _add(spool: Spool, data: bytes, phase: Phase = Phase.HELD) -> int:
    writer = spool.new_document()
    writer.write(data)
    name = writer.commit()
    job = spool.add(phase=phase, queue="q", user="ann", txn_id=f"t-{name}", document=name,
                    size=writer.size, document_data=writer.inline)  # fmt: skip
    return job.id


def test_a_small_document_is_in_its_job_row_and_read_from_there(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    try:
        job = spool.get(_add(spool, PDF))
        assert job is not None
        document = spool.document(job)
        assert document is not None
        assert (document.data, document.path) == (PDF, None)
        assert not list(spool.docs.iterdir())  # no file was written
        copy = spool.document_path(job)  # a file only when someone needs one
        assert copy is not None
        assert copy.read_bytes() == PDF
        spool.delete_document(job)
        gone = spool.document(job)  # as a file that is not there
        assert gone is not None
        assert gone.data is None
        assert gone.path is not None
        assert not gone.path.exists()
    finally:
        spool.close()


def test_a_big_document_is_a_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    try:
        big = b"x" * (INLINE_MAX + 1)
        job = spool.get(_add(spool, big))
        assert job is not None
        document = spool.document(job)
        assert document is not None
        assert document.data is None
        assert document.path is not None
        assert document.path.read_bytes() == big
    finally:
        spool.close()


def test_a_spool_from_before_moves_its_inline_documents_into_the_rows(tmp_path: Path) -> None:
    old = Spool(tmp_path)
    held, ended = _add(old, b""), _add(old, b"", Phase.CANCELED)
    with old._lock:  # as the old provider kept them: in the documents table
        for job_id, data in ((held, PDF), (ended, b"gone")):
            name = old._db.execute("SELECT document FROM jobs WHERE id = ?", (job_id,)).fetchone()[
                0
            ]
            old._db.execute("UPDATE jobs SET document_data = NULL WHERE id = ?", (job_id,))
            old._db.execute("INSERT INTO documents (name, data) VALUES (?, ?)", (name, data))
        old._db.commit()
    old.close()

    spool = Spool(tmp_path)
    try:
        assert spool._db.execute("SELECT COUNT(*) FROM documents").fetchone() == (0,)
        job = spool.get(held)
        assert job is not None
        document = spool.document(job)
        assert document is not None
        assert document.data == PDF
        kept = spool._db.execute("SELECT id FROM jobs WHERE document_data IS NOT NULL").fetchall()
        assert kept == [(held,)]  # the ended job's document is not kept
    finally:
        spool.close()
