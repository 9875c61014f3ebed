"""Scheduled top-ups: their rules (a setting) and applying a period's top-ups to the ledger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.domain.ledger import Transaction, TransactionKind
from printwarden.domain.topups import SETTING_KEY, TopUpRule, rules_from_json, rules_to_json
from printwarden.store import ledger, settings
from printwarden.store.models import AccountRow, GroupRow, MembershipRow, UserRow


def get_rules(session: Session) -> list[TopUpRule]:
    return rules_from_json(settings.get(session, SETTING_KEY))


def put_rules(session: Session, rules: list[TopUpRule]) -> None:
    settings.put(session, SETTING_KEY, rules_to_json(rules))


def apply_due(session: Session, now: datetime) -> int:
    """Credit every rule's current period to each member's personal account; the number of
    top-ups applied now (those applied before are not applied again)."""
    applied = 0
    for rule in get_rules(session):
        members = session.execute(
            select(UserRow.id, AccountRow.id)
            .join(MembershipRow, MembershipRow.user_id == UserRow.id)
            .join(GroupRow, GroupRow.id == MembershipRow.group_id)
            .join(AccountRow, AccountRow.owner_id == UserRow.id)
            .where(GroupRow.name == rule.group, UserRow.deleted_at.is_(None), UserRow.enabled)
        ).all()
        txns = [
            Transaction(
                rule.txn_id(user_id, now),
                account_id,
                rule.amount,
                TransactionKind.TOP_UP,
                reference=f"topup:{rule.group}",
                comment=rule.comment(now),
            )
            for user_id, account_id in members
        ]
        applied += sum(new for _txn, new in ledger.apply_transactions(session, txns))
    return applied
