"""Cash at a kiosk: each note or coin an acceptor took is one credit, applied once.

The kiosk's bridge names each insertion by the acceptor's own event (``insertion_id``) and
the device session it was inserted in; the credit's transaction id is made from the kiosk
and that id, the same at HQ and at a site, so an insertion sent again — after a bridge
restart, or once answered by HQ and once by the site whose forward timed out — changes
nothing. A site journals its insertions (``cash`` entries); HQ checks the kiosk is the
site's, the amount a note or coin it takes, and the kiosk's day under its limit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from printwarden.domain.charges import Refused
from printwarden.domain.ledger import APP_ORIGIN, Transaction, TransactionKind, site_origin
from printwarden.store import device_sessions, ledger, users
from printwarden.store.models import (
    CashCollectionRow,
    CashInsertionRow,
    DeviceRow,
    DeviceSessionRow,
    UserRow,
)
from printwarden.usecases.credits import CreditApplied
from printwarden.usecases.errors import Conflict, Invalid

_NAMESPACE = uuid.UUID("8d3f6a52-0c7e-4b1a-93f5-5e2b7c9d1a08")
KIOSK = "kiosk"
JOURNAL_KIND = "cash"


@dataclass(frozen=True, slots=True)
class CashRules:
    """What a kiosk takes: these notes and coins (minor units), up to ``daily_limit`` a day."""

    denominations: frozenset[int]
    daily_limit: int
    currency: str

    def check(self, amount: int, currency: str) -> None:
        if currency.upper() != self.currency:
            raise Invalid(f"this kiosk takes {self.currency}, not {currency}")
        if amount not in self.denominations:
            raise Invalid(f"{amount} is not a note or coin this kiosk takes")


@dataclass(frozen=True, slots=True)
class Credited:
    amount: int
    balance: int
    new: bool
    username: str


def txn_id(device: str, insertion_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"cash\x1f{device}\x1f{insertion_id}"))


def current_session(session: Session, device: DeviceRow, now: datetime) -> DeviceSessionRow | None:
    """The person logged in at ``device`` now (its newest live session), if any."""
    row = session.scalar(
        select(DeviceSessionRow)
        .where(DeviceSessionRow.device_id == device.id, DeviceSessionRow.ended_at.is_(None))
        .order_by(DeviceSessionRow.created_at.desc())
        .limit(1)
    )
    if row is None or device_sessions.expires_at(row) <= now:
        return None
    return row


def _day_total(session: Session, device_id: int, at: datetime) -> int:
    start = at.replace(hour=0, minute=0, second=0, microsecond=0)
    total = session.scalar(
        select(func.coalesce(func.sum(CashInsertionRow.amount), 0)).where(
            CashInsertionRow.device_id == device_id, CashInsertionRow.created_at >= start
        )
    )
    return int(total or 0)


def credit(
    session: Session, rules: CashRules, device: DeviceRow, insertion: dict[str, Any],
    origin: str = APP_ORIGIN,
) -> Credited:  # fmt: skip
    """Credit one insertion to the person of the device session it names, once."""
    amount, currency = int(insertion["amount"]), str(insertion["currency"])
    rules.check(amount, currency)
    found = session.get(DeviceSessionRow, str(insertion["session_id"]))
    if found is None or found.device_id != device.id:
        raise Conflict("no such session at this kiosk", title="No session")
    user = session.get(UserRow, found.user_id)
    assert user is not None
    return _record(session, rules, device, user, insertion, origin)


def _record(
    session: Session, rules: CashRules, device: DeviceRow, user: UserRow,
    insertion: dict[str, Any], origin: str,
) -> Credited:  # fmt: skip
    account = users.personal_account(session, user.id)
    amount, at = int(insertion["amount"]), users.now()
    txn = txn_id(device.name, str(insertion["insertion_id"]))
    if txn in ledger.recorded(session, [txn]):
        return Credited(amount, account.balance, False, user.username)
    if _day_total(session, device.id, at) + amount > rules.daily_limit:
        raise Conflict(f"{device.name} has taken its limit for today", title="Kiosk limit")
    session.add(CashInsertionRow(
        insertion_id=f"{device.name}:{insertion['insertion_id']}", device_id=device.id,
        user_id=user.id, account_id=account.id, amount=amount, currency=rules.currency,
        txn_id=txn, origin=origin, created_at=at,
    ))  # fmt: skip
    ledger.apply_transaction(session, Transaction(
        id=txn, account_id=account.id, amount=amount, kind=TransactionKind.TOP_UP,
        reference=f"cash:{device.name}", origin=origin, created_at=at,
        comment=f"cash at {device.name}",
    ))  # fmt: skip
    session.flush()
    session.refresh(account)
    return Credited(amount, account.balance, True, user.username)


def apply_offline(
    session: Session, rules: CashRules, site: str, body: dict[str, Any]
) -> CreditApplied:
    """A ``cash`` entry of ``site``'s journal: checked, then credited once."""
    device = session.scalar(select(DeviceRow).where(DeviceRow.name == str(body["device"])))
    if device is None or device.kind != KIOSK or device.site not in (site, None):
        raise Refused(f"{body['device']!r} is not a kiosk of site {site}")
    user = session.scalar(select(UserRow).where(UserRow.username == str(body["username"])))
    if user is None:
        raise Refused(f"no user {body['username']!r}")
    try:
        rules.check(int(body["amount"]), str(body["currency"]))
    except Invalid as exc:
        raise Refused(str(exc)) from None
    if str(body.get("txn_id")) != txn_id(device.name, str(body["insertion_id"])):
        raise Refused("the credit's transaction id is not this insertion's")
    try:
        done = _record(session, rules, device, user, body, site_origin(site))
    except Conflict as exc:
        raise Refused(str(exc)) from None
    account_id = users.personal_account(session, user.id).id
    if not done.new:
        return CreditApplied("already in the ledger", account_id)
    return CreditApplied(f"credited {done.amount} to {user.username}", account_id, done.amount)


