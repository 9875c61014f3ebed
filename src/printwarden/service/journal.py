"""Applying a site's offline journal at the App Server: each entry once, in order.

Entry kinds (``body`` fields in brackets):

- ``printed`` — a job printed and charged offline [txn_id, job_ref, username, printer, pages,
  colour_pages, copies, duplex, paper_size, account, document_name, printed_at,
  failure_mode]. Charged with the site's origin; the ledger's unique ``txn_id`` makes a
  replay harmless. A user deleted at HQ during the outage is still charged: their personal
  account is kept (soft-deleted) for the record, and the report says so.
- ``usage`` — walk-up copy, scan or fax [usage_id, device, username, account_id, kind,
  pages, colour_pages, duplex, paper_size, cost]: the cost the site computed stands.
- ``held`` — a held job released, canceled or expired at the site [job_ref, status, reason,
  released_to]. A job canceled at HQ while the site released it: the site's release wins
  (the paper exists); the report lists the conflict.
- ``held-report`` — a job a provider held while the site was offline [the fields of a
  provider's held-job report, with ``provider`` and ``username``], so that HQ lists it too.
- ``unknown-user`` — a user the site did not know [username, where].

``journal_applied`` remembers every entry id, so uploading the same journal twice (after a
crash mid-upload, say) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from printwarden.domain.ledger import Transaction, TransactionKind, site_origin
from printwarden.service import journal_batch
from printwarden.store import bulk, held_jobs, jobs, ledger
from printwarden.store.changes import change_seq
from printwarden.store.errors import InvalidReference, NotFound
from printwarden.store.models import (
    AccountRow,
    JournalEntryRow,
    ProviderRow,
    TransactionRow,
    UserRow,
)
from printwarden.store.users import now

KINDS = ("printed", "usage", "held", "held-report", "unknown-user")
_APPLIED = cast(Table, JournalEntryRow.__table__)


@dataclass(slots=True)
class Report:
    """What one upload did (a reconciliation report sums these)."""

    entries: int = 0
    applied: int = 0
    already_applied: int = 0
    amounts: dict[str, int] = field(default_factory=dict)
    unknown_users: list[str] = field(default_factory=list)
    failure_mode_jobs: int = 0
    notes: list[str] = field(default_factory=list)
    touched_accounts: set[int] = field(default_factory=set)

    def charge(self, kind: str, amount: int, account_id: int) -> None:
        self.amounts[kind] = self.amounts.get(kind, 0) + amount
        self.touched_accounts.add(account_id)


def apply_entries(session: Session, site: str, entries: list[dict[str, Any]]) -> Report:
    """Apply ``entries`` (in order) for ``site`` in the caller's transaction."""
    report = Report(entries=len(entries))
    ids = [str(e["id"]) for e in entries]
    known = select(JournalEntryRow.entry_id).where(
        bulk.among(session, JournalEntryRow.entry_id, ids)
    )
    done = set(session.scalars(known))
    fresh = _first_of_each(entries, ids, done)
    report.already_applied = len(entries) - len(fresh)
    charged = journal_batch.charge(session, site, fresh)
    outcomes = [_outcome(session, site, entry, charged, report) for entry in fresh]
    report.applied = len(fresh)
    session.flush()
    # A concurrent upload of the same ids fails here, and is retried whole.
    _record_applied(session, site, fresh, outcomes)
    return report


def _record_applied(
    session: Session, site: str, entries: list[dict[str, Any]], outcomes: list[str]
) -> None:
    if not entries:
        return
    columns: dict[str, list[Any]] = {
        "entry_id": [str(e["id"]) for e in entries],
        "site": [site] * len(entries),
        "kind": [str(e["kind"]) for e in entries],
        "outcome": outcomes,
        "applied_at": [now()] * len(entries),
    }
    bulk.insert_columns(session, _APPLIED, columns)


def _outcome(
    session: Session,
    site: str,
    entry: dict[str, Any],
    charged: journal_batch.Charged,
    report: Report,
) -> str:
    """Apply one entry, unless the batch charged it; what it did."""
    found = charged.get(str(entry["id"]))
    if found is None:
        if entry["kind"] == "usage" and _usage_recorded(session, entry):
            return "already in the ledger"
        return _apply(session, site, entry, report)
    cost, account_id, kind = found
    report.charge(kind, cost, account_id)
    if (entry.get("body") or {}).get("failure_mode"):
        report.failure_mode_jobs += 1
    return f"charged {cost}"


def _usage_recorded(session: Session, entry: dict[str, Any]) -> bool:
    """A usage entry whose ``usage_id`` the ledger already holds (charged online, say)."""
    usage_id = str((entry.get("body") or {}).get("usage_id", ""))
    found = select(TransactionRow.txn_id).where(TransactionRow.txn_id == usage_id)
    return session.scalar(found) is not None


def _first_of_each(
    entries: list[dict[str, Any]], ids: list[str], done: set[str]
) -> list[dict[str, Any]]:
    """Entries (with their ``ids``) in order, but those ``done``; an id repeated within one
    upload taken once."""
    seen = set(done)
    unique = []
    for entry, entry_id in zip(entries, ids, strict=True):
        if entry_id not in seen:
            seen.add(entry_id)
            unique.append(entry)
    return unique


