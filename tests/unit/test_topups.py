"""Scheduled top-ups: one transaction id per rule, member and period."""

from __future__ import annotations

from datetime import datetime

import pytest

from printwarden.domain.filters import Period
from printwarden.domain.topups import TopUpRule, rules_from_json, rules_to_json


def test_one_transaction_id_per_member_and_period() -> None:
    weekly = TopUpRule("students", 500, Period.WEEK)
    monday, sunday = datetime(2026, 11, 23, 8), datetime(2026, 11, 29, 23)
    next_monday = datetime(2026, 11, 30, 0, 1)
    assert weekly.txn_id(7, monday) == weekly.txn_id(7, sunday)
    assert weekly.txn_id(7, monday) != weekly.txn_id(7, next_monday)
    assert weekly.txn_id(7, monday) != weekly.txn_id(8, monday)
    assert weekly.txn_id(7, monday) != TopUpRule("staff", 500).txn_id(7, monday)
    assert "week of 2026-11-23" in weekly.comment(sunday)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"rules": [{"group": "", "amount": 5}]}, "needs a group"),
        ({"rules": [{"group": "a", "amount": 0}]}, "amount must be"),
        ({"rules": [{"group": "a", "amount": 2.5}]}, "amount must be"),
        ({"rules": [{"group": "a", "amount": 5, "period": "year"}]}, "period is"),
        ({"rules": [{"group": "a", "amount": 5, "extra": 1}]}, "each rule is"),
    ],
)
def test_bad_rules_are_refused(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rules_from_json(raw)


def test_rules_round_trip() -> None:
    rules = [TopUpRule("a", 5, Period.DAY), TopUpRule("b", 7, Period.MONTH)]
    assert rules_from_json(rules_to_json(rules)) == rules
