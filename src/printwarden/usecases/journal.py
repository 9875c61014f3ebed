"""Applying a site's offline journal at the App Server: each entry once, in order.

Entry kinds (``body`` fields in brackets):

- ``printed`` — a job printed and charged offline [txn_id, job_ref, username, printer, pages,
  colour_pages, copies, duplex, paper_size, account, document_name, printed_at,
  failure_mode, cost, cost_model, cost_override, script]. Charged with the site's origin at
  the site's cost, once HQ has explained it (``usecases/journal_checks.py``); the ledger's
  unique ``txn_id`` makes a replay harmless. A user deleted at HQ during the outage is still
  charged: their personal account is kept (soft-deleted) for the record, and the report says
  so.
- ``usage`` — walk-up copy, scan or fax [usage_id, device, username, account_id, kind,
  pages, colour_pages, duplex, paper_size, cost, cost_model]: charged like a printed job.
- ``held`` — a held job released, canceled or expired at the site [job_ref, status, reason,
  released_to]. A job canceled at HQ while the site released it: the site's release wins
  (the paper exists); the report lists the conflict.
- ``held-report`` — a job a provider held while the site was offline [the fields of a
  provider's held-job report, with ``provider`` and ``username``], so that HQ lists it too.
- ``unknown-user`` — a user the site did not know [username, where].
- ``voucher`` — a top-up card redeemed at the site [code, txn_id, username, amount, currency,
  redeemed_at]: credited once; a card redeemed elsewhere first is credited and taken back,
  visibly (``usecases/vouchers.py``).
- ``cash`` — a note or coin a kiosk of the site took [insertion_id, device, username, amount,
  currency, txn_id, at]: credited once under the cash rules (``usecases/cash.py``).

An entry the site may not make — a credit it cannot prove, a charge HQ cannot explain, a
printer, device, provider or held job of another site, an account the user may not charge —
is rejected with the reason: it changes nothing, is recorded like any other
(``journal_applied.rejected``, so a re-upload gets the same answer), and never holds up the
rest of the journal.
``journal_applied`` remembers every entry id, so uploading the same journal twice (after a
crash mid-upload, say) changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from printwarden.api.journal import JournalEntryResult, JournalRejection
from printwarden.domain.charges import Refused
from printwarden.domain.ledger import Transaction, TransactionKind, site_origin
from printwarden.domain.money import Currency
from printwarden.store import accounts, bulk, held_jobs, jobs, ledger
from printwarden.store.errors import InvalidReference, NotFound
from printwarden.store.models import (
    AccountRow,
    JournalEntryRow,
    TransactionRow,
    UserRow,
)
from printwarden.store.users import now
from printwarden.usecases import cash, journal_batch, journal_checks, journal_held, vouchers

KINDS = ("printed", "usage", "held", "held-report", "unknown-user", "voucher", "cash")
_APPLIED = cast(Table, JournalEntryRow.__table__)
# What makes an entry impossible to apply as it is, found while applying it one by one.
_REFUSALS = (Refused, InvalidReference, ledger.IdempotencyConflict, ledger.UnknownAccount)


@dataclass(slots=True)
class Report:
    """What one upload did (a reconciliation report sums these). ``results`` has each
    entry's id and outcome, in upload order; ``rejected`` the rejected ones with the reason
    (those rejected by an earlier upload of the same entry too: the outcome is stable)."""

    entries: int = 0
    applied: int = 0
    already_applied: int = 0
    amounts: dict[str, int] = field(default_factory=dict)
    unknown_users: list[str] = field(default_factory=list)
    failure_mode_jobs: int = 0
    notes: list[str] = field(default_factory=list)
    touched_accounts: set[int] = field(default_factory=set)
    credits: dict[str, int] = field(default_factory=dict)  # top-up cards and cash, by kind
    results: list[JournalEntryResult] = field(default_factory=list)
    rejected: list[JournalRejection] = field(default_factory=list)
    credit_rules: CreditRules | None = None

    def charge(self, kind: str, amount: int, account_id: int) -> None:
        self.amounts[kind] = self.amounts.get(kind, 0) + amount
        self.touched_accounts.add(account_id)


class Outcome(NamedTuple):
    """What applying one entry did, or why it was rejected (a tuple: thousands of them per
    upload, which the garbage collector need not follow)."""

    detail: str
    rejected: bool = False


@dataclass(frozen=True, slots=True)
class CreditRules:
    """What HQ checks a site's credits with: the key top-up card codes hash under, and
    what its kiosks take (None: no kiosk may take cash)."""

    voucher_key: bytes = b""
    cash: cash.CashRules | None = None


def apply_entries(
    session: Session,
    site: str,
    entries: list[dict[str, Any]],
    currency: Currency | None = None,
    credits: CreditRules | None = None,
) -> Report:
    """Apply ``entries`` (in order) for ``site`` in the caller's transaction; outcomes and
    refusals show amounts in ``currency``."""
    return apply_uploads(session, [Upload(site, entries)], currency, credits)[0]


class Upload(NamedTuple):
    """One site's journal upload: the sending site, its entries in order."""

    site: str
    entries: list[dict[str, Any]]


