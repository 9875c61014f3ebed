"""What the API and the portal show of scans, and the eSCL scan both start."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from printwarden.api.scans import RemoteScanIn, ScanActionOut, ScanOptionsOut, ScanOut
from printwarden.domain.scanning import ScanAction
from printwarden.service.problems import Problem
from printwarden.service.scanning import ScanService
from printwarden.service.state import AppState
from printwarden.store import printers, users
from printwarden.store.db import utc
from printwarden.store.models import DeviceRow, ScanRow, UserRow
from printwarden.usecases import scanning
from printwarden.usecases.errors import Invalid
from printwarden.usecases.web_print import site_of_issuer


def service_of(state: AppState) -> ScanService:
    if state.scans is None:
        raise Problem(503, "Service Unavailable", "scanning is starting or stopping")
    found: ScanService = state.scans
    return found


def open_scan(session: Session, state: AppState, ask: scanning.ScanRequest) -> scanning.Started:
    """Open a scan here; one from a network scanner (``source`` "escl") is committed and
    its pages fetched in the background (the device API's and the person's routes, and the
    portal)."""
    started = scanning.start(session, ask, at_site=not state.authority.at_hq)
    if ask.source == "escl":
        session.commit()  # the scan exists before its pages start arriving
        service_of(state).drive(started.scan.id, ask.device, started.scan.options)
    return started


def start_remote_scan(
    session: Session, state: AppState, user: UserRow, body: RemoteScanIn
) -> ScanRow:
    """A person's scan at a device's network scanner, charged to their own account."""
    device = next((d for d in scanners_here(session, state) if d.name == body.device), None)
    if device is None:
        raise Invalid(f"{body.device!r} has no network scanner this server can reach")
    account = users.personal_account(session, user.id)
    ask = scanning.ScanRequest(user, account, device, body.action, body.options.asked(), "escl")
    return open_scan(session, state, ask).scan


def scanners_here(session: Session, state: AppState) -> list[DeviceRow]:
    """Devices with a network scanner this server drives: at a site its own site's."""
    site = site_of_issuer(state.issuer)
    return [
        d
        for d in printers.list_devices(session)
        if d.escl_url and d.enabled and (site is None or d.site == site)
    ]


def scanners_for(
    session: Session, state: AppState, user: UserRow
) -> list[tuple[DeviceRow, list[ScanActionOut]]]:
    """The scanners here at which ``user`` has scan actions, with those actions."""
    found = []
    for device in scanners_here(session, state):
        actions = [action_out(a) for a in scanning.offered(session, user, device)]
        if actions:
            found.append((device, actions))
    return found


def action_out(action: ScanAction) -> ScanActionOut:
    return ScanActionOut(
        name=action.name,
        destination=action.destination.value,
        folder=action.folder,
        defaults=ScanOptionsOut(**action.defaults.to_json()),
        editable=list(action.editable),
    )


def scan_out(row: ScanRow, state: AppState, received: list[int] | None = None) -> ScanOut:
    lasts = row.download_until is not None and utc(row.download_until) > datetime.now(UTC)
    service = state.scans
    return ScanOut(
        scan_id=row.id,
        device=row.device,
        action=row.action,
        stage=row.stage,
        pages=row.pages,
        pages_received=received or [],
        cost=row.cost,
        detail=row.detail,
        delivered_to=row.delivered_to,
        download_url=service.link(row.id) if lasts and service is not None else "",
        download_until=row.download_until if lasts else None,
        created_at=row.created_at,
    )
