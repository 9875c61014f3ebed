"""Printed-job and walk-up usage journal entries applied as a batch: the common case of a
reconciliation.

Per entry, charging costs about ten statements (user, account, printer, ledger, job row,
held job); a batch loads users, personal accounts, groups and printers once, costs every job
in Python, writes the ledger with one ``apply_transactions`` and the job rows with one
statement. Printed entries it cannot take as they are — a shared account, an unknown or
deleted user or printer, a transaction id already recorded — are left to the one-by-one path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import String, Table, func, literal, select
from sqlalchemy.orm import Session

from printwarden.domain.costs import JobUsage, job_cost
from printwarden.domain.ledger import Transaction, TransactionKind, site_origin
from printwarden.store import bulk, held_jobs, ledger, printers
from printwarden.store.models import (
    AccountRow,
    GroupRow,
    MembershipRow,
    PrinterRow,
    PrintJobRow,
    UserRow,
)
from printwarden.store.users import now

_JOBS = cast(Table, PrintJobRow.__table__)
_SEPARATOR = "\x1f"
# A user's group names in one column (the batch loads users, accounts and groups at once).
_GROUPS = (
    select(func.aggregate_strings(GroupRow.name, _SEPARATOR))
    .join(MembershipRow, MembershipRow.group_id == GroupRow.id)
    .where(MembershipRow.user_id == UserRow.id)
    .scalar_subquery()
)


Charged = dict[str, tuple[int, int, str]]  # entry id → (cost, account id, ledger kind)


def charge(session: Session, site: str, entries: list[dict[str, Any]]) -> Charged:
    """Charge the plain printed and the walk-up usage entries among ``entries`` with one
    ledger call; those charged now (a replayed ``usage_id`` is not among them)."""
    with bulk.custom_plans(session):
        jobs, txns, rows = _printed(session, site, [e for e in entries if e["kind"] == "printed"])
        usage = _usage(session, site, [e for e in entries if e["kind"] == "usage"])
    # Every account was just read: the users' personal accounts, the usage entries' accounts.
    results = ledger.apply_transactions(session, [*txns, *usage.values()], accounts_found=True)
    if rows:
        columns = dict(zip(_JOB_COLUMNS, map(list, zip(*rows, strict=True)), strict=True))
        bulk.insert_columns(session, _JOBS, columns)
        held_jobs.mark_printed(session, columns["job_ref"])
    fresh = {txn.id for txn, new in results if new}
    for entry_id, txn in usage.items():
        if txn.id in fresh:
            jobs[entry_id] = (-txn.amount, txn.account_id, txn.kind.value)
    return jobs


def _printed(
    session: Session, site: str, entries: list[dict[str, Any]]
) -> tuple[Charged, list[Transaction], list[tuple[Any, ...]]]:
    """The plain printed entries' charges, ledger transactions and job rows. Those it cannot
    take as they are (see the module) are left out, and so to the one-by-one path."""
    plain = [e for e in entries if not (e.get("body") or {}).get("account")]
    if not plain:
        return {}, [], []
    bodies = [e["body"] for e in plain]
    models = _printers(session, {str(b["printer"]) for b in bodies})
    grouped = any(model.group_modifiers for _, model in models.values())
    people = _people(session, {str(b["username"]) for b in bodies}, grouped)
    taken = ledger.recorded(session, [str(b["txn_id"]) for b in bodies])
    # A batch repeats jobs: costs by printer, usage fields (as sent) and groups.
    costs: dict[tuple[str, tuple[Any, ...], frozenset[str]], int] = {}
    usages: dict[tuple[Any, ...], tuple[JobUsage, tuple[Any, ...]]] = {}
    origin, stamp = site_origin(site), now()
    kind = TransactionKind.PRINT
    kind_name = kind.value  # an enum's value is a property: slow in a loop
    charged: Charged = {}
    txns, rows = [], []
    for entry, body in zip(plain, bodies, strict=True):
        printer_name, txn_id = str(body["printer"]), str(body["txn_id"])
        person, printer = people.get(str(body["username"])), models.get(printer_name)
        if person is None or printer is None or txn_id in taken:
            continue
        taken.add(txn_id)  # a second entry with it goes one by one
        shape = tuple(map(body.get, _USAGE_FIELDS))
        usage, counts = usages.get(shape) or usages.setdefault(shape, _counted(body))
        override = body.get("cost_override")  # a print script's, charged as decided
        cost = costs.get(key := (printer_name, shape, person[2])) if override is None else override
        if cost is None:
            cost = costs[key] = job_cost(printer[1], usage, person[2])
        job_ref = str(body.get("job_ref") or txn_id)
        printed_at = moment(body.get("printed_at")) or stamp
        comment = f"{counts[0]} pages on {printer_name}"
        txns.append(Transaction(txn_id, person[1], -cost, kind, "job:" + job_ref, origin,
                                printed_at, comment))  # fmt: skip
        document = str(body.get("document_name") or "")[:256]
        rows.append((job_ref, person[0], printer[0], person[1], *counts, document, cost, txn_id,
                     origin, printed_at, override is not None, claimed_by(body)))  # fmt: skip
        charged[str(entry["id"])] = (cost, person[1], kind_name)
    return charged, txns, rows


def _usage(session: Session, site: str, entries: list[dict[str, Any]]) -> dict[str, Transaction]:
    """The ledger transactions of the usage entries whose account exists, by entry id."""
    bodies = {str(e["id"]): e["body"] for e in entries if (e.get("body") or {}).get("usage_id")}
    if not bodies:
        return {}
    wanted = {int(b["account_id"]) for b in bodies.values()}
    accounts = set(
        session.scalars(select(AccountRow.id).where(bulk.among(session, AccountRow.id, wanted)))
    )
    return {
        entry_id: usage_transaction(site, body)
        for entry_id, body in bodies.items()
        if int(body["account_id"]) in accounts
    }


def usage_transaction(site: str, body: dict[str, Any]) -> Transaction:
    """The ledger transaction of a walk-up usage entry (its id is the device's usage id)."""
    kind = TransactionKind(str(body.get("kind", "copy")))
    return Transaction(
        id=str(body["usage_id"]),
        account_id=int(body["account_id"]),
        amount=-int(body.get("cost") or 0),
        kind=kind,
        reference=f"device:{body.get('device', '')}",
        origin=site_origin(site),
        comment=f"{body.get('pages')} pages {kind.value} at {body.get('device')} (offline)",
    )


def _people(
    session: Session, names: set[str], grouped: bool
) -> dict[str, tuple[int, int, frozenset[str]]]:
    """username → (user id, personal account id, groups), for enabled, undeleted users.
    Groups only change a cost through a printer's group modifiers: not ``grouped``, none."""
    groups = _GROUPS if grouped else literal(None, String)
    found = session.execute(
        select(UserRow.username, UserRow.id, AccountRow.id, groups)
        .join(AccountRow, AccountRow.owner_id == UserRow.id)
        .where(
            bulk.among(session, UserRow.username, names),
            UserRow.deleted_at.is_(None),
            UserRow.enabled,
        )
    )
    return {
        name: (user_id, account_id, frozenset(joined.split(_SEPARATOR) if joined else ()))
        for name, user_id, account_id, joined in found
    }


def _printers(session: Session, names: set[str]) -> dict[str, tuple[int, Any]]:
    rows = session.execute(
        select(PrinterRow.name, PrinterRow.id, PrinterRow.cost_model).where(
            bulk.among(session, PrinterRow.name, names), PrinterRow.deleted_at.is_(None)
        )
    ).all()
    return {name: (row_id, printers.cost_model_from_json(model)) for name, row_id, model in rows}


_USAGE_FIELDS = ("pages", "colour_pages", "copies", "duplex", "paper_size")


def usage_of(body: dict[str, Any]) -> JobUsage:
    """What a printed entry printed, per copy."""
    return JobUsage(
        pages=int(body.get("pages") or 0),
        colour_pages=int(body.get("colour_pages") or 0),
        copies=int(body.get("copies") or 1),
        duplex=bool(body.get("duplex")),
        paper_size=str(body.get("paper_size") or "A4"),
    )


# The order of the values of a job row (``_printed``; the middle six are ``_counted``'s).
_JOB_COLUMNS = ("job_ref", "user_id", "printer_id", "account_id", "pages", "colour_pages",
                "copies", "sheets", "duplex", "paper_size", "document_name", "cost", "txn_id",
                "origin", "printed_at", "cost_overridden", "claimed_by")  # fmt: skip


def _counted(body: dict[str, Any]) -> tuple[JobUsage, tuple[Any, ...]]:
    """What a printed entry printed, and its job row's counts over all copies."""
    usage = usage_of(body)
    counts = (usage.total_pages, usage.colour_pages * usage.copies, usage.copies,
              usage.sheets, usage.duplex, usage.paper_size)  # fmt: skip
    return usage, counts


def claimed_by(body: dict[str, Any]) -> str | None:
    """The name a printed entry's job was sent under, if a stand-in was charged for it."""
    return str(body["claimed_by"])[:128] if body.get("claimed_by") else None


def moment(value: Any) -> datetime | None:
    """An entry's ISO timestamp (None when absent)."""
    return datetime.fromisoformat(str(value)) if value else None
