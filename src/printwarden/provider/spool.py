"""The durable spool: job documents on disk and job state in the provider's own SQLite.

Durability rule: a document is written to ``incoming/``, fsync'd, renamed into ``docs/`` and
the directory fsync'd; only then is the job row committed (``synchronous=FULL``), and only
then is the client told ``successful-ok``. A crash before the commit leaves at most an orphan
document, removed at the next start; a committed job always has its document.

Job state: each job has a ``phase`` of the job state machine (``domain/job_states.py``) and
the IPP ``state`` that phase shows. Both change only through :meth:`Spool.transition`, which
asks the machine and writes its answer in one transaction; what the machine refuses (a
cancel that lost the race with the send, the engine finishing a job that was canceled
meanwhile) changes nothing.

A small document (up to ``INLINE_MAX`` bytes: most jobs) skips the file: it is kept in its
job's row (``document_data``, the last column, read only when wanted) and committed with
it, so that accepting a job costs one fsync instead of three and writes no other table.
The engine reads it from there, or gets a plain copy under ``inline/`` when it needs a file
(that copy needs no fsync: the database holds the durable one). The documents of a job after
its first (a Create-Job job may have several, see :data:`MORE_DOCUMENTS`) are files too, or,
when small, rows of the ``documents`` table committed with the job's change.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from printwarden.domain.ids import new_id
from printwarden.domain.job_states import BEFORE_SENDING, FINAL, WORKING, Event, Phase, step
from printwarden.files import fsync_dir, private_dir, private_sqlite

log = logging.getLogger("printwarden.provider")

# Job ids only grow (rows are never deleted) and uuids are time-ordered random UUIDv7s: the
# table keeps neither an AUTOINCREMENT counter nor a UNIQUE index, each one more page
# written per new job.
JOBS_TABLE = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY,
    uuid TEXT NOT NULL,
    queue TEXT NOT NULL,
    state INTEGER NOT NULL,
    reasons TEXT NOT NULL DEFAULT 'none',
    message TEXT NOT NULL DEFAULT '',
    user TEXT NOT NULL,
    authenticated INTEGER NOT NULL DEFAULT 0,
    name TEXT NOT NULL DEFAULT '',
    format TEXT NOT NULL DEFAULT 'application/octet-stream',
    document TEXT,
    size INTEGER NOT NULL DEFAULT 0,
    attributes TEXT NOT NULL DEFAULT '{}',
    analysis TEXT NOT NULL DEFAULT '{}',
    printer TEXT NOT NULL DEFAULT '',
    account TEXT NOT NULL DEFAULT '',
    cost INTEGER,
    txn_id TEXT NOT NULL,
    tracking TEXT NOT NULL DEFAULT 'tracked',
    send_state TEXT NOT NULL DEFAULT '',
    printer_job_id INTEGER,
    charge_state TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt REAL NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    processing REAL,
    completed REAL,
    report_state TEXT NOT NULL DEFAULT '',
    released INTEGER NOT NULL DEFAULT 0,
    phase TEXT NOT NULL DEFAULT 'queued',
    failures INTEGER NOT NULL DEFAULT 0,
    document_data BLOB
);
"""
SCHEMA = """
-- Small documents of a job after its first (Send-Document); spools from before kept every
-- small document here, and their jobs' first ones move into the rows at start.
CREATE TABLE IF NOT EXISTS documents (name TEXT PRIMARY KEY, data BLOB NOT NULL);
DROP INDEX IF EXISTS jobs_state; -- state follows phase: jobs are found by phase
CREATE INDEX IF NOT EXISTS jobs_user ON jobs (user, state);
DROP INDEX IF EXISTS jobs_charge;
CREATE INDEX IF NOT EXISTS jobs_charge_pending ON jobs (charge_state)
    WHERE charge_state = 'pending';
CREATE INDEX IF NOT EXISTS jobs_report ON jobs (report_state)
    WHERE report_state IN ('pending', 'done');
CREATE INDEX IF NOT EXISTS jobs_phase ON jobs (phase);
DROP INDEX IF EXISTS jobs_state_reasons;
"""
# Columns added after the first release, for spools created before them.
ADDED_COLUMNS = {
    "report_state": "TEXT NOT NULL DEFAULT ''",
    "released": "INTEGER NOT NULL DEFAULT 0",
    "phase": "TEXT NOT NULL DEFAULT ''",
    "failures": "INTEGER NOT NULL DEFAULT 0",
    "document_data": "BLOB",
}

