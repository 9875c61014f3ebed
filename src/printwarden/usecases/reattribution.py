"""Re-attributing jobs charged to a stand-in (the Unauthenticated Users policy's configured
user, while a site was offline) to the real user, once that user exists at HQ.

Each job moves with two ledger transactions — the stand-in's account refunded, the user's
personal account charged the same amount — whose ids derive from the job's own transaction
id, so running the action twice, or concurrently, moves nothing twice. The job row then
names the user, and no longer the name it was claimed under.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.domain.ledger import Transaction, TransactionKind
from printwarden.store import ledger, users
from printwarden.store.models import PrintJobRow, UserRow

_NAMESPACE = uuid.UUID("0b7e2c55-5a0e-4c8e-a1c9-7d4f3e2b6a10")


@dataclass(frozen=True, slots=True)
class Reattributed:
    """What one re-attribution moved."""

    username: str
    jobs: list[str]  # job refs
    amount: int  # charged to the user, refunded to the stand-ins


def reattribute(session: Session, username: str) -> Reattributed:
    """Move every job claimed by ``username`` but charged to a stand-in to ``username``."""
    user = users.find_user(session, username)
    account = users.personal_account(session, user.id)
    claimed = session.scalars(
        select(PrintJobRow)
        .where(PrintJobRow.claimed_by == username)
        .order_by(PrintJobRow.id)
        .with_for_update()
    ).all()
    moved: list[str] = []
    total = 0
    for job in claimed:
        stand_in = session.get(UserRow, job.user_id)
        was = stand_in.username if stand_in is not None else f"user {job.user_id}"
        if job.cost:
            ledger.apply_transactions(session, _transactions(job, account.id, was, username))
        job.user_id, job.account_id, job.claimed_by = user.id, account.id, None
        moved.append(job.job_ref)
        total += job.cost
    session.flush()
    return Reattributed(username, moved, total)


def _transactions(job: PrintJobRow, account_id: int, was: str, username: str) -> list[Transaction]:
    def derived(side: str) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{job.txn_id}\x1f{side}"))

    reference = f"job:{job.job_ref}"
    refund = Transaction(
        id=derived("refund"),
        account_id=job.account_id,
        amount=job.cost,
        kind=TransactionKind.REFUND,
        reference=reference,
        comment=f"job re-attributed from {was} to {username}",
    )
    charge = Transaction(
        id=derived("charge"),
        account_id=account_id,
        amount=-job.cost,
        kind=TransactionKind.PRINT,
        reference=reference,
        comment=f"printed offline as {username}, first charged to {was}",
    )
    return [refund, charge]