class SharedEntries(ValueError):
    """Uploads applied together name the same entry: they must go one after the other."""


def apply_uploads(
    session: Session,
    uploads: list[Upload],
    currency: Currency | None = None,
    credits: CreditRules | None = None,
) -> list[Report]:
    """Apply several sites' uploads in the caller's transaction, each as
    :func:`apply_entries` would after the ones before it, with the statements of a batch
    (loads, ledger, job rows, records) made once for all of them. Raises
    :class:`SharedEntries` when two uploads name the same entry id, and
    ``journal_checks.Malformed`` when any entry of any upload is."""
    currency = currency or Currency()
    ids = [[str(e["id"]) for e in upload.entries] for upload in uploads]
    named = [entry_id for its in ids for entry_id in set(its)]
    if len(named) != len(set(named)):
        raise SharedEntries("uploads applied together name the same entry")
    before = _applied_before(session, named)
    fresh = [_first_of_each(u.entries, i, before) for u, i in zip(uploads, ids, strict=True)]
    work = [(u.site, f) for u, f in zip(uploads, fresh, strict=True)]
    checked = journal_checks.check_many(session, work, currency)
    senders = [journal_held.Sender(session, u.site) for u in uploads]
    batches = [
        journal_batch.Batch(site, its_fresh, its_checked, sender.providers)
        for (site, its_fresh), its_checked, sender in zip(work, checked, senders, strict=True)
    ]
    charged = journal_batch.charge_many(session, batches)
    reports, outcomes = [], []
    for upload, batch, sender, its_charged in zip(uploads, batches, senders, charged,
                                                  strict=True):  # fmt: skip
        entries, applied = len(upload.entries), len(batch.entries)
        report = Report(entries=entries, applied=applied, already_applied=entries - applied,
                        credit_rules=credits or CreditRules())  # fmt: skip
        its = {
            str(e["id"]): _outcome(session, sender, e, batch.checked, its_charged, report, currency)
            for e in batch.entries
        }
        reports.append(report)
        outcomes.append(its)
    _mark_printed_after_held(session, batches, outcomes)
    session.flush()
    # A concurrent upload of the same ids fails here, and is retried whole.
    _record_applied(
        session, [(b.site, b.entries, o) for b, o in zip(batches, outcomes, strict=True)]
    )
    for upload, report, its_ids, its_outcomes in zip(uploads, reports, ids, outcomes, strict=True):
        _results(report, upload.entries, its_ids, before, its_outcomes)
    return reports


def _mark_printed_after_held(
    session: Session, batches: list[journal_batch.Batch], outcomes: list[dict[str, Outcome]]
) -> None:
    """Printed jobs are charged before the uploads' held-job entries are applied, so a job
    held and released at the site while it was offline was not yet a held job when its charge
    marked it printed: mark those again once the held-job entries have made their records
    (each upload's jobs for its own site's providers; in two statements for all of them)."""
    held = ("held", "held-report")
    if not any(e["kind"] in held for batch in batches for e in batch.entries):
        return
    groups = [(_printed_refs(b.entries, o), b.providers)
              for b, o in zip(batches, outcomes, strict=True)]  # fmt: skip
    held_jobs.mark_printed_many(session, [group for group in groups if group[0]])


def _printed_refs(entries: list[dict[str, Any]], outcomes: dict[str, Outcome]) -> list[str]:
    """The job refs of the printed entries that were not rejected."""
    refs = (
        str((e.get("body") or {}).get("job_ref") or "")
        for e in entries
        if e["kind"] == "printed" and not outcomes[str(e["id"])].rejected
    )
    return [ref for ref in refs if ref]


def _applied_before(session: Session, ids: list[str]) -> dict[str, Outcome]:
    """The entries among ``ids`` an earlier upload applied, with their outcome."""
    found = select(JournalEntryRow.entry_id, JournalEntryRow.outcome, JournalEntryRow.rejected)
    rows = session.execute(found.where(bulk.among(session, JournalEntryRow.entry_id, ids)))
    return {str(i): Outcome(str(detail), bool(rejected)) for i, detail, rejected in rows}


