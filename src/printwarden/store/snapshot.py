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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Column, Select, Table, select
from sqlalchemy.orm import Session

from printwarden.store.changes import last_change_seq
from printwarden.store.models import (
    AccountGrantRow,
    AccountRow,
    ApiTokenRow,
    Base,
    CardRow,
    DeviceRow,
    GroupRow,
    HeldJobRow,
    MembershipRow,
    PrinterRow,
    PrintTokenRow,
    ProviderRow,
    ReleaseDelegateRow,
    SettingRow,
    UserRow,
)
from printwarden.store.replication import SiteScope, site_scope
from printwarden.store.site_numbers import SiteNumbers

Children = Callable[[Session, list[int], SiteNumbers], dict[str, dict[int, list[Any]]]]
# In this order: what a row refers to comes first (the site checks no foreign keys while
# applying a snapshot; the order only keeps its replica tidy as it fills).
KINDS: tuple[tuple[str, type[Base]], ...] = (
    ("group", GroupRow),
    ("printer", PrinterRow),
    ("device", DeviceRow),
    ("provider", ProviderRow),
    ("setting", SettingRow),
    ("user", UserRow),
    ("account", AccountRow),
    ("held_job", HeldJobRow),
    ("token", ApiTokenRow),
    ("print_token", PrintTokenRow),  # last: a site's stored cursor keeps its kind
)


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a snapshot goes on: the kind (an index into ``KINDS``) and the last key sent."""

    kind: int = 0
    after: int | str | None = None


@dataclass(frozen=True, slots=True)
class SnapshotPage:
    """Entities of the snapshot taken at change number ``at``; ``next`` None: the last page."""

    at: int
    entities: list[dict[str, Any]]
    next: Cursor | None


def typed(cursor: Cursor) -> Cursor:
    """``cursor`` as it came over HTTP (``after`` as text), with ``after`` of its kind's key
    type; ValueError if it names no kind or cannot be such a key."""
    if not 0 <= cursor.kind <= len(KINDS):
        raise ValueError(f"no snapshot kind {cursor.kind}")
    if cursor.after is None or cursor.kind == len(KINDS):
        return cursor
    if _key(KINDS[cursor.kind][1]).type.python_type is int:
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
    entities: list[dict[str, Any]] = []
    kind, after = cursor.kind, cursor.after
    while kind < len(KINDS) and len(entities) < limit:
        wanted = limit - len(entities)
        rows = _rows(session, scope, kind, after, wanted)
        last = rows[-1][_key(KINDS[kind][1]).key] if rows else None
        entities.extend(_entities(session, KINDS[kind][0], rows, numbers))
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
    model = KINDS[kind][1]
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
    session: Session, entity: str, rows: list[dict[str, Any]], numbers: SiteNumbers
) -> list[dict[str, Any]]:
    """The feed's entities (timestamps stay ``datetime``: the page's JSON encoder writes
    them in ISO 8601, as the feed does); users as the site may see them."""
    children = _CHILDREN.get(entity)
    found = children(session, [int(r["id"]) for r in rows], numbers) if children and rows else {}
    result = []
    for row in rows:
        if entity == "user":
            numbers.user_row(row)
        seq = row.pop("change_seq")
        links = {name: by_id.get(row["id"], []) for name, by_id in found.items()}
        result.append({"entity": entity, "seq": seq, "row": row, **links})
    return result


def _grouped(
    session: Session, statement: Select[Any, Any], key: Any, ids: list[int]
) -> dict[int, list[Any]]:
    """``{owner id: [value, …]}`` of the link rows of a page's rows: the page holds every row
    with a key in ``[ids[0], ids[-1]]`` (users and accounts are not scoped), so a range."""
    found: dict[int, list[Any]] = {}
    for owner, value in session.connection().execute(statement.where(key.between(ids[0], ids[-1]))):
        found.setdefault(owner, []).append(value)
    return found


def _user_links(
    session: Session, ids: list[int], numbers: SiteNumbers
) -> dict[str, dict[int, list[Any]]]:
    """A user's card hashes (the site's), group ids and delegates, as the feed sends them."""
    member = select(MembershipRow.user_id, MembershipRow.group_id)
    delegate = select(ReleaseDelegateRow.owner_id, ReleaseDelegateRow.delegate_id)
    return {
        "cards": _site_cards(session, ids, numbers),
        "group_ids": _grouped(session, member, MembershipRow.user_id, ids),
        "delegate_ids": _grouped(session, delegate, ReleaseDelegateRow.owner_id, ids),
    }


def _site_cards(session: Session, ids: list[int], numbers: SiteNumbers) -> dict[int, list[Any]]:
    """``{user id: [the site's card hash, …]}`` of the users in ``[ids[0], ids[-1]]``."""
    stored: dict[int, list[tuple[str, bytes | None]]] = {}
    card = select(CardRow.user_id, CardRow.card_hash, CardRow.sealed)
    for owner, hashed, sealed in session.connection().execute(
        card.where(CardRow.user_id.between(ids[0], ids[-1]))
    ):
        stored.setdefault(owner, []).append((hashed, sealed))
    return {owner: numbers.cards(found) for owner, found in stored.items()}


def _grants(
    session: Session, ids: list[int], _numbers: SiteNumbers
) -> dict[str, dict[int, list[Any]]]:
    columns = (AccountGrantRow.user_id, AccountGrantRow.group_id)
    grant = select(AccountGrantRow.account_id, *columns)
    found: dict[int, list[Any]] = {}
    range_ = AccountGrantRow.account_id.between(ids[0], ids[-1])
    for account_id, user_id, group_id in session.connection().execute(grant.where(range_)):
        found.setdefault(account_id, []).append({"user_id": user_id, "group_id": group_id})
    return {"grants": found}


_CHILDREN: dict[str, Children] = {"user": _user_links, "account": _grants}
