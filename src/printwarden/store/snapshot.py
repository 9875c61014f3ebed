"""A new site's first copy of everything it receives: a snapshot, paged by primary key.

The feed (``replication.changes``) pages by change number and never splits one, so a bulk
import — one transaction, one number — is one page of hundreds of thousands of entities.
A snapshot instead pages kind after kind (groups, printers, …, users, accounts, …) in
primary-key order (keyset: ``WHERE key > :after ORDER BY key LIMIT n``), about ``limit``
entities a page, built from plain rows.

**Why nothing is missed.** The first page reads the change counter, ``at``, before any row;
every change numbered up to ``at`` has committed by then (numbers are handed out in commit
order, see ``store/changes.py``). Each page then reads rows as they are *now*, so every row
whose latest change is ``<= at`` arrives in that state. A row changed later — updated,
created behind the cursor, soft-deleted — has a number ``> at``, and the site's incremental
pull "since ``at``", which begins once the snapshot is applied, sends it whole in its latest
state. At worst a row arrives twice (in a newer state first, then the same or newer): whole
entities, so never older. Rows are never hard-deleted (only link rows, sent with their
parent), so a row the snapshot sends never has to be taken back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Column, Select, Table, select
from sqlalchemy.orm import Session

from printwarden.store.changes import last_change_seq
from printwarden.store.models import Base
from printwarden.store.replicated_kinds import KINDS, Entity, Kind
from printwarden.store.replication import SiteScope, site_scope
from printwarden.store.site_numbers import SiteNumbers


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a snapshot goes on: the kind (an index into ``replicated_kinds.KINDS``, whose
    order is the snapshot's) and the last key sent."""

    kind: int = 0
    after: int | str | None = None


@dataclass(frozen=True, slots=True)
class SnapshotPage:
    """Entities of the snapshot taken at change number ``at``; ``next`` None: the last page."""

    at: int
    entities: list[Entity]
    next: Cursor | None


def typed(cursor: Cursor) -> Cursor:
    """``cursor`` as it came over HTTP (``after`` as text), with ``after`` of its kind's key
    type; ValueError if it names no kind or cannot be such a key."""
    if not 0 <= cursor.kind <= len(KINDS):
        raise ValueError(f"no snapshot kind {cursor.kind}")
    if cursor.after is None or cursor.kind == len(KINDS):
        return cursor
    if _key(KINDS[cursor.kind].model).type.python_type is int:
        return Cursor(cursor.kind, int(cursor.after))
    return Cursor(cursor.kind, str(cursor.after))


def snapshot(
    session: Session, site: str, at: int | None, cursor: Cursor, limit: int, *,
    numbers: SiteNumbers,
) -> SnapshotPage:  # fmt: skip
    """The page of ``site``'s snapshot after ``cursor``, about ``limit`` entities. ``at``
    None starts a snapshot: the change counter is read first (see the module). ``numbers``
    hashes card and identity numbers under the site's key."""
    at = last_change_seq(session) if at is None else at
    scope = site_scope(session, site)
    entities: list[Entity] = []
    kind, after = cursor.kind, cursor.after
    while kind < len(KINDS) and len(entities) < limit:
        wanted = limit - len(entities)
        rows = _rows(session, scope, kind, after, wanted)
        last = rows[-1][_key(KINDS[kind].model).key] if rows else None
        entities.extend(_entities(session, KINDS[kind], rows, numbers))
        if len(rows) < wanted:
            kind, after = kind + 1, None
        else:
            after = last
    numbers.report()
    return SnapshotPage(at, entities, Cursor(kind, after) if kind < len(KINDS) else None)


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


def _key(model: type[Base]) -> Column[Any]:
    (column,) = _table(model).primary_key.columns
    return column


def _rows(
    session: Session, scope: SiteScope, kind: int, after: int | str | None, limit: int
) -> list[dict[str, Any]]:
    model = KINDS[kind].model
    key = _key(model)
    statement: Select[Any] = select(_table(model)).order_by(key).limit(limit)
    if after is not None:
        statement = statement.where(key > after)
    where = scope.where(model)
    if where is not None:
        statement = statement.where(where)
    result = session.connection().execute(statement)
    keys = list(result.keys())
    return [dict(zip(keys, values, strict=True)) for values in result]


def _entities(
    session: Session, kind: Kind, rows: list[dict[str, Any]], numbers: SiteNumbers
) -> list[Entity]:
    """The feed's entities (timestamps stay ``datetime``: the page's JSON encoder writes
    them in ISO 8601, as the feed does)."""
    links = kind.links_of(session, rows, _key_range, numbers, feed=False) if rows else {}
    return [kind.entity(row.pop("change_seq"), row, links, numbers) for row in rows]


def _key_range(key: Any, ids: list[int]) -> list[Any]:
    """A filter for the link rows of a page's rows: the page holds every row with a key in
    ``[ids[0], ids[-1]]`` (users and accounts are not scoped), so a range."""
    return [key.between(ids[0], ids[-1])]
