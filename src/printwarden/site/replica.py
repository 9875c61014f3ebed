"""The site's replica: a local SQLite database with the App Server's schema, kept up to date
from the "changes since N" feed, with N stored in the same transaction as the changes it
covers (so a crash at any point resumes exactly where the replica is).

A new replica first applies a snapshot (``store/snapshot.py``), page by page; each page is
stored with the cursor of the next one, and the last with N = the snapshot's change number.
A crash mid-snapshot resumes from the last stored cursor.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, DateTime, delete, select, text, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from printwarden.store.db import Database
from printwarden.store.migrate import head_revision, upgrade_if_behind
from printwarden.store.models import Base, CardRow, UserRow
from printwarden.store.replicated_kinds import BY_NAME, KINDS, Kind, SiteApply

REPLICATING = "printwarden.replicating"
STATE_TABLE = """
CREATE TABLE IF NOT EXISTS site_state (key TEXT PRIMARY KEY, value TEXT NOT NULL)
"""
_READ_SEQ = text("SELECT value FROM site_state WHERE key = 'seq'")
SAVE_SEQ = text(
    "INSERT INTO site_state (key, value) VALUES ('seq', :v) "
    "ON CONFLICT (key) DO UPDATE SET value = :v"
)
_READ_SNAPSHOT = text("SELECT value FROM site_state WHERE key = 'snapshot'")
_SAVE_SNAPSHOT = text(
    "INSERT INTO site_state (key, value) VALUES ('snapshot', :v) "
    "ON CONFLICT (key) DO UPDATE SET value = :v"
)
SNAPSHOT_DONE = "done"
FIRST_PAGE: dict[str, Any] = {"at": None, "kind": 0, "after": None}


class SchemaMismatch(Exception):
    """The App Server's schema differs from this site's: nothing was applied."""


class Replica:
    """The local database and the sequence number it has reached."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
        upgrade_if_behind(url)
        self.database = Database(url, durable=True)
        with self.database.session() as session:
            session.info[REPLICATING] = True
            session.execute(text(STATE_TABLE))
            # A replica made before HQ stopped sending them may still hold password hashes.
            session.execute(
                update(UserRow).where(UserRow.password_hash.is_not(None)).values(password_hash=None)
            )

    def restart_snapshot(self) -> None:
        """Take the whole snapshot again, from its first page: the site's card key changed,
        so every card and identity hash held is under the old one (and goes now). The other
        rows stay and keep answering offline until the snapshot replaces them."""
        with self.database.session() as session:
            session.info[REPLICATING] = True
            session.execute(delete(CardRow))
            session.execute(update(UserRow).values(identity_hash=None))
            session.execute(_SAVE_SNAPSHOT, {"v": json.dumps(FIRST_PAGE)})

    def close(self) -> None:
        self.database.dispose()

    def seq(self) -> int:
        with self.database.read() as session:
            value = session.execute(_READ_SEQ).scalar_one_or_none()
        return int(value or 0)

    def snapshot_cursor(self) -> dict[str, Any] | None:
        """Where this replica's snapshot goes on (``{"at", "kind", "after"}``; ``at`` None:
        not begun); None once it is done, or for a replica that had data before snapshots."""
        with self.database.read() as session:
            stored = session.execute(_READ_SNAPSHOT).scalar_one_or_none()
            seq = int(session.execute(_READ_SEQ).scalar_one_or_none() or 0)
        return _cursor(stored, seq)

    def apply_snapshot(
        self, schema_revision: str, cursor: dict[str, Any], page: dict[str, Any]
    ) -> bool:
        """Apply one snapshot page (asked for at ``cursor``) and store, in the same transaction,
        the cursor of the next page — or, after the last, N = the snapshot's ``at`` (changes
        since then are pulled next). A page that no longer follows the stored cursor (another
        thread applied one meanwhile) is dropped: False."""
        _check(schema_revision)
        with self._unchecked() as session:
            session.info[REPLICATING] = True
            stored = session.execute(_READ_SNAPSHOT).scalar_one_or_none()
            seq = int(session.execute(_READ_SEQ).scalar_one_or_none() or 0)
            if _cursor(stored, seq) != cursor:
                return False
            # A replica taking its snapshot again (re-keyed) holds these rows' links already.
            _apply_all(session, page["entities"], fresh=seq == 0)
            following = page["next"]
            if following is None:
                session.execute(SAVE_SEQ, {"v": str(page["at"])})
                session.execute(_SAVE_SNAPSHOT, {"v": SNAPSHOT_DONE})
            else:
                state = {"at": page["at"], "kind": following["kind"], "after": following["after"]}
                session.execute(_SAVE_SNAPSHOT, {"v": json.dumps(state)})
        return True

    @contextmanager
    def _unchecked(self) -> Iterator[Session]:
        """A write transaction without foreign-key checks: a snapshot page may refer to rows
        of a later page (an account's parent, a delegate), or to one changed after the
        snapshot's number, which the changes pulled next bring."""
        with self.database.engine.connect() as connection:
            driver: Any = connection.connection.driver_connection
            driver.execute("PRAGMA foreign_keys = OFF")  # outside a transaction, or ignored
            try:
                with Session(bind=connection) as session, session.begin():
                    yield session
            finally:
                driver.execute("PRAGMA foreign_keys = ON")

    def apply(
        self, schema_revision: str, since: int, upto: int, entities: list[dict[str, Any]]
    ) -> bool:
        """Apply one page of the feed (asked for ``since``) and move N to ``upto``, all in one
        transaction. A page that no longer follows N (another thread applied one meanwhile)
        is dropped: False."""
        _check(schema_revision)
        with self.database.session() as session:
            session.info[REPLICATING] = True  # not an offline effect: not journaled
            current = session.execute(_READ_SEQ).scalar_one_or_none()
            if int(current or 0) != since:
                return False
            session.execute(text("PRAGMA defer_foreign_keys = ON"))
            _apply_all(session, entities)
            session.execute(SAVE_SEQ, {"v": str(upto)})
        return True