@dataclass(frozen=True, slots=True)
class CashBox:
    """What a kiosk's box should hold: insertions since the last collection."""

    device: str
    insertions: int
    recorded: int
    last_insertion: int
    since: datetime | None


def cash_box(session: Session, device: DeviceRow) -> CashBox:
    last = session.scalar(
        select(CashCollectionRow)
        .where(CashCollectionRow.device_id == device.id)
        .order_by(CashCollectionRow.id.desc())
        .limit(1)
    )
    after = last.last_insertion if last is not None else 0
    count, total, top = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(CashInsertionRow.amount), 0),
            func.coalesce(func.max(CashInsertionRow.id), after),
        ).where(CashInsertionRow.device_id == device.id, CashInsertionRow.id > after)
    ).one()
    since = last.collected_at if last is not None else None
    return CashBox(device.name, int(count), int(total), int(top), since)


def collect(
    session: Session, device: DeviceRow, counted: int, by: str, note: str = ""
) -> CashCollectionRow:
    """Record the box emptied: ``counted`` beside what the insertions recorded."""
    if counted < 0:
        raise Invalid("counted cash cannot be negative")
    box = cash_box(session, device)
    row = CashCollectionRow(
        device_id=device.id, counted=counted, recorded=box.recorded, insertions=box.insertions,
        last_insertion=box.last_insertion, collected_by=by, note=note[:500],
        collected_at=users.now(),
    )  # fmt: skip
    session.add(row)
    session.flush()
    return row


def collections(session: Session, device: DeviceRow, limit: int = 200) -> list[CashCollectionRow]:
    """The kiosk's cash collections, newest first."""
    return list(
        session.scalars(
            select(CashCollectionRow)
            .where(CashCollectionRow.device_id == device.id)
            .order_by(CashCollectionRow.id.desc())
            .limit(limit)
        )
    )
