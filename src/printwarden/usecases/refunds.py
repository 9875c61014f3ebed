"""Refunds of charges: a person asks for one (a failed or wrong print), an administrator
approves or refuses it in one step. Approved, the charge's amount goes back to the account
it was taken from, once: one request per charge (a unique key), and the refund's
transaction id is made from the charge's.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.domain.ledger import Transaction, TransactionKind
from printwarden.store import ledger, users
from printwarden.store.models import (
    DeviceUsageRow,
    PrintJobRow,
    RefundRequestRow,
    TransactionRow,
    UserRow,
)
from printwarden.usecases.errors import Conflict, Invalid, NotFound

_NAMESPACE = uuid.UUID("5c2e8f14-7a9b-4d06-b3e1-0f6d2a8c9e57")
CHARGE_KINDS = frozenset({"print", "copy", "scan", "fax"})
PENDING, APPROVED, REFUSED = "pending", "approved", "refused"


def refund_txn(charge_txn: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"refund\x1f{charge_txn}"))


def _owner(session: Session, txn_id: str) -> int | None:
    """Who a charge was for: the job's or the walk-up usage's person."""
    job = session.scalar(select(PrintJobRow.user_id).where(PrintJobRow.txn_id == txn_id))
    if job is not None:
        return int(job)
    usage = session.scalar(select(DeviceUsageRow.user_id).where(DeviceUsageRow.usage_id == txn_id))
    return int(usage) if usage is not None else None


def ask(session: Session, user: UserRow, txn_id: str, reason: str) -> RefundRequestRow:
    """``user`` asks for the charge ``txn_id`` back (one of their own charges, once)."""
    charge = session.scalar(select(TransactionRow).where(TransactionRow.txn_id == txn_id))
    if charge is None or _owner(session, txn_id) != user.id:
        raise NotFound(f"no charge {txn_id!r} of yours")
    if charge.kind not in CHARGE_KINDS or charge.amount >= 0:
        raise Invalid("only a charge for printing, copying, scanning or faxing is refunded")
    taken = select(RefundRequestRow.id).where(RefundRequestRow.charge_txn == txn_id)
    if session.scalar(taken) is not None:
        raise Conflict("a refund of this charge was asked for already")
    row = RefundRequestRow(
        charge_txn=txn_id, user_id=user.id, account_id=charge.account_id, amount=-charge.amount,
        reason=reason.strip()[:500], status=PENDING, automatic=False, refund_txn="",
        decided_by="", answer="", requested_at=users.now(), decided_at=None,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def find(session: Session, request_id: int) -> RefundRequestRow:
    row = session.get(RefundRequestRow, request_id)
    if row is None:
        raise NotFound(f"no refund request {request_id}")
    return row


def decide(
    session: Session, request_id: int, *, approve: bool, by: str, answer: str = ""
) -> RefundRequestRow:
    """Approve (refund the charge, once) or refuse a pending request."""
    row = session.scalar(
        select(RefundRequestRow).where(RefundRequestRow.id == request_id).with_for_update()
    )
    if row is None:
        raise NotFound(f"no refund request {request_id}")
    if row.status != PENDING:
        raise Conflict(f"this request was {row.status} already")
    if approve:
        txn = refund_txn(row.charge_txn)
        ledger.apply_transaction(session, Transaction(
            id=txn, account_id=row.account_id, amount=row.amount, kind=TransactionKind.REFUND,
            reference=f"refund:{row.charge_txn}", comment=answer.strip()[:500] or "refund approved",
        ))  # fmt: skip
        row.refund_txn = txn
    row.status = APPROVED if approve else REFUSED
    row.decided_by, row.answer, row.decided_at = by, answer.strip()[:500], users.now()
    session.flush()
    return row


def listed(
    session: Session, *, user_id: int | None = None, status: str = "", limit: int = 200
) -> Sequence[tuple[RefundRequestRow, str]]:
    """Requests with their person's username, newest first."""
    statement = select(RefundRequestRow, UserRow.username).join(
        UserRow, UserRow.id == RefundRequestRow.user_id
    )
    if user_id is not None:
        statement = statement.where(RefundRequestRow.user_id == user_id)
    if status:
        statement = statement.where(RefundRequestRow.status == status)
    rows = session.execute(statement.order_by(RefundRequestRow.id.desc()).limit(limit)).all()
    return [(row, name) for row, name in rows]