def _check(schema_revision: str) -> None:
    if schema_revision != head_revision():
        raise SchemaMismatch(
            f"the App Server's schema is {schema_revision!r}, this site's is "
            f"{head_revision()!r}: upgrade the older one; nothing was applied"
        )


def _cursor(stored: str | None, seq: int) -> dict[str, Any] | None:
    if stored == SNAPSHOT_DONE or (stored is None and seq > 0):
        return None
    return dict(FIRST_PAGE) if stored is None else dict(json.loads(stored))


def _apply_all(session: Session, entities: list[dict[str, Any]], *, fresh: bool = False) -> None:
    """Kinds applied in bulk first (users, accounts), the rest one by one. ``fresh`` (a
    snapshot page): the replica cannot hold these rows' link rows yet, so none are deleted."""
    for bulk in _BULK:
        _in_bulk(session, bulk, [e for e in entities if e["entity"] == bulk.name], fresh)
    for entity in entities:
        kind = BY_NAME.get(str(entity["entity"]))
        if kind is not None and kind.apply is not SiteApply.BULK:
            _ONE_BY_ONE[kind.apply](session, kind.model, dict(entity["row"]), int(entity["seq"]))


def _upsert(session: Session, model: type[Base], entities: list[dict[str, Any]]) -> list[int]:
    """Insert or replace the rows of ``entities`` in one executemany; their ids."""
    rows = [entity["row"] for entity in entities]
    _executemany(session, model, rows, upsert=True, seqs=[int(e["seq"]) for e in entities])
    return [int(row["id"]) for row in rows]


def _replace_children(
    session: Session,
    model: type[Base],
    key: Any,
    ids: list[int],
    rows: list[dict[str, Any]],
    fresh: bool,
) -> None:
    for start in range(0, 0 if fresh else len(ids), 2000):
        session.execute(delete(model).where(key.in_(ids[start : start + 2000])))
    _executemany(session, model, rows, upsert=False)


def _executemany(
    session: Session,
    model: type[Base],
    rows: list[dict[str, Any]],
    *,
    upsert: bool,
    seqs: list[int] | None = None,
) -> None:
    """Insert (``upsert``: or replace by id) ``rows`` — as the feed sends them, timestamps
    as ISO text — with one executemany of the driver, in the session's transaction; ``seqs``
    their change numbers (else the rows hold them). SQLAlchemy's per-row parameter handling
    (ORM or Core) costs more than SQLite's own work here; the column types' own bind
    processors still apply."""
    if not rows:
        return
    dialect = session.get_bind().dialect
    sql, columns = _insert_sql(model, upsert)
    given = columns[:-1] if seqs is not None else columns  # change_seq comes last
    processors = _processors(model, dialect)
    params: list[Any] = _values(rows, given)
    if processors or seqs is not None:
        params = _processed(params, processors, seqs)
    driver: Any = session.connection().connection.driver_connection
    driver.executemany(sql, params)


