"""The offline journal: every effect the site records while offline, appended in the same
(fsync'd) transaction as the effect itself, so nothing answered is ever missing from it.

A session marked ``LOCAL_EFFECT`` (a scan the site took and charged) is journaled whatever
the mode: online the site uploads such entries at once (``SiteServer``), offline with the
rest. Effects are captured where they are written — a session hook on the replica sees each new
printed job, walk-up usage, held job and held-job status change — rather than at each route,
so no code path can forget to journal. Entries are uploaded in order; the App Server applies
each id once, so an upload cut short is simply repeated.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.orm import Session

from printwarden.domain.charges import prices_digest, script_digest
from printwarden.domain.ids import new_id
from printwarden.domain.journal import UPLOAD_LIMIT
from printwarden.site.replica import REPLICATING
from printwarden.store import effects, held_jobs, scripts, settings
from printwarden.store.db import Database
from printwarden.store.held_jobs import REPORTED_FIELDS
from printwarden.store.models import (
    AccountRow,
    CashInsertionRow,
    DeviceRow,
    DeviceUsageRow,
    HeldJobRow,
    PrinterRow,
    PrintJobRow,
    ProviderRow,
    UserRow,
)
from printwarden.store.printers import cost_model_from_json
from printwarden.store.scans import LOCAL_EFFECT

JOURNAL_TABLE = """
CREATE TABLE IF NOT EXISTS site_journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    body TEXT NOT NULL,
    uploaded INTEGER NOT NULL DEFAULT 0
)
"""
HELD_REPORT_FIELDS = (
    "job_ref",
    "provider_job_id",
    "queue",
    "queue_kind",
    *REPORTED_FIELDS,
    "status",
    "status_reason",
)
_PENDING = text(
    "SELECT id, kind, at, body FROM site_journal WHERE uploaded = 0 ORDER BY seq LIMIT :limit"
)
_APPEND = text("INSERT INTO site_journal (id, kind, at, body) VALUES (:id, :kind, :at, :body)")


class Journal:
    """Appends, lists and marks uploaded the entries of one replica database."""

    def __init__(self, database: Database, active: Callable[[], bool]) -> None:
        self.database = database
        self.active = active
        with database.session() as session:
            session.execute(text(JOURNAL_TABLE))
        event.listen(database.sessions, "before_flush", self._capture)
        event.listen(database.sessions, "before_commit", self._capture_noted)

    def append(self, session: Session, kind: str, body: dict[str, Any]) -> None:
        """Add an entry in ``session``'s transaction."""
        at = datetime.now(UTC).isoformat()
        row = {"id": new_id(), "kind": kind, "at": at, "body": json.dumps(body, default=str)}
        session.execute(_APPEND, row)

    def backlog(self) -> int:
        with self.database.read() as session:
            query = text("SELECT COUNT(*) FROM site_journal WHERE uploaded = 0")
            return int(session.execute(query).scalar_one())

    def pending(self, limit: int = UPLOAD_LIMIT) -> list[dict[str, Any]]:
        """The oldest entries not yet uploaded, in order."""
        with self.database.read() as session:
            rows = session.execute(_PENDING, {"limit": limit}).all()
        return [{"id": i, "kind": k, "at": a, "body": json.loads(b)} for i, k, a, b in rows]

    def mark_uploaded(self, ids: list[str]) -> None:
        with self.database.session() as session:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ", ".join(f":i{n}" for n in range(len(chunk)))
                session.execute(
                    text(f"UPDATE site_journal SET uploaded = 1 WHERE id IN ({marks})"),  # noqa: S608
                    {f"i{n}": value for n, value in enumerate(chunk)},
                )

    # --- capture -------------------------------------------------------------------------------

    def _journaling(self, session: Session) -> bool:
        if session.info.get(REPLICATING):
            return False
        return bool(self.active() or session.info.get(LOCAL_EFFECT))

    def _capture_noted(self, session: Session) -> None:
        """Entries a use case noted (``store/effects.py``): a top-up card's redemption."""
        noted = effects.take(session)
        if noted and self._journaling(session):
            for kind, body in noted:
                self.append(session, kind, body)

    def _capture(self, session: Session, _context: Any, _instances: Any) -> None:
        if not self._journaling(session):
            effects.take(session)
            return
        self._capture_noted(session)
        for obj in list(session.new):
            if isinstance(obj, CashInsertionRow):
                self.append(session, "cash", _cash(session, obj))
            elif isinstance(obj, PrintJobRow):
                self.append(session, "printed", _printed(session, obj))
            elif isinstance(obj, DeviceUsageRow):
                # A local effect while online (a scan the site took) says so: HQ's ledger
                # then does not call it offline.
                online = {} if self.active() else {"online": True}
                self.append(session, "usage", {**_usage(session, obj), **online})
            elif isinstance(obj, HeldJobRow):
                self.append(session, "held-report", _held_report(session, obj))
        for obj in list(session.dirty):
            if isinstance(obj, HeldJobRow) and inspect(obj).attrs.status.history.has_changes():
                body = {
                    "job_ref": obj.job_ref,
                    "status": obj.status,
                    "reason": obj.status_reason,
                    "released_to": obj.released_to,
                }
                self.append(session, "held", body)


