"""The ledger in the database: idempotent by transaction id, balances updated in step."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, func, select, text, update
from sqlalchemy.orm import Session

from printwarden.domain.ledger import Transaction, TransactionKind
from printwarden.store import bulk, user_events
from printwarden.store.changes import change_seq
from printwarden.store.models import AccountRow, TransactionRow


class IdempotencyConflict(Exception):
    """A transaction id was reused for a different effect."""


class UnknownAccount(LookupError):
    """The account a transaction names does not exist."""


_TRANSACTIONS = cast(Table, TransactionRow.__table__)
_ACCOUNTS = cast(Table, AccountRow.__table__)
# SQLite: one executemany UPDATE for every account a batch moves (compiled once, cached).
_MOVE_BALANCE = (
    update(_ACCOUNTS)
    .where(_ACCOUNTS.c.id == bindparam("account_id_"))
    .values(balance=_ACCOUNTS.c.balance + bindparam("amount_"), change_seq=bindparam("seq_"))
)
# PostgreSQL: one statement for all of them. The accounts are locked in id order first, as
# the executemany does, so concurrent batches moving the same accounts cannot deadlock.
_MOVE_BALANCES_PG = text(
    "WITH moves AS ("
    " SELECT a.id, m.amount FROM accounts a"
    " JOIN unnest(CAST(:ids AS BIGINT[]), CAST(:amounts AS BIGINT[])) AS m(id, amount)"
    " ON a.id = m.id ORDER BY a.id FOR NO KEY UPDATE OF a)"
    " UPDATE accounts SET balance = accounts.balance + moves.amount, change_seq = :seq"
    " FROM moves WHERE accounts.id = moves.id"
)
_LOOKUP = 10_000  # ids per IN list (SQLite limits the parameters of one statement)
_NEW_ONLY_PG = "ON CONFLICT (txn_id) DO NOTHING RETURNING txn_id"


def _insert(session: Session, txns: Sequence[Transaction]) -> set[str]:
    """Insert the transactions not yet recorded (in the order given); the ids really inserted."""
    if bulk.uses_arrays(session):
        columns = _columns(txns)
        return set(bulk.insert_arrays(session, _TRANSACTIONS, columns, _NEW_ONLY_PG).scalars())
    # SQLite: the transaction holds the database's write lock (BEGIN IMMEDIATE), so the ids
    # not recorded now are those a plain insert adds (a race would fail it, not skip rows).
    seen = recorded(session, [t.id for t in txns])
    new = []
    for txn in txns:  # recorded ones, and an id repeated within txns, are skipped
        if txn.id not in seen:
            seen.add(txn.id)
            new.append(txn)
    if new:
        bulk.insert_columns(session, _TRANSACTIONS, _columns(new))
    return {t.id for t in new}


def recorded(session: Session, txn_ids: list[str]) -> set[str]:
    """The ids among ``txn_ids`` the ledger holds (looked up at most ``_LOOKUP`` at a time:
    SQLite bounds the parameters of one statement)."""
    found: set[str] = set()
    column = _TRANSACTIONS.c.txn_id
    for start in range(0, len(txn_ids), _LOOKUP):
        some = txn_ids[start : start + _LOOKUP]
        statement = select(column).where(bulk.among(session, column, some))
        found.update(session.connection().execute(statement).scalars())
    return found


def _columns(txns: Sequence[Transaction]) -> dict[str, list[Any]]:
    """The transactions' rows, one list per column."""
    moment = datetime.now(UTC)
    return {
        "txn_id": [t.id for t in txns],
        "account_id": [t.account_id for t in txns],
        "amount": [t.amount for t in txns],
        "kind": [str(t.kind) for t in txns],
        "reference": [t.reference for t in txns],
        "origin": [t.origin for t in txns],
        "created_at": [t.created_at or moment for t in txns],
        "comment": [t.comment for t in txns],
    }


def to_domain(row: TransactionRow | Row[Any]) -> Transaction:
    """The domain transaction of an ORM row or a plain row of the ``transactions`` table."""
    return Transaction(
        id=row.txn_id,
        account_id=row.account_id,
        amount=row.amount,
        kind=TransactionKind(row.kind),
        reference=row.reference,
        origin=row.origin,
        created_at=row.created_at,
        comment=row.comment,
    )


def apply_transactions(
    session: Session, txns: Sequence[Transaction], *, accounts_found: bool = False
) -> list[tuple[Transaction, bool]]:
    """Apply each transaction at most once, ever; return each recorded one and whether it is new.

    The UNIQUE constraint on ``txn_id`` decides: ``INSERT … ON CONFLICT DO NOTHING``, and only
    the rows really inserted move balances. A replayed id returns the original transaction;
    an id reused for a different effect raises :class:`IdempotencyConflict`. Accounts that do
    not exist raise :class:`UnknownAccount`, unless the caller says it read them all in this
    database transaction (``accounts_found``; accounts are never deleted).
    """
    if not txns:
        return []
    if not accounts_found:
        _check_accounts(session, {t.account_id for t in txns})
    # Rows go in in txn_id order: concurrent batches that share ids then wait on each other's
    # unique-index entries in one order, so they cannot deadlock (PostgreSQL).
    first = _first_occurrences(txns)
    inserted = _insert(session, sorted(first, key=lambda t: t.id))
    _move_balances(session, [t for t in first if t.id in inserted])
    if len(inserted) == len(txns):  # all new, none repeated: the common case
        return [(t, True) for t in txns]
    return _results(session, txns, inserted)


