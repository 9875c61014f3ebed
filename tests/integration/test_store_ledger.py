"""The ledger in the database: idempotent by transaction id, on SQLite and PostgreSQL.

These tests use the store directly (no App Server): ``apply_transactions`` must apply each
transaction id at most once, ever, keep the cached balance equal to the ledger sum, and stamp
every balance change with a fresh change sequence number.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from printwarden.domain.ids import new_id
from printwarden.domain.ledger import Transaction, TransactionKind
from printwarden.store import users
from printwarden.store.changes import change_seq, last_change_seq
from printwarden.store.db import Database
from printwarden.store.ledger import (
    IdempotencyConflict,
    UnknownAccount,
    apply_transaction,
    apply_transactions,
    ledger_sum,
)
from printwarden.store.migrate import upgrade
from printwarden.store.models import AccountRow, TransactionRow

SECRET = b"ledger-test-secret-" + b"x" * 13
THREADS = 4
IDS = 200
MISSING_ACCOUNT = 987_654_321


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: a SQLite file or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = str(request.getfixturevalue("pg_url"))
    upgrade(url)
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        database.dispose()


def make_account(db: Database) -> int:
    """A new user's personal account id."""
    with db.session() as session:
        name = f"ledger-{uuid.uuid4().hex[:10]}"
        row = users.create_user(session, SECRET, name, users.UserChanges())
        return users.personal_account(session, row.id).id


def txn(
    account_id: int, amount: int, txn_id: str | None = None, reference: str = "", comment: str = ""
) -> Transaction:
    return Transaction(
        id=txn_id or new_id(),
        account_id=account_id,
        amount=amount,
        kind=TransactionKind.TOP_UP,
        reference=reference,
        comment=comment,
    )


def cached_balance(db: Database, account_id: int) -> int:
    with db.read() as session:
        return session.get_one(AccountRow, account_id).balance


def account_seq(db: Database, account_id: int) -> int:
    with db.read() as session:
        return session.get_one(AccountRow, account_id).change_seq


def ledger_total(db: Database, account_id: int) -> int:
    with db.read() as session:
        return ledger_sum(session, account_id)


def rows_with(db: Database, txn_ids: list[str]) -> int:
    with db.read() as session:
        count = session.scalar(
            select(func.count())
            .select_from(TransactionRow)
            .where(TransactionRow.txn_id.in_(txn_ids))
        )
        return int(count or 0)


def counter(db: Database) -> int:
    with db.read() as session:
        return last_change_seq(session)


def test_replaying_an_id_in_another_transaction_returns_the_original(db: Database) -> None:
    account = make_account(db)
    first = txn(account, 500, reference="first", comment="original")
    with db.session() as session:
        recorded, new = apply_transaction(session, first)
    assert new is True
    assert recorded.id == first.id
    assert cached_balance(db, account) == 500

    replay = txn(account, 500, first.id, reference="second", comment="replayed")
    for _ in range(2):
        with db.session() as session:
            recorded, new = apply_transaction(session, replay)
        assert new is False
        # The stored original comes back, not the replayed copy.
        assert (recorded.id, recorded.account_id, recorded.amount) == (first.id, account, 500)
        assert recorded.reference == "first"
        assert recorded.comment == "original"

    assert cached_balance(db, account) == 500
    assert ledger_total(db, account) == 500
    assert rows_with(db, [first.id]) == 1


def test_a_batch_with_duplicates_moves_the_balance_once_per_id(db: Database) -> None:
    account = make_account(db)
    a, b = txn(account, 100), txn(account, 30)
    batch = [a, b, a, txn(account, 100, a.id), b]
    with db.session() as session:
        results = apply_transactions(session, batch)
    assert [r.id for r, _ in results] == [a.id, b.id, a.id, a.id, b.id]
    assert [new for _, new in results] == [True, True, False, False, False]
    assert cached_balance(db, account) == 130
    assert ledger_total(db, account) == 130
    assert rows_with(db, [a.id, b.id]) == 2

    # The whole batch again, later: nothing new, nothing moves.
    with db.session() as session:
        again = apply_transactions(session, batch)
    assert [new for _, new in again] == [False] * len(batch)
    assert cached_balance(db, account) == 130
    assert rows_with(db, [a.id, b.id]) == 2


def test_the_unique_constraint_itself_rejects_a_duplicate_txn_id(db: Database) -> None:
    account = make_account(db)
    txn_id = new_id()
    values = {
        "txn_id": txn_id,
        "account_id": account,
        "amount": 1,
        "kind": TransactionKind.ADJUSTMENT.value,
        "reference": "",
        "origin": "app",
        "created_at": datetime.now(UTC),
        "comment": "",
    }
    with db.engine.begin() as conn:
        conn.execute(insert(TransactionRow).values(values))
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        conn.execute(insert(TransactionRow).values({**values, "amount": 2}))
    assert rows_with(db, [txn_id]) == 1


