"""Ledger throughput: apply N transactions in batches, replay them all, check nothing changed.

    .venv/bin/python bench/ledger.py                       # both backends, 100,000 txns
    .venv/bin/python bench/ledger.py --backend sqlite --transactions 20000

Transactions go through ``printwarden.store.ledger.apply_transactions`` in batches (one
database transaction per batch) over a set of accounts; then the very same batches are
replayed, which must change nothing. The anchor is a plain SQLAlchemy Core executemany INSERT
of the same rows, batched the same way, into a bare table with a UNIQUE text column.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
)

from harness import BACKENDS, Budget, chunks, database_url, print_machine
from printwarden.domain.ids import new_id
from printwarden.domain.ledger import Transaction, TransactionKind, balances_from
from printwarden.store import accounts
from printwarden.store import ledger as store_ledger
from printwarden.store.db import Database
from printwarden.store.migrate import upgrade
from printwarden.store.models import AccountRow, TransactionRow

GOAL_TXN_PER_S = 10_000
DEFAULT_TRANSACTIONS = 100_000
DEFAULT_ACCOUNTS = 1_000
DEFAULT_BATCH = 1_000
DEFAULT_BUDGET_S = 900.0
KINDS = (
    TransactionKind.PRINT,
    TransactionKind.COPY,
    TransactionKind.TOP_UP,
    TransactionKind.ADJUSTMENT,
    TransactionKind.REFUND,
)


@dataclass(frozen=True)
class LedgerResult:
    backend: str
    transactions: int
    accounts: int
    batch: int
    apply_s: float
    replay_s: float
    anchor_s: float

    @property
    def apply_rate(self) -> float:
        return self.transactions / self.apply_s

    @property
    def replay_rate(self) -> float:
        return self.transactions / self.replay_s

    @property
    def anchor_rate(self) -> float:
        return self.transactions / self.anchor_s

    @property
    def apply_ratio(self) -> float:
        return self.apply_rate / self.anchor_rate

    @property
    def replay_ratio(self) -> float:
        return self.replay_rate / self.anchor_rate

    @property
    def meets_goal(self) -> bool:
        return min(self.apply_rate, self.replay_rate) >= GOAL_TXN_PER_S


def anchor_table(metadata: MetaData) -> Table:
    """The same columns as ``transactions``, but no foreign key, index or idempotency logic."""
    return Table(
        "bench_anchor",
        metadata,
        Column("seq", Integer, primary_key=True, autoincrement=True),
        Column("txn_id", String(40), nullable=False, unique=True),
        Column("account_id", Integer, nullable=False),
        Column("amount", BigInteger, nullable=False),
        Column("kind", String(16), nullable=False),
        Column("reference", String(256), nullable=False),
        Column("origin", String(80), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("comment", Text, nullable=False),
    )


def create_accounts(database: Database, count: int) -> list[int]:
    """``count`` shared, unrestricted accounts made through the store; returns their ids."""
    with database.session() as session:
        rows = [
            accounts.create_shared(
                session, f"bench-{n:05d}", accounts.SharedAccountChanges(restricted=False)
            )
            for n in range(count)
        ]
        return [row.id for row in rows]


def make_transactions(account_ids: Sequence[int], count: int, seed: int) -> list[Transaction]:
    """Deterministic amounts and accounts; ids are fresh UUIDv7s as the service makes them."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    return [
        Transaction(
            id=new_id(),
            account_id=rng.choice(account_ids),
            amount=rng.choice((-1, 1)) * rng.randint(1, 2_000),
            kind=rng.choice(KINDS),
            reference=f"bench:{n}",
            origin="app",
            created_at=start + timedelta(milliseconds=n),
            comment="benchmark",
        )
        for n in range(count)
    ]


def run_batches(
    database: Database, batches: Sequence[Sequence[Transaction]], *, new: bool, budget: Budget
) -> float:
    """Apply each batch in its own database transaction; returns the elapsed seconds."""
    started = time.perf_counter()
    for batch in batches:
        budget.check()
        with database.session() as session:
            results = store_ledger.apply_transactions(session, batch)
        if any(is_new is not new for _txn, is_new in results):
            raise AssertionError(f"expected every transaction to be new={new}")
    return time.perf_counter() - started


def run_anchor(
    database: Database, batches: Sequence[Sequence[Transaction]], budget: Budget
) -> float:
    """Plain executemany INSERT of the same rows, batched the same way, through the same engine."""
    metadata = MetaData()
    table = anchor_table(metadata)
    metadata.create_all(database.engine)
    rows = [
        [
            {
                "txn_id": t.id,
                "account_id": t.account_id,
                "amount": t.amount,
                "kind": str(t.kind),
                "reference": t.reference,
                "origin": t.origin,
                "created_at": t.created_at,
                "comment": t.comment,
            }
            for t in batch
        ]
        for batch in batches
    ]
    try:
        started = time.perf_counter()
        for batch_rows in rows:
            budget.check()
            with database.engine.begin() as conn:
                conn.execute(insert(table), batch_rows)
        elapsed = time.perf_counter() - started
        with database.engine.connect() as conn:
            stored = conn.scalar(select(func.count()).select_from(table))
        if stored != sum(len(r) for r in rows):
            raise AssertionError(f"anchor table holds {stored} rows")
        return elapsed
    finally:
        metadata.drop_all(database.engine)


