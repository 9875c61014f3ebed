"""What applying one of a site's credits did (a journal's ``voucher`` or ``cash`` entry)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class CreditApplied:
    """``detail`` for the entry's outcome; ``amount`` newly credited (0 on a replay);
    ``notes`` for the reconciliation report (a credit taken back, say)."""

    detail: str
    account_id: int
    amount: int = 0
    notes: list[str] = field(default_factory=list)