def _first_occurrences(txns: Sequence[Transaction]) -> list[Transaction]:
    unique: dict[str, Transaction] = {}
    for txn in txns:
        unique.setdefault(txn.id, txn)
    return list(unique.values())


def apply_transaction(session: Session, txn: Transaction) -> tuple[Transaction, bool]:
    """Apply one transaction idempotently (see :func:`apply_transactions`)."""
    return apply_transactions(session, [txn])[0]


def _check_accounts(session: Session, account_ids: set[int]) -> None:
    statement = select(_ACCOUNTS.c.id).where(bulk.among(session, _ACCOUNTS.c.id, account_ids))
    found = set(session.connection().execute(statement).scalars())
    missing = account_ids - found
    if missing:
        raise UnknownAccount(f"no account with id {min(missing)}")


def _move_balances(session: Session, new: Sequence[Transaction]) -> None:
    totals: dict[int, int] = {}
    for txn in new:
        totals[txn.account_id] = totals.get(txn.account_id, 0) + txn.amount
    if not totals:
        return
    seq = change_seq(session)
    moves = sorted(totals.items())
    if bulk.uses_arrays(session):
        ids, amounts = bulk.literal([a for a, _ in moves]), bulk.literal([m for _, m in moves])
        session.connection().execute(
            _MOVE_BALANCES_PG, {"ids": ids, "amounts": amounts, "seq": seq}
        )
    else:
        params = [{"account_id_": a, "amount_": m, "seq_": seq} for a, m in moves]
        session.connection().execute(_MOVE_BALANCE, params)
    _tell_owners(session, totals)
    # Core bypasses the identity map: loaded accounts must re-read what was just written.
    # (By key, not by ``obj.id``: reading an expired object's id would load it.)
    for state in session.identity_map.all_states():
        key, loaded = state.key, state.obj()
        if key is not None and key[0] is AccountRow and key[1][0] in totals and loaded:
            session.expire(loaded, ["balance", "change_seq"])


def _tell_owners(session: Session, totals: dict[int, int]) -> None:
    """Tell the owners of the personal accounts that moved their new balance."""
    columns = (_ACCOUNTS.c.id, _ACCOUNTS.c.owner_id, _ACCOUNTS.c.balance, _ACCOUNTS.c.restricted)
    personal = select(*columns).where(
        bulk.among(session, _ACCOUNTS.c.id, totals), _ACCOUNTS.c.owner_id.is_not(None)
    )
    for account_id, owner_id, balance, restricted in session.connection().execute(personal):
        moved = {"balance": balance, "previous": balance - totals[account_id]}
        user_events.note(session, owner_id, "balance", {**moved, "restricted": restricted})


def _results(
    session: Session, txns: Sequence[Transaction], inserted: set[str]
) -> list[tuple[Transaction, bool]]:
    recorded = {t.id: t for t in _first_occurrences(txns) if t.id in inserted}
    replayed = {t.id for t in txns} - inserted
    if replayed:
        # Plain rows, not ORM objects: a replayed batch reads thousands of them.
        table = TransactionRow.__table__
        rows = session.execute(select(table).where(bulk.among(session, table.c.txn_id, replayed)))
        recorded.update((row.txn_id, to_domain(row)) for row in rows)
    results: list[tuple[Transaction, bool]] = []
    reported_new: set[str] = set()
    for txn in txns:
        original = recorded[txn.id]
        if txn.id in inserted and txn.id not in reported_new:
            reported_new.add(txn.id)
            results.append((original, True))
            continue
        if not original.same_effect(txn):
            raise IdempotencyConflict(f"transaction {txn.id} was already recorded differently")
        results.append((original, False))
    return results


def ledger_sum(session: Session, account_id: int) -> int:
    """The sum of an account's ledger (its balance, by definition)."""
    total = session.scalar(
        select(func.coalesce(func.sum(TransactionRow.amount), 0)).where(
            TransactionRow.account_id == account_id
        )
    )
    return int(total or 0)


def recent(
    session: Session,
    *,
    account_id: int | None = None,
    kind: str | None = None,
    origin: str | None = None,
    before: int | None = None,
    limit: int = 100,
    by_time: bool = False,
) -> list[TransactionRow]:
    """Ledger entries, newest recorded first, optionally filtered; page with ``before`` (a
    ``seq``). ``by_time``: newest *effect* first instead — a charge made at a site during an
    outage is recorded when the site reconciles, but happened (``created_at``) earlier."""
    query = select(TransactionRow)
    if account_id is not None:
        query = query.where(TransactionRow.account_id == account_id)
    if kind is not None:
        query = query.where(TransactionRow.kind == kind)
    if origin is not None:
        query = query.where(TransactionRow.origin == origin)
    if before is not None:
        query = query.where(TransactionRow.seq < before)
    order = (
        (TransactionRow.created_at.desc(), TransactionRow.seq.desc())
        if by_time
        else (TransactionRow.seq.desc(),)
    )
    return list(session.scalars(query.order_by(*order).limit(limit)))
