"""The administrator dashboard: today's jobs and pages, top printers, sites' modes, alerts,
and pages per day for the last two weeks."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy.orm import Session

from printwarden.api.sites import SiteOut
from printwarden.service import views
from printwarden.store import printers, providers, reports, sites
from printwarden.store.db import utc
from printwarden.web.chart import pages_chart
from printwarden.web.guards import PageContext, admin_page

router = APIRouter()
CHART_DAYS = 14
PROVIDER_SILENT = timedelta(minutes=10)
PRINTER_ERRORS = ("stopped", "error", "offline")


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # printer, site, backlog, provider, lockout
    text: str


@router.get("/web/admin/")
async def dashboard(ctx: PageContext = Depends(admin_page)) -> Response:
    return await run_in_threadpool(_dashboard, ctx)


def _dashboard(ctx: PageContext) -> Response:
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with ctx.app.database.read() as session:
        found = [views.site_out(row) for row in sites.list_sites(session)]
        per_day = reports.pages_per_day(session, today - timedelta(days=CHART_DAYS - 1))
        floor = reports.first_id_since(session, today)
        return ctx.render(
            "admin/dashboard.html",
            today=reports.totals_since(session, today, floor),
            top=reports.top_printers(session, today, floor=floor),
            sites=found,
            alerts=_site_alerts(found) + _printer_alerts(session, now) + _lockouts(ctx),
            chart=pages_chart(per_day, today.date(), CHART_DAYS),
        )


def _site_alerts(found: list[SiteOut]) -> list[Alert]:
    alerts = []
    for site in found:
        if site.mode != "online":
            alerts.append(Alert("site", f"Site {site.name} is {site.mode}."))
        if site.journal_backlog:
            text = f"Site {site.name} has {site.journal_backlog} journal entries not uploaded."
            alerts.append(Alert("backlog", text))
    return alerts


def _lockouts(ctx: PageContext, shown: int = 10) -> list[Alert]:
    """Accounts and clients locked out after failed logins."""
    locked = [e for e in ctx.app.logins.entries() if e.locked]
    alerts = [
        Alert("lockout", f"Locked out after {e.failures} failed logins: {e.key} "
                         f"({math.ceil(e.retry_after / 60)} min left; to lift it: "
                         f"printwarden admin lockouts clear {e.key}).")
        for e in locked[:shown]
    ]  # fmt: skip
    if len(locked) > shown:
        more = len(locked) - shown
        alerts.append(Alert("lockout", f"… and {more} more (printwarden admin lockouts list)."))
    return alerts


def _printer_alerts(session: Session, now: datetime) -> list[Alert]:
    """Printers a provider reports in error, and providers silent for a while."""
    alerts = []
    for provider in providers.list_providers(session):
        if now - utc(provider.last_seen) > PROVIDER_SILENT:
            seen = f"{utc(provider.last_seen):%Y-%m-%d %H:%M} UTC"
            text = f"Print Provider {provider.name} has not called in since {seen}."
            alerts.append(Alert("provider", text))
        for printer in provider.printers:
            state = str(printer.get("state", "")).lower()
            if state in PRINTER_ERRORS:
                reason = printer.get("state_message") or state
                alerts.append(
                    Alert("printer", f"Printer {printer.get('name')} is in error: {reason}.")
                )
    for row in printers.list_printers(session):
        if not row.enabled:
            alerts.append(Alert("printer", f"Printer {row.name} is disabled."))
    return alerts
