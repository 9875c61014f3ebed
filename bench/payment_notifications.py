"""Payments: gateway notifications applied per second, and top-up card redemption latency.

    .venv/bin/python bench/payment_notifications.py            # 2,000 notifications, 1,000 cards
    .venv/bin/python bench/payment_notifications.py --notifications 5000 --strict

On a fresh SQLite database (the App Server's default), in this process, each in its own
database transaction as the route applies them:

(a) anchor: plain ledger credits (``store.ledger.apply_transaction``), one per transaction;
(b) notifications as the route applies them: verified Stripe-shaped notifications handed to
    the server's ``NotificationApplier`` by ``--senders`` concurrent deliveries (a gateway's
    burst), one per payment plus 10 % duplicates (the same event id again) — each logged
    once, each payment credited once, each answered after its transaction committed;
(b') the same notifications applied one per transaction (``usecases.payments.apply``), for
    reference;
(c) redemptions: ``usecases.vouchers.redeem`` of distinct cards, one per transaction: p50
    and p99 in milliseconds.

Goals: (b) >= 1,000/s, reported beside (a) as a ratio; (c) p99 <= 20 ms. Exit status 1 on a
missed goal with ``--strict``; 2 when a balance is wrong. Bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from printwarden.domain import vouchers as codes
from printwarden.domain.ledger import Transaction, TransactionKind
from printwarden.domain.payments import Notification, NotificationKind, PaymentRules
from printwarden.service.payment_notices import NotificationApplier
from printwarden.store import ledger, users
from printwarden.store.db import Database
from printwarden.store.migrate import upgrade
from printwarden.store.models import UserRow
from printwarden.usecases import payments, vouchers

KEY = b"bench-voucher-key"


def _people(database: Database, count: int) -> list[UserRow]:
    with database.session() as session:
        changes = users.UserChanges()
        made = [users.create_user(session, KEY, f"p{n}", changes) for n in range(count)]
        session.flush()
        for row in made:
            session.expunge(row)
    return made


def anchor(database: Database, account_ids: list[int], count: int) -> float:
    start = time.perf_counter()
    for n in range(count):
        with database.session() as session:
            txn = Transaction(f"anchor-{n}", account_ids[n % len(account_ids)], 100,
                              TransactionKind.TOP_UP)  # fmt: skip
            ledger.apply_transaction(session, txn)
    return count / (time.perf_counter() - start)


def replay_of(
    database: Database, people: list[UserRow], count: int, tag: str
) -> list[Notification]:
    """Notifications of ``count`` new payments, plus 10 % duplicates, shuffled."""
    rules = PaymentRules(min_amount=100, max_amount=100_000)
    ids = []
    with database.session() as session:
        for n in range(count):
            row = payments.begin(session, rules, "stripe", people[n % len(people)], 500, "USD")
            ids.append(row.id)
    notes = [_note(payment_id, f"{tag}{n}") for n, payment_id in enumerate(ids)]
    replay = notes + random.Random(7).sample(notes, count // 10)
    random.Random(8).shuffle(replay)
    return replay


def one_by_one(database: Database, replay: list[Notification]) -> float:
    start = time.perf_counter()
    for note in replay:
        with database.session() as session:
            payments.apply(session, note)
    return len(replay) / (time.perf_counter() - start)


def concurrently(database: Database, replay: list[Notification], senders: int) -> float:
    async def run() -> float:
        applier = NotificationApplier(database)
        await applier.start()
        gate = asyncio.Semaphore(senders)

        async def send(note: Notification) -> str:
            async with gate:
                return (await applier.apply(note)).outcome

        start = time.perf_counter()
        outcomes = await asyncio.gather(*(send(note) for note in replay))
        took = time.perf_counter() - start
        await applier.stop()
        assert outcomes.count("credited") == len({n.event_id for n in replay}), "credits"
        return len(replay) / took

    return asyncio.run(run())


def _note(payment_id: str, n: str) -> Notification:
    return Notification("stripe", f"evt_{n}", "checkout.session.completed",
                        NotificationKind.CREDIT, payment_id, f"cs_{n}", f"pi_{n}", 500, "USD",
                        datetime.now(UTC))  # fmt: skip


def redemptions(database: Database, people: list[UserRow], count: int) -> list[float]:
    with database.session() as session:
        batch = codes.Batch("bench", 500, "USD", None, count)
        made = vouchers.generate(session, KEY, batch, currency="USD", by="bench").codes
    took = []
    for n, code in enumerate(made):
        start = time.perf_counter()
        with database.session() as session:
            user = session.merge(people[n % len(people)], load=False)
            vouchers.redeem(session, KEY, code, user)
        took.append((time.perf_counter() - start) * 1000)
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notifications", type=int, default=2000)
    parser.add_argument("--cards", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=32, help="concurrent deliveries")
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    count, cards = min(args.notifications, 20_000), min(args.cards, 10_000)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        database = Database(url)
        people = _people(database, 50)
        with database.read() as session:
            accounts = [users.personal_account(session, p.id).id for p in people]
        base = anchor(database, accounts, count)
        rate = concurrently(database, replay_of(database, people, count, "c"), args.senders)
        single = one_by_one(database, replay_of(database, people, count, "s"))
        took = sorted(redemptions(database, people, cards))
        database.dispose()
    p50, p99 = statistics.median(took), took[int(len(took) * 0.99) - 1]
    print(f"plain ledger credits:       {base:8.0f}/s  (anchor)")
    ratio = rate / base
    print(
        f"notifications (10 % dup.):  {rate:8.0f}/s  ({ratio:.2f}x the anchor; goal >= 1000/s)"
        f"  [{args.senders} senders]"
    )
    print(f"  one per transaction:      {single:8.0f}/s  ({single / base:.2f}x)")
    print(f"card redemption:            p50 {p50:.1f} ms, p99 {p99:.1f} ms  (goal p99 <= 20 ms)")
    missed = rate < 1000 or p99 > 20
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
