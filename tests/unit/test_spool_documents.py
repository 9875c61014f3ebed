"""Where the spool keeps a small document: in its job's row, committed with the job — also
for a spool from before, whose ``documents`` table is emptied into the rows at start, and
whose jobs table is rebuilt without what made each new job cost more pages."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

from printwarden.domain.job_states import Phase
from printwarden.provider.spool import INLINE_MAX, MORE_DOCUMENTS, Spool

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


OLD_SCHEMA = """
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT, uuid TEXT NOT NULL UNIQUE, queue TEXT NOT NULL,
    state INTEGER NOT NULL, reasons TEXT NOT NULL DEFAULT 'none',
    message TEXT NOT NULL DEFAULT '', user TEXT NOT NULL,
    authenticated INTEGER NOT NULL DEFAULT 0, name TEXT NOT NULL DEFAULT '',
    format TEXT NOT NULL DEFAULT 'application/octet-stream', document TEXT,
    size INTEGER NOT NULL DEFAULT 0, attributes TEXT NOT NULL DEFAULT '{}',
    analysis TEXT NOT NULL DEFAULT '{}', printer TEXT NOT NULL DEFAULT '',
    account TEXT NOT NULL DEFAULT '', cost INTEGER, txn_id TEXT NOT NULL,
    tracking TEXT NOT NULL DEFAULT 'tracked', send_state TEXT NOT NULL DEFAULT '',
    printer_job_id INTEGER, charge_state TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt REAL NOT NULL DEFAULT 0,
    created REAL NOT NULL, processing REAL, completed REAL,
    report_state TEXT NOT NULL DEFAULT '', released INTEGER NOT NULL DEFAULT 0,
    phase TEXT NOT NULL DEFAULT 'queued', failures INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE documents (name TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE INDEX jobs_state ON jobs (state);
CREATE INDEX jobs_user ON jobs (user, state);
CREATE INDEX jobs_charge ON jobs (charge_state);
CREATE INDEX jobs_phase ON jobs (phase);
"""


def test_a_spool_from_before_is_rebuilt_keeping_every_job_and_id(tmp_path: Path) -> None:
    """Its AUTOINCREMENT counter and UNIQUE uuid index cost a page each per new job."""
    with contextlib.closing(sqlite3.connect(tmp_path / "state.db")) as db:
        db.executescript(OLD_SCHEMA)
        for job_id in (3, 7):  # ids with gaps, as a spool's history leaves them
            db.execute(
                "INSERT INTO jobs (id, uuid, queue, state, user, txn_id, created, phase, document)"
                " VALUES (?, ?, 'q', 4, 'ann', ?, 0, 'held', ?)",
                (job_id, f"u{job_id}", f"t{job_id}", f"d{job_id}.doc"),
            )
            db.execute(
                "INSERT INTO documents VALUES (?, ?)", (f"d{job_id}.doc", b"doc %d" % job_id)
            )
        db.commit()
    spool = Spool(tmp_path)
    try:
        table = spool._db.execute("SELECT sql FROM sqlite_master WHERE name = 'jobs'").fetchone()
        assert "AUTOINCREMENT" not in table[0]
        assert "UNIQUE" not in table[0]
        assert [(job.id, job.uuid) for job in spool.jobs()] == [(3, "u3"), (7, "u7")]
        old = spool.get(7)
        assert old is not None
        document = spool.document(old)
        assert document is not None
        assert document.data == b"doc 7"
        assert _add(spool, PDF) == 8  # new ids go on after the old ones
        indexes = {row[1] for row in spool._db.execute("PRAGMA index_list(jobs)")}
        assert {"jobs_user", "jobs_phase", "jobs_report"} <= indexes
        assert "jobs_state" not in indexes
    finally:
        spool.close()
    again = Spool(tmp_path)  # and it is not rebuilt again
    try:
        assert again.jobs()[-1].id == 8
    finally:
        again.close()


def test_a_spool_from_before_keeps_the_further_documents_of_its_jobs(tmp_path: Path) -> None:
    """A job of several documents kept them all in the ``documents`` table: its first moves
    into its row, the others stay where a job's further documents are kept."""
    old = Spool(tmp_path)
    job_id = _add(old, b"", Phase.INCOMING)
    with old._lock:
        first = old._db.execute("SELECT document FROM jobs WHERE id = ?", (job_id,)).fetchone()[0]
        old._db.execute("UPDATE jobs SET document_data = NULL WHERE id = ?", (job_id,))
        more = [{"file": "second.doc", "format": "application/pdf", "size": 6}]
        old._db.execute(
            "UPDATE jobs SET attributes = ? WHERE id = ?",
            (json.dumps({MORE_DOCUMENTS: more}), job_id),
        )
        old._db.executemany(
            "INSERT INTO documents (name, data) VALUES (?, ?)",
            [(first, PDF), ("second.doc", b"second")],
        )
        old._db.commit()
    old.close()

    spool = Spool(tmp_path)
    try:
        names = {row[0] for row in spool._db.execute("SELECT name FROM documents")}
        assert names == {"second.doc"}
        job = spool.get(job_id)
        assert job is not None
        document = spool.document(job)
        assert document is not None
        assert document.data == PDF
        paths = spool.document_paths(job)
        assert [path.read_bytes() for path, _ in paths] == [PDF, b"second"]
        spool.delete_document(job)
        assert spool._db.execute("SELECT COUNT(*) FROM documents").fetchone() == (0,)
        kept = spool._db.execute("SELECT COUNT(*) FROM jobs WHERE document_data NOT NULL")
        assert kept.fetchone() == (0,)
    finally:
        spool.close()