def balances(database: Database) -> dict[int, int]:
    with database.read() as session:
        rows = session.execute(select(AccountRow.id, AccountRow.balance))
        return {account_id: int(balance) for account_id, balance in rows}


def verify(
    database: Database,
    txns: Sequence[Transaction],
    before: dict[int, int],
    after: dict[int, int],
) -> None:
    """Replay changed nothing; every balance is its ledger's sum; each txn is stored once."""
    if before != after:
        changed = [k for k in before if before[k] != after.get(k)]
        raise AssertionError(f"replay changed {len(changed)} balances, e.g. account {changed[:3]}")
    expected = balances_from(txns)
    with database.read() as session:
        count = session.scalar(select(func.count()).select_from(TransactionRow))
        if count != len(txns):
            raise AssertionError(f"transactions table holds {count} rows, expected {len(txns)}")
        for account_id, balance in after.items():
            summed = store_ledger.ledger_sum(session, account_id)
            if summed != balance or balance != expected.get(account_id, 0):
                raise AssertionError(
                    f"account {account_id}: balance {balance}, ledger_sum {summed}, "
                    f"expected {expected.get(account_id, 0)}"
                )


def profiled(enabled: bool, label: str, call: Callable[[], float]) -> float:
    """Run ``call``, under cProfile when ``enabled`` (the timing then includes its overhead)."""
    if not enabled:
        return call()
    profile = cProfile.Profile()
    elapsed = profile.runcall(call)
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    out.write(f"--- cProfile of {label}: printwarden and driver calls, by cumulative time ---\n")
    stats.sort_stats("cumulative").print_stats(r"printwarden/store|\.execute|executemany", 12)
    out.write(f"--- cProfile of {label}: by own time (timings include profiler overhead) ---\n")
    stats.sort_stats("tottime").print_stats(12)
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip()))
    return elapsed


def run(
    backend: str,
    *,
    transactions: int = DEFAULT_TRANSACTIONS,
    accounts_count: int = DEFAULT_ACCOUNTS,
    batch: int = DEFAULT_BATCH,
    budget_s: float = DEFAULT_BUDGET_S,
    profile: bool = False,
    seed: int = 20261125,
) -> LedgerResult:
    """Set up a fresh database of ``backend``, run apply, replay and the anchor; verify."""
    budget = Budget(budget_s, f"ledger benchmark on {backend}")
    with (
        tempfile.TemporaryDirectory(prefix="pw-bench-ledger-") as tmp,
        database_url(backend, Path(tmp)) as url,
    ):
        upgrade(url)
        database = Database(url)
        try:
            account_ids = create_accounts(database, accounts_count)
            txns = make_transactions(account_ids, transactions, seed)
            batches = list(chunks(txns, batch))
            apply_s = profiled(
                profile,
                f"apply on {backend}",
                lambda: run_batches(database, batches, new=True, budget=budget),
            )
            before = balances(database)
            replay_s = profiled(
                profile,
                f"replay on {backend}",
                lambda: run_batches(database, batches, new=False, budget=budget),
            )
            verify(database, txns, before, balances(database))
            anchor_s = run_anchor(database, batches, budget)
        finally:
            database.dispose()
    return LedgerResult(backend, transactions, accounts_count, batch, apply_s, replay_s, anchor_s)


def report(result: LedgerResult) -> None:
    goal = "meets" if result.meets_goal else "MISSES"
    print(
        f"ledger/{result.backend}: {result.transactions:,} txns over {result.accounts:,} accounts, "
        f"{result.batch:,} per DB transaction\n"
        f"  apply   {result.apply_rate:>10,.0f} txn/s  ({result.apply_s:6.2f} s)"
        f"  = {result.apply_ratio:.2f} x anchor\n"
        f"  replay  {result.replay_rate:>10,.0f} txn/s  ({result.replay_s:6.2f} s)"
        f"  = {result.replay_ratio:.2f} x anchor\n"
        f"  anchor  {result.anchor_rate:>10,.0f} rows/s ({result.anchor_s:6.2f} s)"
        f"  plain executemany INSERT, UNIQUE text column\n"
        f"  verified: replay changed no balance; ledger_sum == balance for every account; "
        f"{result.transactions:,} rows\n"
        f"  goal >= {GOAL_TXN_PER_S:,} txn/s: {goal}"
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backend", choices=[*BACKENDS, "all"], default="all")
    p.add_argument("--transactions", type=int, default=DEFAULT_TRANSACTIONS)
    p.add_argument("--accounts", type=int, default=DEFAULT_ACCOUNTS)
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    p.add_argument("--budget", type=float, default=DEFAULT_BUDGET_S, help="seconds per backend")
    p.add_argument("--profile", action="store_true", help="cProfile apply and replay")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    backends = BACKENDS if args.backend == "all" else (args.backend,)
    print("machine:")
    print_machine()
    for backend in backends:
        result = run(
            backend,
            transactions=args.transactions,
            accounts_count=args.accounts,
            batch=args.batch,
            budget_s=args.budget,
            profile=args.profile,
        )
        report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