FIELDS = (
    "id",
    "uuid",
    "queue",
    "state",
    "reasons",
    "message",
    "user",
    "authenticated",
    "name",
    "format",
    "document",
    "size",
    "attributes",
    "analysis",
    "printer",
    "account",
    "cost",
    "txn_id",
    "tracking",
    "send_state",
    "printer_job_id",
    "charge_state",
    "attempts",
    "next_attempt",
    "created",
    "processing",
    "completed",
    "report_state",
    "released",
    "phase",
    "failures",
)
JSON_FIELDS = frozenset({"attributes", "analysis"})
# Job attribute (not IPP): the documents after the first (Send-Document), each a dictionary
# of its spool ``file``, ``format``, ``size`` and ``document-name``.
MORE_DOCUMENTS = "printwarden-documents"
# Job attribute (not IPP): where an operator scheduled the job among its priority (a number
# compared with the ids of the others).
ORDER = "printwarden-order"
PRINT_ORDER = (
    "COALESCE(json_extract(attributes, '$.\"job-priority\"'), 50) DESC, "
    f"COALESCE(json_extract(attributes, '$.\"{ORDER}\"'), id), id"
)

INLINE_MAX = 128 * 1024

# IPP job states (RFC 8011 section 5.3.7).
PENDING, HELD, PROCESSING, STOPPED, CANCELED, ABORTED, COMPLETED = 3, 4, 5, 6, 7, 8, 9
TERMINAL_STATES = frozenset({CANCELED, ABORTED, COMPLETED})

# What each phase shows over IPP: its job-state and, unless a change says otherwise, its
# job-state-reasons.
IPP_STATE: dict[Phase, tuple[int, str]] = {
    Phase.INCOMING: (HELD, "job-incoming"),
    Phase.HELD: (HELD, "job-hold-until-specified"),
    Phase.AWAITING_SERVER: (HELD, "awaiting-server"),
    Phase.QUEUED: (PENDING, "job-queued"),
    Phase.STOPPED: (STOPPED, "job-interrupted"),
    Phase.SUSPENDED: (STOPPED, "job-suspended-by-operator"),
    Phase.ANALYSING: (PENDING, "job-queued"),
    Phase.DECIDING: (PENDING, "job-queued"),
    Phase.ALLOWED: (PROCESSING, "job-transforming"),
    Phase.SENDING: (PROCESSING, "job-printing"),
    Phase.SENT: (PROCESSING, "job-printing"),
    Phase.COMPLETED: (COMPLETED, "job-completed-successfully"),
    Phase.CANCELED: (CANCELED, "job-canceled-by-user"),
    Phase.EXPIRED: (CANCELED, "job-canceled-by-operator"),
    Phase.ABORTED: (ABORTED, "job-aborted-by-system"),
}
STATE_FIELDS = frozenset({"state", "phase"})
# The phase of a job from before the state machine, by what its row says (first match).
BACKFILL = (
    (f"state = {PENDING}", Phase.QUEUED),
    (f"state = {HELD} AND reasons = 'job-incoming'", Phase.INCOMING),
    (f"state = {HELD} AND reasons = 'awaiting-server'", Phase.AWAITING_SERVER),
    (f"state = {HELD}", Phase.HELD),
    (f"state = {PROCESSING} AND send_state = 'sent'", Phase.SENT),
    (f"state = {PROCESSING} AND send_state = 'sending'", Phase.SENDING),
    (f"state = {PROCESSING}", Phase.ALLOWED),
    (f"state = {STOPPED}", Phase.STOPPED),
    (f"state = {CANCELED} AND message LIKE 'expired%'", Phase.EXPIRED),
    (f"state = {CANCELED}", Phase.CANCELED),
    (f"state = {ABORTED}", Phase.ABORTED),
    (f"state = {COMPLETED}", Phase.COMPLETED),
)
FINAL_PHASES = tuple(sorted(FINAL))
WORKING_PHASES = tuple(sorted(WORKING))
# Phases whose arrival need not wait for the disk: after a crash the job is queued again
# whether the step was written or not (crash-restart takes them back), so losing one to a
# power cut loses nothing.
REDONE = BEFORE_SENDING


