"""The held-job entries of a site's journal: a status change at the site, a job held there
while offline. Each must concern a held job of a provider serving the site, and name no
printer of another site (``service/journal.py`` applies them, in order)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.domain import charges
from printwarden.domain.charges import Refused
from printwarden.service import journal_batch
from printwarden.store import held_jobs, replication
from printwarden.store.changes import change_seq
from printwarden.store.errors import NotFound
from printwarden.store.models import PrinterRow, ProviderRow

STATUSES = frozenset({"held", "releasing", "printed", "canceled", "expired", "failed"})


class Sender:
    """The sending site, and the providers it may speak for (loaded when first needed)."""

    def __init__(self, session: Session, name: str) -> None:
        self.session, self.name = session, name
        self._providers: frozenset[int] | None = None

    def providers(self) -> frozenset[int]:
        """The providers serving the site's printers (or printers of no site)."""
        if self._providers is None:
            self._providers = replication.site_scope(self.session, self.name).provider_ids
        return self._providers


def status(session: Session, site: Sender, body: dict[str, Any], notes: list[str]) -> str:
    """A held job released, canceled or expired at the site; its new status."""
    ref, wanted = str(body["job_ref"]), str(body.get("status", ""))
    try:
        row = held_jobs.find(session, ref)
    except NotFound:
        raise Refused(f"no held job {ref!r}") from None
    if row.provider_id not in site.providers():
        raise Refused(f"held job {ref} is at a provider of another site")
    if wanted not in STATUSES:
        raise Refused(f"unknown held job status {wanted!r}")
    released_to = str(body.get("released_to") or "")
    _check_printer(session, site, released_to)
    if row.status in held_jobs.ENDED and row.status != wanted:
        if wanted in ("releasing", "printed") and row.status == "canceled":
            notes.append(f"held job {row.job_ref} canceled at HQ was released at the site")
        else:
            return f"kept {row.status}"
    held_jobs.set_status(row, wanted, str(body.get("reason", "")), change_seq(session))
    if released_to:
        row.released_to = released_to
    return wanted


def _check_printer(session: Session, site: Sender, name: str) -> None:
    """Refuse a printer HQ knows at another site (a held job's record may name a printer HQ
    does not know: only a charge needs its prices)."""
    if name:
        owner = session.scalar(select(PrinterRow.site).where(PrinterRow.name == name))
        charges.check_place("printer", name, owner, site.name)


def report(session: Session, site: Sender, body: dict[str, Any]) -> str:
    """A job one of the site's providers held while the site was offline."""
    provider = session.scalar(select(ProviderRow).where(ProviderRow.name == body["provider"]))
    if provider is None:
        raise Refused(f"unknown provider {body['provider']!r}")
    if provider.id not in site.providers():
        raise Refused(f"provider {provider.name!r} serves no printer of site {site.name!r}")
    try:
        known = held_jobs.find(session, str(body["job_ref"]))
    except NotFound:
        known = None
    if known is not None and known.provider_id != provider.id:
        raise Refused(f"held job {body['job_ref']} belongs to another provider")
    _check_printer(session, site, str(body.get("printer") or ""))
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
    if refused:
        raise Refused(refused[0][1])
    return "recorded"
