"""Printed-job and walk-up usage journal entries applied as a batch: the common case of a
reconciliation.

Per entry, charging costs about ten statements (user, account, printer, ledger, job row,
held job); a batch takes the users, personal accounts and printers the checks loaded
(``usecases/journal_checks.py``) and the cost they found for each entry, writes the ledger
with one ``apply_transactions`` and the job rows with one statement. Printed entries it
cannot take as they are — a shared account, a deleted or disabled user, a transaction id
already recorded — are left to the one-by-one path.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from itertools import chain
from typing import Any, NamedTuple, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from printwarden.domain.ledger import Transaction, TransactionKind, site_origin
from printwarden.domain.wording import count
from printwarden.store import bulk, held_jobs, ledger
from printwarden.store import jobs as jobs_store
from printwarden.store.models import PrintJobRow
from printwarden.store.users import now
from printwarden.usecases import journal_checks

_JOBS = cast(Table, PrintJobRow.__table__)


Charged = dict[str, tuple[int, int, str]]  # entry id → (cost, account id, ledger kind)


class Batch(NamedTuple):
    """One site's upload as :func:`charge_many` takes it: its fresh entries, their checks,
    and the providers the site may speak for."""

    site: str
    entries: list[dict[str, Any]]
    checked: journal_checks.Checked
    providers: Callable[[], Collection[int]]


def charge_many(session: Session, batches: list[Batch]) -> list[Charged]:
    """Charge the plain printed and the walk-up usage entries of each upload that passed its
    checks, at the cost the checks found, with one ledger call and one job insert for all
    uploads (each with its own site's origin); those charged now, per upload (a replayed
    ``usage_id`` is not among them, and a transaction id taken by an earlier upload goes one
    by one in a later one, as if they came one after the other). Held jobs of each site's
    ``providers()`` that printed are marked so."""
    passed = [[e for e in b.entries if e["id"] in b.checked.costs] for b in batches]
    printed = [[e for e in p if e["kind"] == "printed" and not e["body"].get("account")]
               for p in passed]  # fmt: skip
    with bulk.custom_plans(session):
        taken = ledger.recorded(session, [str(e["body"]["txn_id"]) for e in chain(*printed)])
    plans = [_printed(b.site, p, b.checked, taken) for b, p in zip(batches, printed, strict=True)]
    usage = [_usage(b, p) for b, p in zip(batches, passed, strict=True)]
    txns = [t for plan, its_usage in zip(plans, usage, strict=True)
            for t in (*plan.txns, *its_usage.values())]  # fmt: skip
    # Every account was just read: the users' personal accounts, the usage entries' accounts.
    fresh = {txn.id for txn, new in ledger.apply_transactions(session, txns, accounts_found=True)
             if new}  # fmt: skip
    _write_jobs(session, batches, plans)
    for plan, its_usage in zip(plans, usage, strict=True):
        for entry_id, txn in its_usage.items():
            if txn.id in fresh:
                fresh.discard(txn.id)  # a usage id charged once, to the first entry naming it
                plan.charged[entry_id] = (-txn.amount, txn.account_id, txn.kind.value)
    return [plan.charged for plan in plans]


def _usage(batch: Batch, passed: list[dict[str, Any]]) -> dict[str, Transaction]:
    """The ledger transactions of an upload's walk-up usage entries, by entry id."""
    costs = batch.checked.costs
    return {
        e["id"]: usage_transaction(batch.site, e["body"], costs[e["id"]], moment(e.get("at")))
        for e in passed
        if e["kind"] == "usage"
    }


def _write_jobs(session: Session, batches: list[Batch], plans: list[_Plan]) -> None:
    """Every upload's job rows in one insert; each site's printed held jobs marked so."""
    rows = [row for plan in plans for row in plan.rows]
    if not rows:
        return
    columns = dict(zip(_JOB_COLUMNS, map(list, zip(*rows, strict=True)), strict=True))
    bulk.insert_columns(session, _JOBS, columns)
    held_jobs.mark_printed_many(
        session,
        [([row[0] for row in plan.rows], batch.providers)
         for batch, plan in zip(batches, plans, strict=True)],
    )  # fmt: skip