@dataclass
class Job:
    """One job as the spool keeps it."""

    id: int
    uuid: str
    queue: str
    state: int
    user: str
    txn_id: str
    created: float
    reasons: str = "none"
    message: str = ""
    authenticated: bool = False
    name: str = ""
    format: str = "application/octet-stream"
    document: str | None = None
    size: int = 0
    attributes: dict[str, Any] = field(default_factory=dict)
    analysis: dict[str, Any] = field(default_factory=dict)
    printer: str = ""
    account: str = ""
    cost: int | None = None
    tracking: str = "tracked"
    send_state: str = ""
    printer_job_id: int | None = None
    charge_state: str = ""
    attempts: int = 0
    next_attempt: float = 0.0
    processing: float | None = None
    completed: float | None = None
    # Held jobs the server lists: '' not reported, 'pending' to report, 'done' reported held,
    # 'final' the server knows how it ended.
    report_state: str = ""
    released: bool = False
    phase: Phase = Phase.QUEUED
    failures: int = 0  # unexpected failures so far (the machine gives up after a few)

    @property
    def terminal(self) -> bool:
        return self.phase in FINAL


@dataclass(frozen=True, slots=True)
class SpooledDocument:
    """A job's document: a file (``path``), or the bytes of one kept inline (``data``)."""

    name: str
    path: Path | None = None
    data: bytes | None = None


_NAMES = itertools.count()
_PROCESS_MARK = os.urandom(4).hex()  # tells names made by different processes apart


def _ordered_name() -> str:
    """A unique name that sorts by creation time: nanoseconds, then a count of this
    process's names and a random mark of the process (no system call per name)."""
    return f"{time.time_ns():016x}{next(_NAMES) & 0xFFFFFFFF:08x}{_PROCESS_MARK}"