def _values(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[Any]:
    """Each row's values of ``columns`` (absent: None), as tuples."""
    pick = itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
    try:
        return [pick(row) for row in rows]  # every column present: the fast way
    except KeyError:
        return [tuple(row.get(key) for key in columns) for row in rows]


def _processed(
    params: list[Any], processors: tuple[tuple[int, Any], ...], seqs: list[int] | None
) -> list[Any]:
    """Each row's values through the processors, with its change number appended: column
    by column (the transpositions are ``zip``'s, in C; a loop over each row's values cost
    more than the processors)."""
    if not params:
        return params
    columns: list[Sequence[Any]] = list(zip(*params, strict=True))
    for index, process in processors:
        columns[index] = [None if v is None else process(v) for v in columns[index]]
    if seqs is not None:
        columns.append(seqs)
    return list(zip(*columns, strict=True))


@cache
def _insert_sql(model: type[Base], upsert: bool) -> tuple[str, tuple[str, ...]]:
    """The statement, and its columns: the table's, ``change_seq`` last."""
    keys = [c.key for c in model.__table__.columns]
    columns = tuple(k for k in keys if k != "change_seq")
    columns += ("change_seq",) if "change_seq" in keys else ()
    # Table and column names from our own models, never from input.
    names, marks = ", ".join(columns), ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {model.__tablename__} ({names}) VALUES ({marks})"  # noqa: S608
    if upsert:
        changed = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id")
        sql += f" ON CONFLICT (id) DO UPDATE SET {changed}"
    return sql, columns


@cache
def _processors(model: type[Base], dialect: Dialect) -> tuple[tuple[int, Any], ...]:
    """``(index in the statement's columns, bind processor)`` of the columns that have one
    (timestamps, JSON); a timestamp's first parses ISO text. Booleans go as they are: the
    driver stores ``True`` as 1, as their processor would."""
    table_columns = model.__table__.columns
    found = []
    for index, key in enumerate(_insert_sql(model, False)[1]):
        column = table_columns[key]
        if isinstance(column.type, Boolean):
            continue
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        if isinstance(column.type, DateTime):
            process = _from_text(process)
        if process is not None:
            found.append((index, process))
    return tuple(found)


def _from_text(process: Any) -> Any:
    """ISO text (or a datetime) to what ``process`` stores: SQLAlchemy's SQLite text form,
    made from the text itself or by ``datetime.isoformat`` when that gives the very same
    text (checked once)."""
    probe = datetime(2026, 11, 25, 13, 5, 7, 120, tzinfo=UTC)
    fast = process is not None and process(probe) == _stored(probe)

    def stored(value: Any) -> Any:
        if isinstance(value, str):
            text, value = value, datetime.fromisoformat(value)  # refuses what is no time
            found = _UTC_TEXT.fullmatch(text) if fast else None
            if found is not None:  # as the feed sends them: a slice, in half the time
                return f"{text[:10]} {text[11:19]}{found[1] or '.000000'}"
        if fast:
            return _stored(value)
        return process(value) if process is not None else value

    return stored


# A time as ``datetime.isoformat`` writes one in UTC (or naive): its stored text is a slice.
_UTC_TEXT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?(?:\+00:00)?", re.ASCII)


def _stored(value: datetime) -> str:
    return value.isoformat(" ", "microseconds")[:26]


def _in_bulk(session: Session, kind: Kind, entities: list[dict[str, Any]], fresh: bool) -> None:
    """Rows with their link rows: a whole page in a few statements (an initial sync of
    100,000 users must not cost a round of statements per user)."""
    if not entities:
        return
    ids = _upsert(session, kind.model, entities)
    for link in kind.links:
        rows = [
            link.site_row(int(entity["row"]["id"]), int(entity["seq"]), value)
            for entity in entities
            for value in entity[link.field]
        ]
        owner = getattr(link.model, link.owner)
        _replace_children(session, link.model, owner, ids, rows, fresh)


def _merge(session: Session, model: type[Base], row: dict[str, Any], seq: int) -> None:
    values = _typed(model, row)
    if "change_seq" in model.__table__.columns:
        values["change_seq"] = seq
    session.merge(model(**values))
    session.flush()


def _typed(model: type[Base], row: dict[str, Any]) -> dict[str, Any]:
    """The columns of ``model`` in ``row``, timestamps parsed (they travel as ISO text)."""
    columns, timestamps = _columns(model)
    values = {key: row[key] for key in columns if key in row}
    for key in timestamps:
        if isinstance(values.get(key), str):
            values[key] = datetime.fromisoformat(values[key])
    return values


@cache
def _columns(model: type[Base]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The column keys of ``model``, and those of its timestamps."""
    columns = model.__table__.columns
    return (
        tuple(c.key for c in columns),
        tuple(c.key for c in columns if isinstance(c.type, DateTime)),
    )


def _by_job_ref(session: Session, model: Any, row: dict[str, Any], seq: int) -> None:
    """Held jobs match by ``job_ref``: one the site recorded offline has a local id."""
    values = _typed(model, row)
    values.pop("id", None)
    found = session.scalar(select(model).where(model.job_ref == values["job_ref"]))
    if found is None:
        found = model(**values, change_seq=seq)
        session.add(found)
    else:
        for name, value in values.items():
            setattr(found, name, value)
        found.change_seq = seq
    session.flush()


_BULK = tuple(kind for kind in KINDS if kind.apply is SiteApply.BULK)
_ONE_BY_ONE: dict[SiteApply, Callable[[Session, Any, dict[str, Any], int], None]] = {
    SiteApply.MERGE: _merge,
    SiteApply.BY_JOB_REF: _by_job_ref,
}
