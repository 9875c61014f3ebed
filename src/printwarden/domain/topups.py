"""Scheduled credit top-ups: a group's members receive an amount every day, week or month.

Each top-up's transaction id is derived from the rule, the member and the period, so applying
a period again (a restart, a second worker, a retry) changes nothing: the ledger refuses a
transaction id it already has.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from printwarden.domain.filters import Period

SETTING_KEY = "topups"
_NAMESPACE = uuid.UUID("6f1d3c1e-93a4-4c7e-9b51-1f0f5b3a2d77")


@dataclass(frozen=True, slots=True)
class TopUpRule:
    """``amount`` cents to every member of ``group`` once per ``period``."""

    group: str
    amount: int
    period: Period = Period.WEEK

    def __post_init__(self) -> None:
        if not self.group:
            raise ValueError("a top-up needs a group")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int) or self.amount <= 0:
            raise ValueError("amount must be a whole number of cents > 0")

    def txn_id(self, user_id: int, now: datetime) -> str:
        """The one transaction id of this rule's top-up for ``user_id`` in ``now``'s period."""
        start = self.period.start(now).date().isoformat()
        return str(uuid.uuid5(_NAMESPACE, f"{self.group}\x1f{self.period}\x1f{start}\x1f{user_id}"))

    def comment(self, now: datetime) -> str:
        start = self.period.start(now).date().isoformat()
        return f"scheduled top-up for {self.group}, {self.period.value} of {start}"

    def to_json(self) -> dict[str, Any]:
        return {"group": self.group, "amount": self.amount, "period": self.period.value}


def rules_from_json(raw: Mapping[str, Any] | None) -> list[TopUpRule]:
    """The stored rules (raises ``ValueError`` on a bad one)."""
    found = (raw or {}).get("rules") or []
    if not isinstance(found, list):
        raise ValueError("rules must be a list")
    rules = []
    for item in found:
        if not isinstance(item, Mapping) or set(item) - {"group", "amount", "period"}:
            raise ValueError("each rule is {group, amount, period}")
        try:
            period = Period(item.get("period", "week"))
        except ValueError:
            raise ValueError("period is day, week or month") from None
        rules.append(TopUpRule(str(item.get("group") or ""), item.get("amount"), period))  # type: ignore[arg-type]
    return rules


def rules_to_json(rules: list[TopUpRule]) -> dict[str, Any]:
    return {"rules": [rule.to_json() for rule in rules]}