class DocumentWriter:
    """Receives one incoming document; :meth:`commit` makes it ready to be made durable.

    Up to ``INLINE_MAX`` bytes it stays in memory: :meth:`commit` leaves it in ``inline``
    for :meth:`Spool.add` or :meth:`Spool.update` to store with the job row. A bigger one is
    written to ``incoming/`` as it arrives, and :meth:`commit` makes it durable in ``docs/``.
    """

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self.name = f"{_ordered_name()}.doc"
        self.handle: BinaryIO | None = None
        self.buffer = bytearray()
        self.size = 0
        self.inline: bytes | None = None
        self.committed = False

    @property
    def temporary(self) -> Path:
        return self.spool.incoming / self.name

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.handle is None:
            self.buffer += chunk
            if len(self.buffer) <= INLINE_MAX:
                return
            fd = os.open(self.temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            self.handle = os.fdopen(fd, "wb")
            chunk, self.buffer = bytes(self.buffer), bytearray()
        self.handle.write(chunk)

    @property
    def on_disk(self) -> bool:
        """Whether the document went to a file (too big to keep inline)."""
        return self.handle is not None

    def commit(self) -> str:
        """Make the document ready (again: harmlessly); returns its name in the spool."""
        if self.committed:
            return self.name
        if self.handle is None:
            self.inline = bytes(self.buffer)
            self.buffer = bytearray()
        else:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            os.replace(self.temporary, self.spool.docs / self.name)
            fsync_dir(self.spool.docs)
        self.committed = True
        return self.name

    def discard(self) -> None:
        self.buffer = bytearray()
        if self.handle is not None:
            self.handle.close()
            self.temporary.unlink(missing_ok=True)


class Spool:
    """Job documents and job state of one provider."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.incoming = directory / "incoming"
        self.docs = directory / "docs"
        self.inline = directory / "inline"
        for folder in (directory, self.incoming, self.docs, self.inline):
            private_dir(folder)  # people's documents: the owner's only
        self._lock = threading.Lock()
        database = private_sqlite(directory / "state.db")
        self._db = sqlite3.connect(database, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self.refused: Counter[str] = Counter()  # transitions the machine refused, by event
        self._listeners: list[Callable[[Job, Phase], None]] = []
        self._add_missing_columns()
        self._rebuild_old_jobs_table()
        self._db.executescript(JOBS_TABLE + SCHEMA)
        self._backfill_phases()
        self._move_inline_documents()
        self._db.commit()
        self._clean_orphans()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def on_transition(self, listener: Callable[[Job, Phase], None]) -> None:
        """Called with the job as it is now and the phase it left, after every transition
        (event subscriptions follow jobs through it). A failing listener is logged."""
        self._listeners.append(listener)

    def _add_missing_columns(self) -> None:
        present = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        if not present:
            return  # a new spool: SCHEMA creates everything
        for name, definition in ADDED_COLUMNS.items():
            if name not in present:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {name} {definition}")

    def _rebuild_old_jobs_table(self) -> None:
        """A spool from before has an AUTOINCREMENT id and a UNIQUE uuid: rebuilt once,
        keeping every job and its id (the indexes are made again by ``SCHEMA``)."""
        found = self._db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'jobs'"
        ).fetchone()
        if found is None or "AUTOINCREMENT" not in found[0].upper():
            return
        columns = ", ".join((*FIELDS, "document_data"))
        copy = f"INSERT INTO jobs ({columns}) SELECT {columns} FROM jobs_before;"  # noqa: S608
        self._db.executescript(
            "BEGIN IMMEDIATE; ALTER TABLE jobs RENAME TO jobs_before;"
            f"{JOBS_TABLE}; {copy} DROP TABLE jobs_before; COMMIT;"
        )
        log.info("the spool's jobs table was rebuilt without AUTOINCREMENT and UNIQUE(uuid)")

    def _backfill_phases(self) -> None:
        """Give jobs of a spool from before the state machine the phase their IPP state,
        reasons and send state tell."""
        for state, phase in BACKFILL:
            self._db.execute(f"UPDATE jobs SET phase = '{phase}' WHERE phase = '' AND {state}")  # noqa: S608

    def _move_inline_documents(self) -> None:
        """Move jobs' first documents kept in the ``documents`` table (spools from before)
        into their rows; only further documents of a job stay there."""
        self._db.execute(
            "UPDATE jobs SET document_data = (SELECT data FROM documents WHERE name = document)"
            " WHERE document IN (SELECT name FROM documents)"
        )
        self._db.execute(
            "DELETE FROM documents WHERE name IN"
            " (SELECT document FROM jobs WHERE document IS NOT NULL)"
        )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
                self._db.commit()
            except BaseException:
                self._db.rollback()
                raise

    def _clean_orphans(self) -> None:
        """Delete documents no job needs: of no job, or of a job that has ended (a crash
        between a job's end and the deletion of its document leaves one)."""
        for folder in (self.incoming, self.inline):
            for leftover in folder.iterdir():
                leftover.unlink(missing_ok=True)
        marks = ", ".join("?" for _ in FINAL_PHASES)
        first = f"SELECT document FROM jobs WHERE document IS NOT NULL AND phase NOT IN ({marks})"  # noqa: S608
        more = (
            "SELECT json_extract(d.value, '$.file') FROM jobs, "  # noqa: S608
            f"json_each(jobs.attributes, '$.\"{MORE_DOCUMENTS}\"') AS d "
            f"WHERE phase NOT IN ({marks})"
        )
        needed = f"{first} UNION {more}"
        phases = FINAL_PHASES + FINAL_PHASES
        self._db.execute(f"DELETE FROM documents WHERE name NOT IN ({needed})", phases)  # noqa: S608
        self._db.execute(
            f"UPDATE jobs SET document_data = NULL WHERE document_data IS NOT NULL AND phase IN ({marks})",  # noqa: S608, E501
            FINAL_PHASES,
        )
        self._db.commit()
        known = {row[0] for row in self._db.execute(needed, phases)}
        for document in self.docs.iterdir():
            if document.name not in known:
                document.unlink(missing_ok=True)

    def new_document(self) -> DocumentWriter:
        return DocumentWriter(self)

    def document(self, job: Job) -> SpooledDocument | None:
        """The job's document as the spool has it: its file, or the bytes of an inline one
        (read, not copied out)."""
        if not job.document:
            return None
        if job.size <= INLINE_MAX and (data := self._inline_data(job)) is not None:
            return SpooledDocument(job.document, data=data)
        for path in (self.docs / job.document, self.inline / job.document):
            if path.exists():
                return SpooledDocument(job.document, path=path)
        # Gone (the job ended meanwhile): as a file that is not there.
        return SpooledDocument(job.document, path=self.docs / job.document)

    def inline_documents(self, jobs: Iterable[Job]) -> dict[int, bytes]:
        """The bytes of those of ``jobs``' documents kept inline, by job id (one query)."""
        ids = [job.id for job in jobs if job.document and job.size <= INLINE_MAX]
        found: dict[int, bytes] = {}
        for start in range(0, len(ids), 500):  # within SQLite's limit on parameters
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            query = f"SELECT id, document_data FROM jobs WHERE id IN ({marks}) AND document_data IS NOT NULL"  # noqa: S608, E501
            with self._lock:
                found.update(self._db.execute(query, chunk).fetchall())
        return found

    def _inline_data(self, job: Job) -> bytes | None:
        with self._lock:
            row = self._db.execute(
                "SELECT document_data FROM jobs WHERE id = ?", (job.id,)
            ).fetchone()
        return bytes(row[0]) if row is not None and row[0] is not None else None

    def document_path(self, job: Job) -> Path | None:
        """A file with the job's (first) document (a plain copy of an inline one, which is
        kept in the job's row)."""
        if not job.document:
            return None
        path = self._file(job.document)
        if path.exists():
            return path
        data = self._inline_data(job)
        return path if data is None else self._copy_out(job.document, data)

    def document_paths(self, job: Job) -> list[tuple[Path, str]]:
        """Files with every document of the job and their formats, in order."""
        found = []
        first = self.document_path(job)
        if first is not None:
            found.append((first, job.format))
        for more in more_documents(job):
            found.append((self.document_file(str(more["file"])), str(more["format"])))
        return found

    def document_file(self, name: str) -> Path:
        """A file with the job's further document ``name`` (see :meth:`store_document`; a
        plain copy of an inline one, which is kept in the ``documents`` table)."""
        path = self._file(name)
        if path.exists():
            return path
        with self._lock:
            row = self._db.execute("SELECT data FROM documents WHERE name = ?", (name,)).fetchone()
        return path if row is None else self._copy_out(name, bytes(row[0]))

    def _file(self, name: str) -> Path:
        """Where the document ``name`` is as a file: ``docs/``, else a copy in ``inline/``
        (which may not exist)."""
        path = self.docs / name
        if path.exists():
            return path
        copy = self.inline / name
        return copy if copy.exists() else path

    def _copy_out(self, name: str, data: bytes) -> Path:
        """A plain file under ``inline/`` with the inline document ``name`` (no fsync: the
        database holds the durable copy)."""
        temporary = self.incoming / f"{name}.copy"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        copy = self.inline / name
        os.replace(temporary, copy)
        return copy

    def add(self, *, phase: Phase, document_data: bytes | None = None, **values: Any) -> Job:
        """Insert a job durably in ``phase`` and return it (with its new id).

        ``document_data`` is an inline document (named by ``document``), stored with the job.
        """
        return self.add_many([NewJob(phase, values, document_data)])[0]

    def add_many(self, new_jobs: list[NewJob]) -> list[Job]:
        """Insert jobs in one transaction — one fsync for all of them (group commit) — and
        return them with their ids; all or none are added."""
        rows = [_new_row(new) for new in new_jobs]
        db = self._db
        with self._lock:  # one transaction (as _transaction, without its generator)
            try:
                for new, (sql, row) in zip(new_jobs, rows, strict=True):
                    new.values["id"] = db.execute(sql, row).lastrowid
                db.commit()
            except BaseException:
                db.rollback()
                raise
        return [_new_job(new.values) for new in new_jobs]

    def update(self, job_id: int, **values: Any) -> None:
        """Change fields of a job durably; never its state (see :meth:`transition`)."""
        if values:
            self.update_many({job_id: values})

    def update_many(self, changes: dict[int, dict[str, Any]], *, durable: bool = True) -> None:
        """Change fields of several jobs in one transaction; never their state. Not
        ``durable``: for what is made again when lost (an analysis, a report's mark)."""
        if any(STATE_FIELDS & values.keys() for values in changes.values()):
            raise ValueError("a job's state changes only by transition()")
        changes = {job_id: values for job_id, values in changes.items() if values}
        if changes:
            with self._lock:
                self._commit(changes, durable)

    def transition(
        self, job_id: int, event: Event, *, document_data: bytes | None = None, **values: Any
    ) -> Job | None:
        """Move a job by ``event`` as the state machine says, with ``values`` changed in the
        same transaction; the job as it is now. None when the machine refuses the event in
        the job's phase (or there is no such job): then nothing changed.

        ``reasons`` defaults to the new phase's; ``document_data`` is as for :meth:`add`.
        """
        if STATE_FIELDS & values.keys():
            raise ValueError("the machine sets the state")
        columns = ", ".join(FIELDS)
        with self._lock:
            db = self._db
            row = db.execute(f"SELECT {columns} FROM jobs WHERE id = ?", (job_id,)).fetchone()  # noqa: S608
            job = _job(row) if row is not None else None
            after = step(job.phase, event) if job is not None else None
            before_phase = job.phase if job is not None else Phase.QUEUED
            if after is not None:
                state, reasons = IPP_STATE[after]
                values = {"reasons": reasons, **values, "phase": after, "state": state}
                self._write(job_id, values, document_data, durable=after not in REDONE)
            else:
                self.refused[event.value] += 1
        if job is None or after is None:
            before = job.phase if job is not None else "none (no such job)"
            log.info("job %s: %s refused in phase %s; nothing changed", job_id, event, before)
            return None
        for name, value in values.items():  # the job as just written, without reading it
            setattr(job, name, value)
        for listener in self._listeners:
            try:
                listener(job, before_phase)
            except Exception:  # events are news; the transition is made
                log.exception("job %s: a listener of its transition failed", job_id)
        return job

    def _write(
        self, job_id: int, values: dict[str, Any], document_data: bytes | None, durable: bool
    ) -> None:
        """One transaction (the caller holds the lock). Not ``durable``: committed without
        waiting for the disk — for steps a restart redoes anyway; any later durable commit
        makes it durable too (the WAL is written in order)."""
        if document_data is not None:
            values = {**values, "document_data": document_data}
        self._commit({job_id: values}, durable)

    def _commit(self, changes: dict[int, dict[str, Any]], durable: bool) -> None:
        """Update jobs in one transaction; the caller holds the lock."""
        db = self._db
        if not durable:
            db.execute("PRAGMA synchronous=NORMAL")
        try:
            for job_id, values in changes.items():
                _update(db, job_id, values)
            db.commit()
        except BaseException:
            db.rollback()
            raise
        finally:
            if not durable:
                db.execute("PRAGMA synchronous=FULL")

    def get(self, job_id: int) -> Job | None:
        return next(self._select("WHERE id = ?", (job_id,)), None)

    def find_named(self, user: str, uuid: str) -> Job | None:
        """``user``'s job with this UUID (found through the index of users' jobs)."""
        return next(self._select("WHERE user = ? AND uuid = ?", (user, uuid)), None)

    def jobs(
        self,
        *,
        queue: str | None = None,
        user: str | None = None,
        states: Iterable[int] | None = None,
        newest_first: bool = False,
        limit: int | None = None,
    ) -> list[Job]:
        """Jobs filtered by queue, user and states."""
        clauses, params = _filters(queue, user, states)
        order = "DESC" if newest_first else "ASC"
        sql = f"{clauses} ORDER BY id {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return list(self._select(sql, params))

    def due(self, now: float) -> list[Job]:
        """Queued jobs whose next attempt is due, in the order they print: higher
        ``job-priority`` first, then as scheduled (Promote-Job, Schedule-Job-After), then
        oldest first."""
        where = f"WHERE phase = ? AND next_attempt <= ? ORDER BY {PRINT_ORDER}"
        return list(self._select(where, (Phase.QUEUED.value, now)))

    def pending(self, queue: str) -> list[Job]:
        """The jobs of ``queue`` waiting to print (queued, at any attempt), in print order."""
        where = f"WHERE phase = ? AND queue = ? ORDER BY {PRINT_ORDER}"
        return list(self._select(where, (Phase.QUEUED.value, queue)))

    def in_phases(self, *phases: Phase) -> list[Job]:
        """Jobs in any of ``phases``, oldest first.

        Filtered by SQLite on an index: a hold queue can hold many thousands of jobs, and
        loading (and JSON-decoding) them all to find a few costs ~150 ms per 10,000.
        """
        marks = ", ".join("?" for _ in phases)
        where = f"WHERE phase IN ({marks}) ORDER BY id"
        return list(self._select(where, tuple(phase.value for phase in phases)))

    def working(self, queue: str) -> bool:
        """Whether the engine is working on a job of ``queue`` (analysing to sent)."""
        marks = ", ".join("?" for _ in WORKING_PHASES)
        query = f"SELECT 1 FROM jobs WHERE phase IN ({marks}) AND queue = ? LIMIT 1"  # noqa: S608
        with self._lock:
            return self._db.execute(query, (*WORKING_PHASES, queue)).fetchone() is not None

    def phase_counts(self) -> dict[Phase, int]:
        """How many jobs are in each phase."""
        with self._lock:
            rows = self._db.execute("SELECT phase, COUNT(*) FROM jobs GROUP BY phase").fetchall()
        counts = dict.fromkeys(Phase, 0)
        counts.update((Phase(phase), int(count)) for phase, count in rows)
        return counts

    def to_report(self, limit: int = 500) -> list[Job]:
        """Jobs whose news the server lacks: newly held, or ended since reported held."""
        where = (
            "WHERE (report_state = 'pending' OR (report_state = 'done' AND state IN (?, ?, ?)))"
            f" ORDER BY id LIMIT {int(limit)}"
        )
        return list(self._select(where, tuple(sorted(TERMINAL_STATES))))

    def held_before(self, queue: str, created: float) -> list[Job]:
        """Jobs held in ``queue`` since before ``created`` (candidates for expiry)."""
        phases = _phases_showing((HELD,))
        marks = ", ".join("?" for _ in phases)
        where = f"WHERE queue = ? AND phase IN ({marks}) AND created < ? ORDER BY id"
        return list(self._select(where, (queue, *phases, created)))

    def uncharged(self) -> list[Job]:
        """Printed jobs whose charge the server has not taken yet."""
        where = "WHERE charge_state = 'pending' AND phase = ? ORDER BY id"
        return list(self._select(where, (Phase.COMPLETED.value,)))

    def count(self, states: Iterable[int] | None = None) -> int:
        clauses, params = _filters(None, None, states)
        query = f"SELECT COUNT(*) FROM jobs {clauses}"  # noqa: S608
        with self._lock:
            return int(self._db.execute(query, params).fetchone()[0])

    def delete_document(self, job: Job) -> None:
        """Delete every document of the job (again, harmlessly)."""
        if job.document:
            if (self.docs / job.document).exists():
                (self.docs / job.document).unlink(missing_ok=True)
            else:
                (self.inline / job.document).unlink(missing_ok=True)
                with self._transaction() as db:
                    db.execute("UPDATE jobs SET document_data = NULL WHERE id = ?", (job.id,))
        for more in more_documents(job):
            self.delete_file(str(more["file"]))

    def delete_file(self, name: str) -> None:
        """Delete the spooled document ``name`` that is no job's first (wherever kept)."""
        if (self.docs / name).exists():
            (self.docs / name).unlink(missing_ok=True)
            return
        (self.inline / name).unlink(missing_ok=True)
        with self._transaction() as db:
            db.execute("DELETE FROM documents WHERE name = ?", (name,))

    def store_document(
        self, job_id: int, name: str, data: bytes | None, **values: Any
    ) -> Job | None:
        """Keep one more document of a job that stays as it is (Send-Document with
        ``last-document`` false): its inline ``data`` and the job's ``values`` in one
        transaction; the job as it is now. The job's first document (``values`` name it
        its ``document``) is kept in its row, a further one in the ``documents`` table."""
        if STATE_FIELDS & values.keys():
            raise ValueError("a job's state changes only by transition()")
        with self._transaction() as db:
            if data is not None and values.get("document") == name:  # the job's first
                values = {**values, "document_data": data}
            elif data is not None:
                _store_inline(db, name, data)
            if values:
                _update(db, job_id, values)
        return self.get(job_id)

    def _select(self, where: str, params: tuple[Any, ...] | list[Any]) -> Iterator[Job]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {', '.join(FIELDS)} FROM jobs {where}",  # noqa: S608
                params,
            ).fetchall()
        for row in rows:
            yield _job(row)


def more_documents(job: Job) -> list[dict[str, Any]]:
    """The documents of ``job`` after its first (see :data:`MORE_DOCUMENTS`)."""
    more = job.attributes.get(MORE_DOCUMENTS)
    return (
        [m for m in more if isinstance(m, dict) and m.get("file")] if isinstance(more, list) else []
    )


@dataclass
class NewJob:
    """A job to insert: its phase, its column values, its inline document if any."""

    phase: Phase
    values: dict[str, Any]
    document_data: bytes | None = None


_INSERTS: dict[tuple[str, ...], str] = {}  # the INSERT statement of each set of columns


def _new_row(new: NewJob) -> tuple[str, list[Any]]:
    """The INSERT of a new job, and ``new.values`` completed as the row says."""
    values = new.values
    if "uuid" not in values:
        values["uuid"] = new_id()  # time-ordered: its unique index grows at one end
    if "created" not in values:
        values["created"] = time.time()
    values["phase"] = new.phase
    values["state"], reasons = IPP_STATE[new.phase]
    values.setdefault("reasons", reasons)
    row = [_encode(name, value) for name, value in values.items()]
    names = tuple(values)
    if new.document_data is not None:  # stored in the row, not kept on the Job
        names += ("document_data",)
        row.append(new.document_data)
    sql = _INSERTS.get(names)
    if sql is None:
        marks = ", ".join("?" for _ in names)
        sql = _INSERTS[names] = f"INSERT INTO jobs ({', '.join(names)}) VALUES ({marks})"  # noqa: S608
    return sql, row


def _new_job(values: dict[str, Any]) -> Job:
    """The job a new row holds, as :meth:`Spool.get` would read it back."""
    job = Job(**values)
    for name in JSON_FIELDS:  # the job's own copies, as if decoded from the row
        setattr(job, name, dict(getattr(job, name)))
    return job


def _store_inline(db: sqlite3.Connection, name: str, data: bytes) -> None:
    db.execute("INSERT INTO documents (name, data) VALUES (?, ?)", (name, data))


def _update(db: sqlite3.Connection, job_id: int, values: dict[str, Any]) -> None:
    assignments = ", ".join(f"{name} = ?" for name in values)
    row = [_encode(name, value) for name, value in values.items()]
    db.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", [*row, job_id])  # noqa: S608


def _phases_showing(states: Iterable[int]) -> list[str]:
    """The phases whose IPP job-state is one of ``states`` (state follows phase, and only
    phase is indexed)."""
    wanted = set(states)
    return sorted(phase.value for phase, (state, _) in IPP_STATE.items() if state in wanted) or [""]


def _filters(
    queue: str | None, user: str | None, states: Iterable[int] | None
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if queue is not None:
        clauses.append("queue = ?")
        params.append(queue)
    if user is not None:
        clauses.append("user = ?")
        params.append(user)
    if states is not None:
        phases = _phases_showing(states)
        clauses.append(f"phase IN ({', '.join('?' for _ in phases)})")
        params.extend(phases)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


_to_json = json.JSONEncoder(separators=(",", ":")).encode  # one encoder, not one per value


def _encode(name: str, value: Any) -> Any:
    if name in JSON_FIELDS:
        return _to_json(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _job(row: tuple[Any, ...]) -> Job:
    values = dict(zip(FIELDS, row, strict=True))
    for name in JSON_FIELDS:
        values[name] = json.loads(values[name])
    values["authenticated"] = bool(values["authenticated"])
    values["released"] = bool(values["released"])
    values["phase"] = Phase(values["phase"])
    return Job(**values)