def _apply(session: Session, site: str, entry: dict[str, Any], report: Report) -> str:
    kind, body = str(entry["kind"]), dict(entry.get("body") or {})
    if kind == "printed":
        return _printed(session, site, body, report)
    if kind == "usage":
        return _usage(session, site, body, report)
    if kind == "held":
        return _held(session, body, report)
    if kind == "held-report":
        return _held_report(session, body)
    if kind == "unknown-user":
        name = str(body.get("username", ""))
        if name not in report.unknown_users:  # each user once, however often seen
            report.unknown_users.append(name)
        return "recorded"
    raise InvalidReference(f"unknown journal entry kind {kind!r}")


def _printed(session: Session, site: str, body: dict[str, Any], report: Report) -> str:
    usage = journal_batch.usage_of(body)
    printed = jobs.PrintedJob(
        txn_id=str(body["txn_id"]),
        job_ref=str(body.get("job_ref") or body["txn_id"]),
        username=str(body["username"]),
        printer=str(body["printer"]),
        usage=usage,
        choice=jobs.AccountChoice(name=str(body.get("account") or "")),
        document_name=str(body.get("document_name") or "")[:256],
        origin=site_origin(site),
        printed_at=journal_batch.moment(body.get("printed_at")),
        cost_override=body.get("cost_override"),
        claimed_by=journal_batch.claimed_by(body),
    )
    if body.get("failure_mode"):
        report.failure_mode_jobs += 1
    try:
        charge = jobs.charge_printed(session, printed)
    except NotFound as exc:
        return _charge_deleted_user(session, site, body, report, str(exc))
    held_jobs.mark_printed(session, [printed.job_ref])
    report.charge("print", charge.job.cost, charge.job.account_id)
    return f"charged {charge.job.cost}"


def _charge_deleted_user(
    session: Session, site: str, body: dict[str, Any], report: Report, why: str
) -> str:
    """The user was deleted at HQ meanwhile: charge their kept personal account anyway."""
    account = session.scalar(
        select(AccountRow)
        .join(UserRow, UserRow.id == AccountRow.owner_id)
        .where(UserRow.username == str(body["username"]))
    )
    cost = int(body.get("cost") or 0)
    if account is None:
        report.notes.append(f"not charged ({why}): {body.get('username')!r} never existed here")
        return f"not charged: {why}"
    txn = Transaction(
        id=str(body["txn_id"]),
        account_id=account.id,
        amount=-cost,
        kind=TransactionKind.PRINT,
        reference=f"job:{body.get('job_ref', '')}",
        origin=site_origin(site),
        comment=f"printed offline at {site} after the user was deleted",
    )
    ledger.apply_transaction(session, txn)
    report.charge("print", cost, account.id)
    report.notes.append(f"{body['username']} was deleted at HQ; charged {cost} to the kept account")
    return f"charged {cost} to a deleted user's account"


def _usage(session: Session, site: str, body: dict[str, Any], report: Report) -> str:
    txn = journal_batch.usage_transaction(site, body)
    if session.get(AccountRow, txn.account_id) is None:
        raise InvalidReference(f"no account {txn.account_id}")
    _, new = ledger.apply_transaction(session, txn)
    if new:
        report.charge(txn.kind.value, -txn.amount, txn.account_id)
    return f"charged {-txn.amount}" if new else "already in the ledger"


def _held(session: Session, body: dict[str, Any], report: Report) -> str:
    try:
        row = held_jobs.find(session, str(body["job_ref"]))
    except NotFound:
        return "unknown held job"
    status = str(body.get("status", ""))
    if row.status in held_jobs.ENDED and row.status != status:
        if status in ("releasing", "printed") and row.status == "canceled":
            report.notes.append(f"held job {row.job_ref} canceled at HQ was released at the site")
        else:
            return f"kept {row.status}"
    held_jobs.set_status(row, status, str(body.get("reason", "")), change_seq(session))
    if body.get("released_to"):
        row.released_to = str(body["released_to"])
    return status


def _held_report(session: Session, body: dict[str, Any]) -> str:
    provider = session.scalar(select(ProviderRow).where(ProviderRow.name == body["provider"]))
    if provider is None:
        return f"unknown provider {body['provider']!r}"
    fields = {name: body[name] for name in held_jobs.REPORTED_FIELDS if name in body}
    for name in ("submitted_at", "expires_at"):
        fields[name] = journal_batch.moment(fields.get(name))
    found = held_jobs.Report(
        job_ref=str(body["job_ref"]),
        provider_job_id=int(body["provider_job_id"]),
        queue=str(body["queue"]),
        queue_kind=str(body["queue_kind"]),
        username=str(body["username"]),
        fields=fields,
        status=str(body.get("status") or "held"),
        status_reason=str(body.get("status_reason") or ""),
    )
    refused = held_jobs.record_reports(session, provider, [found])
    return f"refused: {refused[0][1]}" if refused else "recorded"


def deficits(session: Session, account_ids: set[int]) -> list[dict[str, Any]]:
    """Accounts among ``account_ids`` now below zero."""
    if not account_ids:
        return []
    rows = session.scalars(
        select(AccountRow).where(
            bulk.among(session, AccountRow.id, account_ids), AccountRow.balance < 0
        )
    )
    return [{"account": r.name, "balance": r.balance} for r in rows]