def _apply_concurrently(url: str, txns: list[Transaction], batch: int) -> list[list[str]]:
    """THREADS appliers, each with its own Database, apply ``txns`` in their own orders.

    Returns, per thread, the ids it was told were new; re-raises the first error.
    """
    new_ids: list[list[str]] = [[] for _ in range(THREADS)]
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def work(index: int) -> None:
        order = txns[:]
        random.Random(index).shuffle(order)
        database = Database(url)
        try:
            start.wait()
            for offset in range(0, len(order), batch):
                with database.session() as session:
                    results = apply_transactions(session, order[offset : offset + batch])
                new_ids[index].extend(t.id for t, new in results if new)
        except BaseException as exc:
            errors.append(exc)
        finally:
            database.dispose()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    if errors:
        raise errors[0]
    return new_ids


@pytest.mark.parametrize("batch", [1, 50], ids=["one-per-transaction", "batches-of-50"])
def test_concurrent_appliers_apply_each_id_exactly_once(
    db: Database, database_url: str, batch: int
) -> None:
    account = make_account(db)
    rng = random.Random(batch)
    txns = [txn(account, rng.randint(1, 1_000)) for _ in range(IDS)]
    expected = sum(t.amount for t in txns)

    new_ids = _apply_concurrently(database_url, txns, batch)

    reported = [txn_id for ids in new_ids for txn_id in ids]
    assert sorted(reported) == sorted(t.id for t in txns)  # each id new for exactly one thread
    assert rows_with(db, [t.id for t in txns]) == IDS
    assert cached_balance(db, account) == expected
    assert ledger_total(db, account) == expected


def test_change_numbers_are_unique_and_gapless_under_concurrency(
    db: Database, database_url: str
) -> None:
    account = make_account(db)
    txns = [txn(account, 1) for _ in range(60)]
    before = counter(db)
    taken: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(index: int) -> None:
        order = txns[:]
        random.Random(index).shuffle(order)
        database = Database(database_url)
        try:
            for t in order:
                with database.session() as session:
                    ((_, new),) = apply_transactions(session, [t])
                    if new:  # the number this transaction took (cached, not a new one)
                        seq = change_seq(session)
                        with lock:
                            taken.append(seq)
        except BaseException as exc:
            errors.append(exc)
        finally:
            database.dispose()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    # One number per transaction that changed a balance; replays take none.
    assert sorted(taken) == list(range(before + 1, before + 1 + len(txns)))
    assert counter(db) == before + len(txns)
    assert account_seq(db, account) == before + len(txns)


def test_every_balance_change_bumps_the_change_seq(db: Database) -> None:
    account, other = make_account(db), make_account(db)
    seen = [account_seq(db, account)]
    counters = [counter(db)]
    for amount in (5, -3, 40):
        with db.session() as session:
            apply_transaction(session, txn(account, amount))
        seen.append(account_seq(db, account))
        counters.append(counter(db))
    assert seen == sorted(set(seen)), seen  # strictly increasing
    assert counters == sorted(set(counters)), counters
    assert seen[1:] == counters[1:]  # the account carries its latest transaction's number

    # One database transaction touching two accounts: both get the same, newer number.
    with db.session() as session:
        apply_transactions(session, [txn(account, 1), txn(other, 2)])
    assert account_seq(db, account) == account_seq(db, other) == counter(db) > counters[-1]

    # A replay changes no balance, so it takes no number.
    stamp = counter(db)
    first = txn(account, 7)
    with db.session() as session:
        apply_transaction(session, first)
    with db.session() as session:
        apply_transaction(session, first)
    assert counter(db) == stamp + 1
    assert account_seq(db, account) == stamp + 1


def test_an_id_reused_with_a_different_effect_is_a_conflict(db: Database) -> None:
    account, other = make_account(db), make_account(db)
    original = txn(account, 100)
    with db.session() as session:
        apply_transaction(session, original)
    stamp = counter(db)

    for changed in (
        txn(account, 101, original.id),
        txn(other, 100, original.id),
        Transaction(original.id, account, 100, TransactionKind.ADJUSTMENT),
    ):
        with pytest.raises(IdempotencyConflict), db.session() as session:
            apply_transaction(session, changed)

    # Inside one batch, too: the first use wins and the second is refused, all rolled back.
    fresh = new_id()
    with pytest.raises(IdempotencyConflict), db.session() as session:
        apply_transactions(session, [txn(account, 5, fresh), txn(account, 6, fresh)])

    assert rows_with(db, [original.id]) == 1
    assert rows_with(db, [fresh]) == 0
    assert cached_balance(db, account) == ledger_total(db, account) == 100
    assert cached_balance(db, other) == ledger_total(db, other) == 0
    assert counter(db) == stamp


def test_an_unknown_account_raises_and_writes_nothing(db: Database) -> None:
    account = make_account(db)
    stamp = counter(db)
    good, bad = txn(account, 50), txn(MISSING_ACCOUNT, 50)
    with db.session() as session:
        with pytest.raises(UnknownAccount):
            apply_transactions(session, [good, bad])
        with pytest.raises(UnknownAccount):
            apply_transaction(session, txn(MISSING_ACCOUNT, 1))
        # Nothing was written, even inside the transaction that is about to commit.
        count = session.scalar(select(func.count()).select_from(TransactionRow))
        assert session.get_one(AccountRow, account).balance == 0
    assert count == 0
    assert rows_with(db, [good.id, bad.id]) == 0
    assert cached_balance(db, account) == 0
    assert counter(db) == stamp