def _name(session: Session, model: Any, key: int | None, attribute: str) -> str:
    row = session.get(model, key) if key is not None else None
    return str(getattr(row, attribute)) if row is not None else ""


def _printed(session: Session, job: PrintJobRow) -> dict[str, Any]:
    account = session.get(AccountRow, job.account_id)
    printer = session.get(PrinterRow, job.printer_id)
    printer_name = printer.name if printer is not None else ""
    copies = max(job.copies, 1)
    return {
        "txn_id": job.txn_id,
        "job_ref": job.job_ref,
        "username": _name(session, UserRow, job.user_id, "username"),
        "printer": printer_name,
        "pages": job.pages // copies,
        "colour_pages": job.colour_pages // copies,
        "copies": copies,
        "duplex": job.duplex,
        "paper_size": job.paper_size,
        "account": account.name if account is not None and account.kind == "shared" else "",
        "document_name": job.document_name,
        "printed_at": job.printed_at,
        "cost": job.cost,
        # The prices the cost came from, or the print script that set it: HQ accepts the
        # cost only if it published them (domain/charges.py).
        "cost_model": _prices(printer),
        "cost_override": job.cost if job.cost_overridden else None,
        "script": _script(session, printer_name) if job.cost_overridden else "",
        # Sent as this (unknown) user, charged to the policy's stand-in: HQ keeps the name.
        "claimed_by": job.claimed_by,
        # What its owner said when asked which account to charge (the ledger's comment).
        **({"comment": said} if (said := _answer_comment(session, job.job_ref)) else {}),
    }


def _answer_comment(session: Session, job_ref: str) -> str:
    released = held_jobs.release_of(session, job_ref)
    return released.comment if released is not None else ""


def _usage(session: Session, usage: DeviceUsageRow) -> dict[str, Any]:
    device = session.get(DeviceRow, usage.device_id)
    return {
        "usage_id": usage.usage_id,
        "device": device.name if device is not None else "",
        "username": _name(session, UserRow, usage.user_id, "username"),
        "account_id": usage.account_id,
        "kind": usage.kind,
        "pages": usage.pages,
        "colour_pages": usage.colour_pages,
        "duplex": usage.duplex,
        "paper_size": usage.paper_size,
        "cost": usage.cost,
        "cost_model": _prices(device),
    }


def _cash(session: Session, row: CashInsertionRow) -> dict[str, Any]:
    device = _name(session, DeviceRow, row.device_id, "name")
    return {
        "insertion_id": row.insertion_id.removeprefix(f"{device}:"),
        "device": device,
        "username": _name(session, UserRow, row.user_id, "username"),
        "amount": row.amount,
        "currency": row.currency,
        "txn_id": row.txn_id,
        "at": row.created_at,
    }


def _prices(place: PrinterRow | DeviceRow | None) -> str:
    """The digest of the prices a printer or device charges here (replicated from HQ)."""
    return prices_digest(cost_model_from_json(place.cost_model)) if place is not None else ""


def _script(session: Session, printer: str) -> str:
    """The digest of the print script that runs at ``printer`` (whose ``setCost`` set a
    job's cost), "" if none does."""
    found = scripts.for_job(settings.get_many(session, scripts.keys_for_job(printer)), printer)
    return script_digest(found.source) if found is not None else ""


def _held_report(session: Session, job: HeldJobRow) -> dict[str, Any]:
    body = {name: getattr(job, name) for name in HELD_REPORT_FIELDS}
    body["username"] = _name(session, UserRow, job.user_id, "username")
    body["provider"] = _name(session, ProviderRow, job.provider_id, "name")
    return body