def _results(
    report: Report,
    entries: list[dict[str, Any]],
    ids: list[str],
    before: dict[str, Outcome],
    now_: dict[str, Outcome],
) -> None:
    """Each entry's outcome in upload order: applied now, already applied (by an earlier
    upload, or earlier in this one), or rejected (now or before: the outcome is stable)."""
    seen: set[str] = set()
    results, rejected = report.results, report.rejected
    status: Literal["applied", "already-applied", "rejected"]
    for entry, entry_id in zip(entries, ids, strict=True):
        outcome = now_.get(entry_id) or before[entry_id]
        kind = str(entry["kind"])
        if outcome.rejected:
            status = "rejected"
            if entry_id not in seen:
                rejected.append(JournalRejection(id=entry_id, kind=kind,
                                                         reason=outcome.detail))  # fmt: skip
        elif entry_id in seen or entry_id in before:
            status = "already-applied"
        else:
            status = "applied"
        seen.add(entry_id)
        results.append({"id": entry_id, "kind": kind, "status": status, "detail": outcome.detail})


def _record_applied(
    session: Session, done: list[tuple[str, list[dict[str, Any]], dict[str, Outcome]]]
) -> None:
    """Each applied entry's outcome (every site's uploads in one insert)."""
    ids = [str(e["id"]) for _site, entries, _o in done for e in entries]
    if not ids:
        return
    outcomes = [outcomes[str(e["id"])] for _site, entries, outcomes in done for e in entries]
    stamp = now()
    columns: dict[str, list[Any]] = {
        "entry_id": ids,
        "site": [site for site, entries, _o in done for _e in entries],
        "kind": [str(e["kind"]) for _site, entries, _o in done for e in entries],
        "outcome": [o.detail for o in outcomes],
        "applied_at": [stamp] * len(ids),
        "rejected": [o.rejected for o in outcomes],
    }
    bulk.insert_columns(session, _APPLIED, columns)


def _outcome(
    session: Session,
    site: journal_held.Sender,
    entry: dict[str, Any],
    checked: journal_checks.Checked,
    charged: journal_batch.Charged,
    report: Report,
    currency: Currency,
) -> Outcome:
    """Apply one entry, unless the checks rejected it or the batch charged it."""
    entry_id = str(entry["id"])
    refused = checked.rejected.get(entry_id)
    if refused is not None:
        return Outcome(refused, rejected=True)
    found = charged.get(entry_id)
    if found is not None:
        cost, account_id, kind = found
        report.charge(kind, cost, account_id)
        if entry["body"].get("failure_mode"):
            report.failure_mode_jobs += 1
        return Outcome(f"charged {currency.show(cost)}")
    if entry_id in checked.recorded:
        return Outcome("already in the ledger")
    if entry["kind"] == "unknown-user":  # a name for the report: nothing to write
        name = str(entry["body"].get("username", ""))
        if name not in report.unknown_users:  # each user once, however often seen
            report.unknown_users.append(name)
        return Outcome("recorded")
    try:
        with session.begin_nested():  # a rejection found half-way undoes the entry alone
            return Outcome(_apply(session, site, entry, checked, report, currency))
    except _REFUSALS as exc:
        return Outcome(str(exc), rejected=True)


