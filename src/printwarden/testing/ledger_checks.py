"""Checks of a database's ledger that tests and soak runs end with."""

from __future__ import annotations

from sqlalchemy import func, select

from printwarden.store.db import Database
from printwarden.store.models import AccountRow, TransactionRow


def unbalanced_accounts(database_url: str) -> dict[int, tuple[int, int]]:
    """Accounts whose balance is not the sum of their ledger: ``{id: (balance, sum)}``
    (empty when the ledger identity holds)."""
    database = Database(database_url)
    try:
        with database.read() as session:
            sums = dict(
                session.execute(
                    select(TransactionRow.account_id, func.sum(TransactionRow.amount)).group_by(
                        TransactionRow.account_id
                    )
                ).all()
            )
            balances = dict(session.execute(select(AccountRow.id, AccountRow.balance)).all())
    finally:
        database.dispose()
    return {
        account: (balance, int(sums.get(account) or 0))
        for account, balance in balances.items()
        if balance != (sums.get(account) or 0)
    }


def transaction_ids(database_url: str) -> set[str]:
    """Every transaction id in the ledger."""
    database = Database(database_url)
    try:
        with database.read() as session:
            return set(session.scalars(select(TransactionRow.txn_id)))
    finally:
        database.dispose()
