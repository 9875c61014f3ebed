"""People logged in at devices, and the walk-up usage (copy, scan, fax) they are charged for."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.domain.costs import JobUsage, job_cost
from printwarden.domain.ids import new_id
from printwarden.domain.ledger import Transaction, TransactionKind
from printwarden.domain.wording import count
from printwarden.store import ledger, printers
from printwarden.store.db import utc
from printwarden.store.errors import NotFound
from printwarden.store.models import DeviceRow, DeviceSessionRow, DeviceUsageRow
from printwarden.store.users import now

IDLE_TIMEOUT = timedelta(seconds=120)


def start(session: Session, device: DeviceRow, user_id: int) -> DeviceSessionRow:
    moment = now()
    row = DeviceSessionRow(
        id=new_id(),
        device_id=device.id,
        user_id=user_id,
        account_id=None,
        created_at=moment,
        last_seen_at=moment,
        ended_at=None,
    )
    session.add(row)
    session.flush()
    return row


def active(session: Session, session_id: str, device: DeviceRow) -> DeviceSessionRow:
    """The live session ``session_id`` of ``device``, its idle timer moved on; else NotFound."""
    row = session.get(DeviceSessionRow, session_id)
    if row is None or row.device_id != device.id or row.ended_at is not None:
        raise NotFound("no such session (logged out?)")
    moment = now()
    if expires_at(row) <= moment:
        row.ended_at = moment
        raise NotFound("the session timed out")
    row.last_seen_at = moment
    return row


def expires_at(row: DeviceSessionRow) -> datetime:
    return utc(row.last_seen_at) + IDLE_TIMEOUT


def end(row: DeviceSessionRow) -> None:
    row.ended_at = now()


@dataclass(frozen=True, slots=True)
class Usage:
    usage_id: str
    kind: TransactionKind
    usage: JobUsage


def usage_cost(device: DeviceRow, usage: JobUsage, groups: frozenset[str]) -> int:
    return job_cost(printers.cost_model_from_json(device.cost_model), usage, groups)


def record_usage(
    session: Session,
    user_id: int,
    account_id: int,
    device: DeviceRow,
    usage: Usage,
    groups: frozenset[str],
) -> DeviceUsageRow:
    """Charge walk-up usage once: a replayed ``usage_id`` returns the first record."""
    existing = session.scalar(
        select(DeviceUsageRow).where(DeviceUsageRow.usage_id == usage.usage_id)
    )
    if existing is not None:
        if existing.device_id != device.id:
            raise NotFound(f"usage {usage.usage_id} belongs to another device")
        return existing
    cost = usage_cost(device, usage.usage, groups)
    txn = Transaction(
        id=usage.usage_id,
        account_id=account_id,
        amount=-cost,
        kind=usage.kind,
        reference=f"device:{device.name}",
        comment=f"{count(usage.usage.total_pages, 'page')} {usage.kind.value} at {device.name}",
    )
    ledger.apply_transaction(session, txn)
    record = DeviceUsageRow(
        usage_id=usage.usage_id,
        device_id=device.id,
        user_id=user_id,
        account_id=account_id,
        kind=usage.kind.value,
        pages=usage.usage.total_pages,
        colour_pages=usage.usage.colour_pages,
        duplex=usage.usage.duplex,
        paper_size=usage.usage.paper_size,
        cost=cost,
        created_at=now(),
    )
    session.add(record)
    session.flush()
    return record


def find_device(session: Session, name: str) -> DeviceRow:
    return printers.find_device(session, name)