def _first_of_each(
    entries: list[dict[str, Any]], ids: list[str], done: dict[str, Outcome]
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


def _apply(
    session: Session,
    site: journal_held.Sender,
    entry: dict[str, Any],
    checked: journal_checks.Checked,
    report: Report,
    currency: Currency,
) -> str:
    kind, body = str(entry["kind"]), dict(entry.get("body") or {})
    if kind == "printed":
        cost, printer = checked.costs[str(entry["id"])], checked.printers[str(body["printer"])]
        return _printed(session, site, body, cost, printer.id, report, currency)
    if kind == "usage":
        return _usage(session, body)
    if kind == "held":
        return journal_held.status(session, site, body, report.notes)
    if kind == "held-report":
        return journal_held.report(session, site, body, currency)
    if kind in ("voucher", "cash"):
        return _credit(session, site.name, kind, body, report)
    raise InvalidReference(f"unknown journal entry kind {kind!r}")


def _credit(session: Session, site: str, kind: str, body: dict[str, Any], report: Report) -> str:
    """A top-up card or a note a site took: credited once, under HQ's rules."""
    rules = report.credit_rules or CreditRules()
    if kind == "voucher":
        done = vouchers.apply_offline(session, rules.voucher_key, site, body)
    elif rules.cash is None:
        raise Refused("no kiosk may take cash: this server has no [cash] rules")
    else:
        done = cash.apply_offline(session, rules.cash, site, body)
    if done.amount:
        report.credits[kind] = report.credits.get(kind, 0) + done.amount
    report.touched_accounts.add(done.account_id)
    report.notes.extend(done.notes)
    return done.detail


def _printed(
    session: Session,
    site: journal_held.Sender,
    body: dict[str, Any],
    cost: int,
    printer_id: int,
    report: Report,
    currency: Currency,
) -> str:
    printed = jobs.PrintedJob(
        txn_id=str(body["txn_id"]),
        job_ref=str(body.get("job_ref") or body["txn_id"]),
        username=str(body["username"]),
        printer=str(body["printer"]),
        usage=journal_checks.usage_of(body),
        choice=_account(session, str(body.get("account") or "")),
        document_name=str(body.get("document_name") or "")[:256],
        origin=site_origin(site.name),
        printed_at=journal_batch.moment(body.get("printed_at")),
        cost_override=body.get("cost_override"),
        cost=cost,
        claimed_by=journal_batch.claimed_by(body),
        printer_id=printer_id,  # as the checks found it: deleted at HQ meanwhile, say
        comment=str(body.get("comment") or "")[:500],
    )
    if body.get("failure_mode"):
        report.failure_mode_jobs += 1
    try:
        charge = jobs.charge_printed(session, printed)
    except NotFound as exc:
        shown = currency.show(cost)
        return _charge_deleted_user(session, site.name, body, cost, report, str(exc), shown)
    held_jobs.mark_printed(session, [printed.job_ref], site.providers)
    if not charge.new:
        return "already in the ledger"
    report.charge("print", charge.job.cost, charge.job.account_id)
    return f"charged {currency.show(charge.job.cost)}"


def _account(session: Session, name: str) -> jobs.AccountChoice:
    """The shared account a printed entry names (its PIN was checked at the site, when the
    account was chosen); the user's personal account when it names none."""
    if not name:
        return jobs.AccountChoice()
    try:
        return jobs.AccountChoice(account_id=accounts.find_shared(session, name).id)
    except NotFound:
        raise Refused(f"no shared account named {name!r}") from None


def _charge_deleted_user(
    session: Session,
    site: str,
    body: dict[str, Any],
    cost: int,
    report: Report,
    why: str,
    shown: str,
) -> str:
    """The user was deleted at HQ meanwhile: charge their kept personal account anyway."""
    account = session.scalar(
        select(AccountRow)
        .join(UserRow, UserRow.id == AccountRow.owner_id)
        .where(UserRow.username == str(body["username"]))
    )
    if account is None:
        raise Refused(f"not charged ({why}): {body.get('username')!r} never existed here")
    txn = Transaction(
        id=str(body["txn_id"]),
        account_id=account.id,
        amount=-cost,
        kind=TransactionKind.PRINT,
        reference=f"job:{body.get('job_ref', '')}",
        origin=site_origin(site),
        comment=f"printed offline at {site} after the user was deleted",
    )
    _, new = ledger.apply_transaction(session, txn)
    if not new:
        return "already in the ledger"
    report.charge("print", cost, account.id)
    report.notes.append(
        f"{body['username']} was deleted at HQ; charged {shown} to the kept account"
    )
    return f"charged {shown} to a deleted user's account"


def _usage(session: Session, body: dict[str, Any]) -> str:
    """A usage entry the batch did not charge: its ``usage_id`` was recorded meanwhile."""
    usage_id = str(body.get("usage_id", ""))
    found = select(TransactionRow.txn_id).where(TransactionRow.txn_id == usage_id)
    if session.scalar(found) is None:
        raise Refused(f"usage {usage_id} could not be charged")
    return "already in the ledger"


def deficits_of(session: Session, reports: list[Report]) -> list[list[dict[str, Any]]]:
    """For each report, the accounts it touched that are now below zero (one query)."""
    touched = set().union(*(r.touched_accounts for r in reports))
    if not touched:
        return [[] for _ in reports]
    rows = session.execute(
        select(AccountRow.id, AccountRow.name, AccountRow.balance).where(
            bulk.among(session, AccountRow.id, touched), AccountRow.balance < 0
        )
    ).all()
    return [
        [{"account": name, "balance": balance} for i, name, balance in rows
         if i in r.touched_accounts]
        for r in reports
    ]  # fmt: skip
