"""Print Providers as they registered themselves with the server."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.store.changes import change_seq
from printwarden.store.models import ApiTokenRow, DeviceRow, PrinterRow, ProviderRow
from printwarden.store.tokens import PROVIDER_PREFIX


def register(
    session: Session,
    name: str,
    *,
    ipp_url: str,
    control_url: str,
    queues: list[dict[str, Any]],
    printers: list[dict[str, Any]],
) -> tuple[ProviderRow, list[str]]:
    """Record (or refresh) a provider; return it and the printer names the registry lacks."""
    now = datetime.now(UTC)
    row = find(session, name)
    described = (ipp_url, control_url, queues, printers)
    current = None if row is None else (row.ipp_url, row.control_url, row.queues, row.printers)
    if row is None or current != described:
        seq = change_seq(session)  # before a new row joins the session: its UPDATE autoflushes
        if row is None:
            row = ProviderRow(name=name, registered_at=now)
            session.add(row)
        row.ipp_url, row.control_url, row.queues, row.printers = described
        row.change_seq = seq
    row.last_seen = now
    session.flush()
    names = {str(p.get("name", "")) for p in printers}
    known = set(
        session.scalars(
            select(PrinterRow.name).where(
                PrinterRow.name.in_(names), PrinterRow.deleted_at.is_(None)
            )
        )
    )
    return row, sorted(names - known)


def find(session: Session, name: str) -> ProviderRow | None:
    return session.scalar(select(ProviderRow).where(ProviderRow.name == name))


def refused_printers(session: Session, site: str | None, names: list[str]) -> dict[str, str]:
    """Which of ``names`` a provider whose token is bound to ``site`` may not serve, and why:
    printers of another site. A provider bound to no site may serve any printer."""
    if site is None:
        return {}
    elsewhere = session.execute(
        select(PrinterRow.name, PrinterRow.site).where(
            PrinterRow.name.in_(names),
            PrinterRow.deleted_at.is_(None),
            PrinterRow.site.is_not(None),
            PrinterRow.site != site,
        )
    )
    return {
        name: f"printer {name} is at site {other}; this provider's token is bound to site {site}"
        for name, other in elsewhere
    }


def site_of(session: Session, row: ProviderRow) -> str | None:
    """The site a provider is at: its token's site if the token is bound to one, else the
    site of the printers it serves; None for a provider of no site (HQ's own)."""
    bound = session.scalar(
        select(ApiTokenRow.site).where(
            ApiTokenRow.scope == f"{PROVIDER_PREFIX}{row.name}",
            ApiTokenRow.revoked_at.is_(None),
            ApiTokenRow.site.is_not(None),
        )
    )
    if bound:
        return bound
    names = [str(p.get("name", "")) for p in row.printers]
    if not names:
        return None
    return session.scalar(
        select(PrinterRow.site)
        .where(PrinterRow.name.in_(names), PrinterRow.site.is_not(None))
        .order_by(PrinterRow.site)
        .limit(1)
    )


def list_providers(session: Session) -> list[ProviderRow]:
    return list(session.scalars(select(ProviderRow).order_by(ProviderRow.name)))


def device_ids(session: Session, name: str) -> list[int]:
    """The devices at the printers the provider ``name`` registered (none if unknown)."""
    row = session.scalar(select(ProviderRow).where(ProviderRow.name == name))
    names = {str(p.get("name", "")) for p in row.printers} if row is not None else set()
    if not names:
        return []
    query = (
        select(DeviceRow.id)
        .join(PrinterRow, PrinterRow.id == DeviceRow.printer_id)
        .where(PrinterRow.name.in_(names), DeviceRow.deleted_at.is_(None))
    )
    return list(session.scalars(query))


def adverts(session: Session, site: str | None) -> list[tuple[str, dict[str, Any]]]:
    """The DNS-SD adverts of the queues providers registered, as ``(provider, advert)``:
    every provider's (``site`` None, HQ), or the providers of ``site`` only."""
    found = []
    for row in session.scalars(select(ProviderRow).order_by(ProviderRow.name)):
        if site is not None and site_of(session, row) != site:
            continue
        for queue in row.queues or []:
            advert = queue.get("dns_sd") if isinstance(queue, dict) else None
            if isinstance(advert, dict):
                found.append((row.name, {"queue": queue.get("name", ""), **advert}))
    return found
