"""The ledger: every balance change is a transaction; a balance is the sum of its ledger."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class TransactionKind(StrEnum):
    """Why a balance changed."""

    PRINT = "print"
    COPY = "copy"
    SCAN = "scan"
    FAX = "fax"
    TOP_UP = "top-up"
    ADJUSTMENT = "adjustment"
    REFUND = "refund"
    TRANSFER = "transfer"


APP_ORIGIN = "app"


def site_origin(site_id: str) -> str:
    """The origin of a transaction a site made while offline."""
    return f"site:{site_id}"


def is_valid_origin(origin: str) -> bool:
    """``app`` or ``site:<id>`` with a non-empty id."""
    return origin == APP_ORIGIN or (origin.startswith("site:") and len(origin) > len("site:"))


@dataclass(frozen=True, slots=True)
class Transaction:
    """One ledger entry. ``id`` is supplied by the caller and globally unique."""

    id: str
    account_id: int
    amount: int
    kind: TransactionKind
    reference: str = ""
    origin: str = APP_ORIGIN
    created_at: datetime | None = None
    comment: str = ""

    def same_effect(self, other: Transaction) -> bool:
        """True when ``other`` is a replay of this transaction (same id, account, amount)."""
        return (self.id, self.account_id, self.amount, self.kind) == (
            other.id,
            other.account_id,
            other.amount,
            other.kind,
        )


@dataclass(slots=True)
class Ledger:
    """An in-memory ledger with idempotent apply, the model the database must match."""

    entries: dict[str, Transaction]
    balances: dict[int, int]

    @classmethod
    def empty(cls) -> Ledger:
        return cls(entries={}, balances={})

    def apply(self, txn: Transaction) -> tuple[Transaction, bool]:
        """Apply ``txn`` once. Returns the recorded transaction and whether it was new.

        Applying an id that is already recorded changes nothing and returns the original.
        """
        original = self.entries.get(txn.id)
        if original is not None:
            return original, False
        self.entries[txn.id] = txn
        self.balances[txn.account_id] = self.balances.get(txn.account_id, 0) + txn.amount
        return txn, True

    def apply_all(self, txns: Iterable[Transaction]) -> int:
        """Apply each transaction; return how many were new."""
        return sum(1 for txn in txns if self.apply(txn)[1])

    def balance(self, account_id: int) -> int:
        return self.balances.get(account_id, 0)


def balances_from(entries: Iterable[Transaction]) -> Mapping[int, int]:
    """Each account's balance as the plain sum of its distinct transactions."""
    seen: set[str] = set()
    totals: dict[int, int] = {}
    for txn in entries:
        if txn.id in seen:
            continue
        seen.add(txn.id)
        totals[txn.account_id] = totals.get(txn.account_id, 0) + txn.amount
    return totals