class _Plan(NamedTuple):
    charged: Charged
    txns: list[Transaction]
    rows: list[tuple[Any, ...]]


def _printed(
    site: str, plain: list[dict[str, Any]], checked: journal_checks.Checked, taken: set[str]
) -> _Plan:
    """The plain printed entries' charges, ledger transactions and job rows. Those it cannot
    take as they are (see the module) are left out, and so to the one-by-one path; the ids
    it takes are added to ``taken``."""
    charged: Charged = {}
    txns: list[Transaction] = []
    rows: list[tuple[Any, ...]] = []
    if not plain:
        return _Plan(charged, txns, rows)
    people, models, costs = checked.people, checked.printers, checked.costs
    # A batch repeats jobs: counts by usage fields (as sent).
    usages: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    origin, stamp = site_origin(site), now()
    kind = TransactionKind.PRINT
    kind_name = kind.value  # an enum's value is a property: slow in a loop
    for entry in plain:
        body = entry["body"]
        printer_name, txn_id = str(body["printer"]), str(body["txn_id"])
        person, printer = people[str(body["username"])], models[printer_name]
        if not person.active or txn_id in taken:
            continue
        taken.add(txn_id)  # a second entry with it goes one by one
        shape = tuple(map(body.get, _USAGE_FIELDS))
        counts = usages.get(shape) or usages.setdefault(shape, _counted(body))
        cost = costs[entry["id"]]
        job_ref = str(body.get("job_ref") or txn_id)
        printed_at = moment(body.get("printed_at")) or stamp
        comment = jobs_store.charge_comment(counts[0], printer_name, _said(body))
        txns.append(Transaction(txn_id, person.account_id, -cost, kind, "job:" + job_ref, origin,
                                printed_at, comment))  # fmt: skip
        document = str(body.get("document_name") or "")[:256]
        overridden = body.get("cost_override") is not None
        rows.append((job_ref, person.user_id, printer.id, person.account_id, *counts, document,
                     cost, txn_id, origin, printed_at, overridden, claimed_by(body)))  # fmt: skip
        charged[str(entry["id"])] = (cost, person.account_id, kind_name)
    return _Plan(charged, txns, rows)


def usage_transaction(
    site: str, body: dict[str, Any], cost: int, at: datetime | None = None
) -> Transaction:
    """The ledger transaction of a walk-up usage entry (its id is the device's usage id)
    charging ``cost`` (checked), dated when it happened at the site (``at``, the entry's)."""
    kind = TransactionKind(str(body.get("kind", "copy")))
    return Transaction(
        id=str(body["usage_id"]),
        account_id=int(body["account_id"]),
        amount=-cost,
        kind=kind,
        reference=f"device:{body.get('device', '')}",
        origin=site_origin(site),
        comment=f"{count(int(body.get('pages') or 0), 'page')} {kind.value} at "
        f"{body.get('device')} ({'at the site' if body.get('online') is True else 'offline'})",
        created_at=at,
    )


_USAGE_FIELDS = journal_checks.USAGE_FIELDS


# The order of the values of a job row (``_printed``; the middle six are ``_counted``'s).
_JOB_COLUMNS = ("job_ref", "user_id", "printer_id", "account_id", "pages", "colour_pages",
                "copies", "sheets", "duplex", "paper_size", "document_name", "cost", "txn_id",
                "origin", "printed_at", "cost_overridden", "claimed_by")  # fmt: skip


def _counted(body: dict[str, Any]) -> tuple[Any, ...]:
    """A printed entry's job row counts over all copies."""
    usage = journal_checks.usage_of(body)
    return (usage.total_pages, usage.colour_pages * usage.copies, usage.copies,
            usage.sheets, usage.duplex, usage.paper_size)  # fmt: skip


def claimed_by(body: dict[str, Any]) -> str | None:
    """The name a printed entry's job was sent under, if a stand-in was charged for it."""
    return str(body["claimed_by"])[:128] if body.get("claimed_by") else None


def moment(value: Any) -> datetime | None:
    """An entry's ISO timestamp (None when absent)."""
    return datetime.fromisoformat(str(value)) if value else None


def _said(body: dict[str, Any]) -> str:
    """The comment its owner gave when asked which account to charge (at the site)."""
    return str(body.get("comment") or "")[:500]
