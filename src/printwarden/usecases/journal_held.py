"""The held-job entries of a site's journal: a status change at the site, a job held there
while offline. Each must concern a held job of a provider serving the site, and name no
printer of another site (``usecases/journal.py`` applies them, in order)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.api.held_jobs import HeldJobReportIn
from printwarden.domain import charges
from printwarden.domain.charges import Refused
from printwarden.domain.money import Currency
from printwarden.store import held_jobs, replication
from printwarden.store.changes import change_seq
from printwarden.store.errors import NotFound
from printwarden.store.models import PrinterRow, ProviderRow
from printwarden.usecases import questions

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


def report(session: Session, site: Sender, body: dict[str, Any], currency: Currency) -> str:
    """A job one of the site's providers held while the site was offline: a provider's
    report (checked as one, ``HeldJobReportIn``) with the ``provider`` that made it. A job
    new to HQ and still held is asked its printer's question (as a report made online is:
    the person's User Client may be connected to HQ, not to the site)."""
    found, name = _checked_report(body), str(body["provider"])
    provider = session.scalar(select(ProviderRow).where(ProviderRow.name == name))
    if provider is None:
        raise Refused(f"unknown provider {name!r}")
    if provider.id not in site.providers():
        raise Refused(f"provider {provider.name!r} serves no printer of site {site.name!r}")
    try:
        known = held_jobs.find(session, found.job_ref)
    except NotFound:
        known = None
    if known is not None and known.provider_id != provider.id:
        raise Refused(f"held job {found.job_ref} belongs to another provider")
    _check_printer(session, site, found.fields["printer"])
    recorded = held_jobs.record_reports(session, provider, [found])
    if recorded.refused:
        raise Refused(recorded.refused[0][1])
    questions.ask(session, recorded.new, currency)
    return "recorded"


def _checked_report(body: dict[str, Any]) -> held_jobs.Report:
    reported = {name: value for name, value in body.items() if name != "provider"}
    try:
        item = HeldJobReportIn.model_validate(reported)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(map(str, first["loc"])) or "report"
        raise Refused(
            f"not a held-job report a provider could send: {where}: {first['msg']}"
        ) from None
    return held_jobs.Report.of(item.model_dump())
