"""Change a balance: a top-up or an adjustment, idempotent by its transaction id.

The API (``POST /accounts/by-id/{id}/top-up`` and ``/adjust``), the web console's balance
form and ``printwarden balance topup|adjust`` all come here.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from printwarden.domain.ledger import Transaction, TransactionKind
from printwarden.store import accounts, ledger, users
from printwarden.store.models import AccountRow
from printwarden.usecases.errors import Invalid

KINDS = (TransactionKind.TOP_UP, TransactionKind.ADJUSTMENT)


@dataclass(frozen=True, slots=True)
class BalanceChange:
    """What to record: ``amount`` (minor units) of ``kind`` on an account, by ``by``."""

    txn_id: str
    account_id: int
    amount: int
    kind: TransactionKind
    by: str
    comment: str = ""


@dataclass(frozen=True, slots=True)
class BalanceChanged:
    """The recorded transaction (the original one on a replay) and the balance after it."""

    account: AccountRow
    transaction: Transaction
    balance: int
    duplicate: bool


def check_amount(kind: TransactionKind, amount: int) -> None:
    """Raise ``Invalid`` unless ``amount`` suits ``kind``: a top-up is positive, an
    adjustment is not zero (front ends may check this before they read anything else)."""
    if kind not in KINDS:
        raise Invalid(f"a balance change is a top-up or an adjustment, not {kind.value!r}")
    if kind is TransactionKind.TOP_UP and amount <= 0:
        raise Invalid("a top-up must be positive")
    if amount == 0:
        raise Invalid("an adjustment must not be zero")


def account_of(session: Session, username: str, shared: str) -> AccountRow:
    """The shared account named ``shared`` when given, else ``username``'s personal account
    (``NotFound`` when there is none)."""
    if shared:
        return accounts.find_shared(session, shared)
    return users.personal_account(session, users.find_user(session, username).id)


def change_balance(session: Session, change: BalanceChange) -> BalanceChanged:
    """Record ``change`` once: replaying its ``txn_id`` changes nothing and returns the
    original (``IdempotencyConflict`` if the replay differs; ``NotFound`` for no account)."""
    check_amount(change.kind, change.amount)
    account = accounts.find_account(session, change.account_id)
    txn = Transaction(
        id=change.txn_id,
        account_id=account.id,
        amount=change.amount,
        kind=change.kind,
        reference=f"admin:{change.by}",
        comment=change.comment,
    )
    recorded, new = ledger.apply_transaction(session, txn)
    session.refresh(account)
    return BalanceChanged(account, recorded, account.balance, duplicate=not new)
