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

from sqlalchemy import select
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
from printwarden.store import ledger, users
from printwarden.store.models import PaymentEventRow, PaymentRow, UserRow
from printwarden.usecases.errors import Invalid, NotFound

_NAMESPACE = uuid.UUID("b6a0e2d4-1f3c-4e58-8a7b-2c9d5e0f6a31")
PENDING, PAID, REVERSED, CANCELED = "pending", "paid", "reversed", "canceled"


def credit_txn(payment_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"credit\x1f{payment_id}"))


def reversal_txn(payment_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"reversal\x1f{payment_id}"))


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
        credit_txn="", reversal_txn="", created_at=moment, updated_at=moment,
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
    """Apply one verified notification, once (the caller's transaction; a concurrent copy
    of the same event fails to commit, and is then a duplicate)."""
    seen = select(PaymentEventRow.id).where(
        PaymentEventRow.gateway == note.gateway, PaymentEventRow.event_id == note.event_id
    )
    if session.scalar(seen) is not None:
        return Applied("duplicate", f"event {note.event_id} was applied before")
    if note.kind is NotificationKind.CREDIT:
        done = _credit(session, note)
    elif note.kind is NotificationKind.REVERSE:
        done = _reverse(session, note)
    else:
        done = Applied("ignored", f"{note.event_type} needs nothing done")
    session.add(PaymentEventRow(
        gateway=note.gateway, event_id=note.event_id[:128], event_type=note.event_type[:64],
        payment_id=note.payment_id[:40], intent_ref=note.intent_ref[:128], amount=note.amount,
        currency=note.currency[:3], outcome=done.outcome, detail=done.detail,
        received_at=users.now(),
    ))  # fmt: skip
    session.flush()
    return done


def is_duplicate(exc: IntegrityError) -> bool:
    """The event's log row clashed with a concurrent copy of the same event."""
    return "payment_events" in str(exc.orig) or "uq_payment_events" in str(exc.orig)


def _payment(session: Session, note: Notification) -> PaymentRow | None:
    query = select(PaymentRow).with_for_update()
    if note.payment_id:
        return session.scalar(query.where(PaymentRow.id == note.payment_id))
    if note.intent_ref:
        return session.scalar(query.where(PaymentRow.intent_ref == note.intent_ref))
    return None


def _credit(session: Session, note: Notification) -> Applied:
    row = _payment(session, note)
    if row is None or row.gateway != note.gateway:
        return Applied("mismatch", f"no payment {note.payment_id!r} through {note.gateway}")
    if (note.amount, note.currency) != (row.amount + row.fee, row.currency):
        paid = f"{note.amount} {note.currency}"
        return Applied("mismatch", f"paid {paid}, expected {row.amount + row.fee} {row.currency}")
    row.payment_ref = row.payment_ref or note.payment_ref[:128]
    row.intent_ref = row.intent_ref or note.intent_ref[:128]
    if row.credit_txn:
        return Applied("duplicate", f"payment {row.id} was credited before")
    txn = credit_txn(row.id)
    ledger.apply_transaction(session, Transaction(
        id=txn, account_id=row.account_id, amount=row.amount, kind=TransactionKind.TOP_UP,
        reference=f"payment:{row.id}", comment=f"paid online through {row.gateway}",
    ))  # fmt: skip
    row.credit_txn, row.status, row.updated_at = txn, PAID, users.now()
    if _waiting_reversal(session, row):
        _book_reversal(session, row, "refunded or disputed before it was credited")
        return Applied("credited", f"credited {row.amount} and reversed (a reversal waited)")
    return Applied("credited", f"credited {row.amount} to payment {row.id}")


def _waiting_reversal(session: Session, row: PaymentRow) -> bool:
    keys = [PaymentEventRow.payment_id == row.id]
    if row.intent_ref:
        keys.append(PaymentEventRow.intent_ref == row.intent_ref)
    found = select(PaymentEventRow.id).where(
        PaymentEventRow.gateway == row.gateway, PaymentEventRow.outcome == "waiting"
    )
    return any(session.scalar(found.where(key)) is not None for key in keys)


def _reverse(session: Session, note: Notification) -> Applied:
    row = _payment(session, note)
    if row is None or not row.credit_txn:
        return Applied("waiting", "the payment is not credited yet: reversed when it is")
    if row.reversal_txn:
        return Applied("duplicate", f"payment {row.id} was reversed before")
    _book_reversal(session, row, f"{note.event_type} at {row.gateway}")
    return Applied("reversed", f"reversed {row.amount} of payment {row.id}")


def _book_reversal(session: Session, row: PaymentRow, why: str) -> None:
    txn = reversal_txn(row.id)
    ledger.apply_transaction(session, Transaction(
        id=txn, account_id=row.account_id, amount=-row.amount, kind=TransactionKind.ADJUSTMENT,
        reference=f"payment:{row.id}", comment=f"online payment reversed: {why}",
    ))  # fmt: skip
    row.reversal_txn, row.status, row.updated_at = txn, REVERSED, users.now()


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
