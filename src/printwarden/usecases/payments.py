"""Online payments: a pending payment, then the gateway's notifications applied once.

Every notification that verified is logged once by (gateway, event id): a duplicate changes
nothing. A payment is credited at most once, whichever of its events arrives (and however
often): the credit's transaction id is made from our payment id, and the ledger applies an
id once. A refund or dispute reverses exactly that credit, once (its own derived id); one
that arrives before the payment's credit waits in the log and is applied with it. No payment
call is ever made on the print path: starting a payment is the portal's, the notifications
come to their own route.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from printwarden.domain.ledger import Transaction, TransactionKind
from printwarden.domain.payments import (
    Notification,
    NotificationKind,
    PaymentRefused,
    PaymentRules,
    new_payment_id,
)
from printwarden.store import bulk, ledger, users
from printwarden.store.models import PaymentEventRow, PaymentRow, UserRow
from printwarden.usecases.errors import Invalid, NotFound

_NAMESPACE = uuid.UUID("b6a0e2d4-1f3c-4e58-8a7b-2c9d5e0f6a31")
PENDING, PAID, REVERSED, CANCELED = "pending", "paid", "reversed", "canceled"


def credit_txn(payment_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"credit\x1f{payment_id}"))


def reversal_txn(payment_id: str, reversed_total: int) -> str:
    """The reversal that brings ``payment_id``'s reversed amount up to ``reversed_total``
    (a refund's amount is the total refunded so far: a replay reaches no new total)."""
    return str(uuid.uuid5(_NAMESPACE, f"reversal\x1f{payment_id}\x1f{reversed_total}"))


def begin(
    session: Session, rules: PaymentRules, gateway: str, user: UserRow, amount: int,
    currency: str,
) -> PaymentRow:  # fmt: skip
    """A pending payment of ``amount`` (plus its fee) for ``user``'s personal account."""
    try:
        rules.check(amount, users.groups_of(session, user.id))
    except PaymentRefused as exc:
        raise Invalid(str(exc), title="Payment refused") from None
    moment = users.now()
    row = PaymentRow(
        id=new_payment_id(), gateway=gateway, user_id=user.id,
        account_id=users.personal_account(session, user.id).id, amount=amount,
        fee=rules.fee(amount), currency=currency, status=PENDING, payment_ref="", intent_ref="",
        credit_txn="", reversal_txn="", reversed=0, created_at=moment, updated_at=moment,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def started(session: Session, payment_id: str, payment_ref: str) -> None:
    """The gateway took the payment: note its id for it."""
    row = find(session, payment_id)
    if not row.payment_ref:
        row.payment_ref = payment_ref[:128]


def canceled(session: Session, payment_id: str) -> None:
    """The gateway could not start it: it will never be paid."""
    row = find(session, payment_id)
    if row.status == PENDING:
        row.status, row.updated_at = CANCELED, users.now()


def find(session: Session, payment_id: str) -> PaymentRow:
    row = session.get(PaymentRow, payment_id)
    if row is None:
        raise NotFound(f"no payment {payment_id!r}")
    return row


@dataclass(frozen=True, slots=True)
class Applied:
    """What a notification did: ``outcome`` is credited, reversed, waiting, ignored,
    mismatch or duplicate (an event id seen before)."""

    outcome: str
    detail: str


def apply(session: Session, note: Notification) -> Applied:
    """Apply one verified notification, once (see :func:`apply_all`)."""
    return apply_all(session, [note])[0]


def apply_all(session: Session, notes: Sequence[Notification]) -> list[Applied]:
    """Apply verified notifications in order, each once, in the caller's transaction (a
    concurrent copy of one of them fails to commit: the caller then applies them one by one,
    and the copy that lost is a duplicate). One lookup of the events seen before and of
    reversals waiting, one insert of the log rows: a batch costs little more than one."""
    applying = _Applying(session, notes)
    results = [applying.one(note) for note in notes]
    if applying.txns:  # in one go: their ids are all different, and all new
        ledger.apply_transactions(session, applying.txns, accounts_found=True)
    if applying.rows:
        bulk.insert_columns(session, _EVENTS, _columns(applying.rows))
    return results


class _Applying:
    """One batch's notifications: the events seen, the payments named, the reversals
    waiting; the ledger transactions and log rows to write."""

    def __init__(self, session: Session, notes: Sequence[Notification]) -> None:
        self.session = session
        self.seen = _seen(session, notes)
        self.waiting = _waiting(session, notes)  # payment id or intent → amount refunded
        self.payments = _payments(session, notes)
        self.txns: list[Transaction] = []
        self.rows: list[dict[str, Any]] = []

    def payment(self, note: Notification) -> PaymentRow | None:
        found = self.payments.get(note.payment_id) if note.payment_id else None
        if found is None and note.intent_ref:
            found = self.payments.get(note.intent_ref)
        return found

    def one(self, note: Notification) -> Applied:
        key = (note.gateway, note.event_id[:128])
        if key in self.seen:
            return Applied("duplicate", f"event {note.event_id} was applied before")
        self.seen.add(key)
        if note.kind is NotificationKind.CREDIT:
            done = self._credit(note)
        elif note.kind is NotificationKind.REVERSE:
            done = self._reverse(note)
        else:
            done = Applied("ignored", f"{note.event_type} needs nothing done")
        self.rows.append(_row(note, done))
        return done

    def _credit(self, note: Notification) -> Applied:
        row = self.payment(note)
        if row is None or row.gateway != note.gateway:
            return Applied("mismatch", f"no payment {note.payment_id!r} through {note.gateway}")
        if (note.amount, note.currency) != (row.amount + row.fee, row.currency):
            paid, due = f"{note.amount} {note.currency}", f"{row.amount + row.fee} {row.currency}"
            return Applied("mismatch", f"paid {paid}, expected {due}")
        row.payment_ref = row.payment_ref or note.payment_ref[:128]
        if not row.intent_ref and note.intent_ref:
            row.intent_ref = note.intent_ref[:128]
            self.payments[row.intent_ref] = row
        if row.credit_txn:
            return Applied("duplicate", f"payment {row.id} was credited before")
        txn = credit_txn(row.id)
        self.txns.append(Transaction(
            id=txn, account_id=row.account_id, amount=row.amount, kind=TransactionKind.TOP_UP,
            reference=f"payment:{row.id}", comment=f"paid online through {row.gateway}",
        ))  # fmt: skip
        row.credit_txn, row.status, row.updated_at = txn, PAID, users.now()
        waited = max(self.waiting.get(row.id, 0), self.waiting.get(row.intent_ref, 0))
        if waited:
            self.txns.append(_reversal(row, waited, "refunded or disputed before it was credited"))
            return Applied("credited", f"credited {row.amount} and reversed (a reversal waited)")
        return Applied("credited", f"credited {row.amount} to payment {row.id}")

    def _reverse(self, note: Notification) -> Applied:
        row = self.payment(note)
        if row is None or not row.credit_txn:
            for key in {note.payment_id, note.intent_ref} - {""}:
                self.waiting[key] = max(self.waiting.get(key, 0), note.amount)
            return Applied("waiting", "the payment is not credited yet: reversed when it is")
        before = row.reversed
        if min(note.amount, row.amount) <= before:
            return Applied("duplicate", f"payment {row.id} was reversed by {before} before")
        self.txns.append(_reversal(row, note.amount, f"{note.event_type} at {row.gateway}"))
        return Applied("reversed", f"reversed {row.reversed - before} of payment {row.id}")


_EVENTS = cast(Table, PaymentEventRow.__table__)


def _seen(session: Session, notes: Sequence[Notification]) -> set[tuple[str, str]]:
    """The (gateway, event id) of ``notes`` logged before."""
    ids = sorted({note.event_id[:128] for note in notes})
    found = session.execute(
        select(PaymentEventRow.gateway, PaymentEventRow.event_id).where(
            bulk.among(session, PaymentEventRow.event_id, ids)
        )
    )
    return {(str(gateway), str(event)) for gateway, event in found}


def _waiting(session: Session, notes: Sequence[Notification]) -> dict[str, int]:
    """The payment ids and intents of ``notes`` with a reversal waiting for their credit,
    and the most it asks to reverse."""
    keys = sorted({key for n in notes for key in (n.payment_id, n.intent_ref) if key})
    found: dict[str, int] = {}
    for column in (PaymentEventRow.payment_id, PaymentEventRow.intent_ref):
        if not keys:
            break
        waiting = PaymentEventRow.outcome == "waiting"
        query = select(column, PaymentEventRow.amount).where(
            waiting, bulk.among(session, column, keys)
        )
        for key, amount in session.execute(query):
            if key:
                found[str(key)] = max(found.get(str(key), 0), int(amount))
    return found


def _row(note: Notification, done: Applied) -> dict[str, Any]:
    return {
        "gateway": note.gateway, "event_id": note.event_id[:128],
        "event_type": note.event_type[:64], "payment_id": note.payment_id[:40],
        "intent_ref": note.intent_ref[:128], "amount": note.amount,
        "currency": note.currency[:3], "outcome": done.outcome, "detail": done.detail,
        "received_at": users.now(),
    }  # fmt: skip


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in rows[0]}


def is_duplicate(exc: IntegrityError) -> bool:
    """The event's log row clashed with a concurrent copy of the same event."""
    return "payment_events" in str(exc.orig) or "uq_payment_events" in str(exc.orig)


def _payments(session: Session, notes: Sequence[Notification]) -> dict[str, PaymentRow]:
    """The payments ``notes`` name, by our id and by their intent (locked on PostgreSQL, in
    id order, so concurrent batches cannot deadlock)."""
    ids = sorted({n.payment_id for n in notes if n.payment_id})
    intents = sorted({n.intent_ref for n in notes if n.intent_ref})
    found: dict[str, PaymentRow] = {}
    for column, keys in ((PaymentRow.id, ids), (PaymentRow.intent_ref, intents)):
        if not keys:
            continue
        query = select(PaymentRow).where(bulk.among(session, column, keys))
        for row in session.scalars(query.order_by(PaymentRow.id).with_for_update()):
            found[row.id] = row
            if row.intent_ref:
                found[row.intent_ref] = row
    return found


def _reversal(row: PaymentRow, refunded: int, why: str) -> Transaction:
    """The transaction that takes back what of ``row``'s credit ``refunded`` (the gateway's
    total so far; never more than was credited) has not been taken back yet."""
    total = min(refunded, row.amount)
    txn, taken = reversal_txn(row.id, total), total - row.reversed
    row.reversal_txn, row.reversed, row.updated_at = txn, total, users.now()
    if total == row.amount:
        row.status = REVERSED
    return Transaction(
        id=txn, account_id=row.account_id, amount=-taken, kind=TransactionKind.ADJUSTMENT,
        reference=f"payment:{row.id}", comment=f"online payment reversed ({taken}): {why}",
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class PaymentQuery:
    """The payments log's filters."""

    username: str = ""
    gateway: str = ""
    status: str = ""
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200


def search(session: Session, query: PaymentQuery) -> Sequence[tuple[PaymentRow, str]]:
    """Payments matching ``query``, newest first, with their payer's username."""
    statement = select(PaymentRow, UserRow.username).join(UserRow, UserRow.id == PaymentRow.user_id)
    if query.username:
        statement = statement.where(UserRow.username == query.username)
    if query.gateway:
        statement = statement.where(PaymentRow.gateway == query.gateway)
    if query.status:
        statement = statement.where(PaymentRow.status == query.status)
    if query.since is not None:
        statement = statement.where(PaymentRow.created_at >= query.since)
    if query.until is not None:
        statement = statement.where(PaymentRow.created_at < query.until)
    ordered = statement.order_by(PaymentRow.created_at.desc()).limit(query.limit)
    return [(row, name) for row, name in session.execute(ordered).all()]


def events(session: Session, payment_id: str = "", limit: int = 200) -> list[PaymentEventRow]:
    """The log of notifications, newest first (of one payment, when given)."""
    statement = select(PaymentEventRow).order_by(PaymentEventRow.id.desc()).limit(limit)
    if payment_id:
        statement = statement.where(PaymentEventRow.payment_id == payment_id)
    return list(session.scalars(statement))
