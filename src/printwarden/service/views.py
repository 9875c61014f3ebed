"""Turning stored rows into API response bodies."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.api.accounts import AccountOut, TransactionOut
from printwarden.api.devices import DeviceOut
from printwarden.api.printers import PrinterOut
from printwarden.api.sites import SiteOut
from printwarden.api.users import UserOut
from printwarden.domain.ledger import Transaction, TransactionKind
from printwarden.store import accounts, printers, sites
from printwarden.store.db import utc
from printwarden.store.models import AccountRow, DeviceRow, PrinterRow, SiteRow, TransactionRow
from printwarden.store.users import UserView


def user_out(view: UserView) -> UserOut:
    row, account = view.row, view.account
    return UserOut(
        id=row.id,
        username=row.username,
        full_name=row.full_name,
        email=row.email,
        groups=view.groups,
        card_count=view.card_count,
        has_pin=row.pin_hash is not None,
        has_password=row.password_hash is not None,
        is_admin=row.is_admin,
        enabled=row.enabled,
        source=row.source,
        restricted=account.restricted,
        credit_limit=account.credit_limit,
        balance=account.balance,
        account_id=account.id,
        change_seq=max(row.change_seq, account.change_seq),
    )


def account_out(session: Session, row: AccountRow) -> AccountOut:
    users, groups = accounts.grants(session, row) if row.kind == "shared" else ([], [])
    parent = session.get(AccountRow, row.parent_id) if row.parent_id else None
    return AccountOut(
        id=row.id,
        kind=row.kind,
        name=row.name,
        parent=parent.name if parent else None,
        balance=row.balance,
        restricted=row.restricted,
        credit_limit=row.credit_limit,
        enabled=row.enabled,
        code=row.code,
        has_pin=row.pin_hash is not None,
        users=users,
        groups=groups,
        change_seq=row.change_seq,
    )


def transaction_out(row: TransactionRow) -> TransactionOut:
    return TransactionOut(
        seq=row.seq,
        txn_id=row.txn_id,
        account_id=row.account_id,
        amount=row.amount,
        kind=TransactionKind(row.kind),
        reference=row.reference,
        origin=row.origin,
        created_at=row.created_at,
        comment=row.comment,
    )


def domain_transaction_out(session: Session, txn: Transaction) -> TransactionOut:
    """The stored form of a transaction that was just applied (or replayed)."""
    row = session.scalars(select(TransactionRow).where(TransactionRow.txn_id == txn.id)).one()
    return transaction_out(row)


def printer_out(row: PrinterRow) -> PrinterOut:
    return PrinterOut(
        id=row.id,
        name=row.name,
        location=row.location,
        enabled=row.enabled,
        hold_for_release=row.hold_for_release,
        colour=row.colour,
        cost_model=row.cost_model,
        site=row.site,
        client_rules=row.client_rules or {},
        change_seq=row.change_seq,
    )


def device_out(session: Session, row: DeviceRow) -> DeviceOut:
    return DeviceOut(
        id=row.id,
        name=row.name,
        kind=row.kind,
        printer=printers.printer_name(session, row.printer_id),
        location=row.location,
        enabled=row.enabled,
        cost_model=row.cost_model,
        login_methods=list(row.login_methods),
        site=row.site,
        escl_url=row.escl_url,
        change_seq=row.change_seq,
    )


def site_out(row: SiteRow) -> SiteOut:
    status = row.status or {}
    contact = utc(row.last_contact) if row.last_contact is not None else None
    reachable = sites.reachable(row)
    return SiteOut(
        name=row.name,
        description=row.description,
        mode=str(status.get("mode", "unknown")) if reachable else "offline",
        reachable=reachable,
        forced_offline=row.forced_offline,
        last_contact=contact,
        journal_backlog=int(status.get("journal_backlog", 0)),
        outages=list(status.get("outages", [])),
        last_report=status.get("last_report"),
        key_generation=row.key_generation,
        url=str(status.get("url", "")),
    )
