"""Journal entries as a site uploads them, and the HQ rows they name, for the tests of
``usecases/journal*.py`` that work on the database directly."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from printwarden.domain.ids import new_id
from printwarden.store import held_jobs, printers, users
from printwarden.store.db import Database
from printwarden.store.providers import register

SECRET = b"journal-entries-test-secret-" + b"x" * 4
PRICES = {"grey_simplex": 10, "grey_duplex": 8, "colour_simplex": 50, "colour_duplex": 45}


def furnish(hq: Database) -> Database:
    """HQ with the printer the journals print on (``laser``, of no site: 10 a grey page) and
    the MFD their walk-up usage is made at (``mfd``, 5 a page)."""
    with hq.session() as session:
        model = {"sizes": {"default": PRICES}}
        printers.save_printer(session, "laser", {"cost_model": model}, create=True)
        copies = {"sizes": {"default": {"grey_simplex": 5}}}
        printers.save_device(session, "mfd", {"kind": "mfd", "cost_model": copies}, create=True)
    return hq


def person(hq: Database, balance: int = 1_000) -> tuple[str, int]:
    """A new user; their name and personal account id."""
    name = f"jb-{uuid.uuid4().hex[:8]}"
    with hq.session() as session:
        row = users.create_user(session, SECRET, name, users.UserChanges())
        account = users.personal_account(session, row.id)
        account.balance = balance
        return name, account.id


def printed(
    username: str, job_ref: str | None = None, pages: int = 2, printer: str = "laser"
) -> dict[str, Any]:
    """A ``printed`` entry of a grey simplex job."""
    txn = new_id()
    body = {"txn_id": txn, "job_ref": job_ref or txn, "username": username, "printer": printer,
            "pages": pages, "colour_pages": 0, "copies": 1}  # fmt: skip
    return {"id": new_id(), "kind": "printed", "body": body}


def usage(username: str, account_id: int, usage_id: str, cost: int) -> dict[str, Any]:
    """A ``usage`` entry: one copied page at the MFD."""
    body = {"usage_id": usage_id, "device": "mfd", "username": username,
            "account_id": account_id, "kind": "copy", "pages": 1, "cost": cost}  # fmt: skip
    return {"id": new_id(), "kind": "usage", "body": body}


def held_job(hq: Database, owner: str, status: str = "held") -> tuple[str, int]:
    """A held job of ``owner`` at a new provider; its job_ref and the provider's id."""
    ref = str(uuid.uuid4())
    now = datetime.now(UTC)
    fields = {"printer": "laser", "document_name": "a.pdf", "pages": 2, "submitted_at": now,
              "expires_at": now + timedelta(hours=4)}  # fmt: skip
    with hq.session() as session:
        provider, _ = register(session, f"p-{ref[:8]}", ipp_url="ipp://x", control_url="",
                               queues=[], printers=[])  # fmt: skip
        report = held_jobs.Report(ref, 1, "secure", "hold", owner, fields)
        assert held_jobs.record_reports(session, provider, [report]).refused == []
        if status != "held":
            held_jobs.set_status(held_jobs.find(session, ref), status, "", 1)
        return ref, provider.id


def held_report(provider: str, ref: str, owner: str, printer: str = "laser") -> dict[str, Any]:
    """The body of a ``held-report`` entry: a job the provider held while offline."""
    now = datetime.now(UTC)
    return {"provider": provider, "job_ref": ref, "provider_job_id": 7, "queue": "secure",
            "queue_kind": "hold", "username": owner, "printer": printer,
            "document_name": "offline.pdf", "pages": 2, "submitted_at": now.isoformat(),
            "expires_at": (now + timedelta(hours=4)).isoformat()}  # fmt: skip
