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
from typing import Any, cast

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


def charge(
    session: Session,
    site: str,
    entries: list[dict[str, Any]],
    checked: journal_checks.Checked,
    providers: Callable[[], Collection[int]],
) -> Charged:
    """Charge the plain printed and the walk-up usage entries among ``entries`` that passed
    the ``checked`` checks, at the cost the checks found, with one ledger call; those charged
    now (a replayed ``usage_id`` is not among them). Held jobs of the site's ``providers()``
    that printed are marked so."""
    costs = checked.costs
    passed = [e for e in entries if e["id"] in costs]
    jobs, txns, rows = _printed(session, site, [e for e in passed if e["kind"] == "printed"],
                                checked)  # fmt: skip
    usage = {e["id"]: usage_transaction(site, e["body"], costs[e["id"]], moment(e.get("at")))
             for e in passed if e["kind"] == "usage"}  # fmt: skip
    # Every account was just read: the users' personal accounts, the usage entries' accounts.
    results = ledger.apply_transactions(session, [*txns, *usage.values()], accounts_found=True)
    if rows:
        columns = dict(zip(_JOB_COLUMNS, map(list, zip(*rows, strict=True)), strict=True))
        bulk.insert_columns(session, _JOBS, columns)
        held_jobs.mark_printed(session, columns["job_ref"], providers)
    fresh = {txn.id for txn, new in results if new}
    for entry_id, txn in usage.items():
        if txn.id in fresh:
            jobs[entry_id] = (-txn.amount, txn.account_id, txn.kind.value)
    return jobs


def _printed(
    session: Session, site: str, entries: list[dict[str, Any]], checked: journal_checks.Checked
) -> tuple[Charged, list[Transaction], list[tuple[Any, ...]]]:
    """The plain printed entries' charges, ledger transactions and job rows. Those it cannot
    take as they are (see the module) are left out, and so to the one-by-one path."""
    plain = [e for e in entries if not e["body"].get("account")]
    if not plain:
        return {}, [], []
    bodies = [e["body"] for e in plain]
    with bulk.custom_plans(session):
        taken = ledger.recorded(session, [str(b["txn_id"]) for b in bodies])
    people, models, costs = checked.people, checked.printers, checked.costs
    # A batch repeats jobs: counts by usage fields (as sent).
    usages: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    origin, stamp = site_origin(site), now()
    kind = TransactionKind.PRINT
    kind_name = kind.value  # an enum's value is a property: slow in a loop
    charged: Charged = {}
    txns, rows = [], []
    for entry, body in zip(plain, bodies, strict=True):
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
    return charged, txns, rows


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
