"""Integrated Scanning over the API.

A device lists the logged-in person's actions (``/device/sessions/{id}/scan-actions``),
starts a scan (a one-time upload token bound to the person, the action and the device),
PUTs its pages one by one (each kept whole and fsync'd before the answer; a page sent again
replaces itself, so an upload resumes page by page) and finishes it: then, and once, the
pages are charged (the scan's ``usage_id``) and the scan waits for delivery. A person may
also have the server fetch a scan from a device's network scanner (``POST /me/scans``).

At a Site Server a scan it took (id ``site-…``) is answered there, online or not
(``site/gateway.py``); the person's own list and eSCL scans are the site's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Header, Path, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from printwarden.api.scans import (
    RemoteScanIn,
    ScanActionsOut,
    ScanDeviceOut,
    ScanDevicesOut,
    ScanFinishIn,
    ScanOptionsOut,
    ScanOut,
    ScanPageOut,
    ScanSettingsIO,
    ScansOut,
    ScanStartedOut,
    ScanStartIn,
)
from printwarden.domain.accounts import Role
from printwarden.domain.functions import Function
from printwarden.domain.scanning import (
    SETTING_KEY,
    ScanError,
    Stage,
    parse_settings,
    settings_json,
)
from printwarden.scanning.pages import BadPage, inspect_page
from printwarden.scanning.spool import PageTooLarge
from printwarden.service.auth import require
from printwarden.service.offline_functions import serves
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import admin_only, read_session, write_session
from printwarden.service.routes.device import charged_account, device_name, live_session
from printwarden.service.scan_views import (
    action_out,
    open_scan,
    scan_out,
    scanners_for,
    service_of,
    start_remote_scan,
)
from printwarden.service.scanning import ScanService
from printwarden.service.state import AppState, app_state
from printwarden.store import printers, scans, settings
from printwarden.store.errors import NotFound
from printwarden.store.models import ScanRow, UserRow
from printwarden.store.tokens import Caller
from printwarden.usecases import scanning
from printwarden.usecases.errors import Invalid

router = APIRouter(tags=["scanning"])
SCANNING = [serves(Function.INTEGRATED_SCANNING)]
a_user = require(Role.USER)
ScanId = Path(min_length=1, max_length=48)
ScanToken = Header(alias="X-Scan-Token", min_length=1, max_length=100)


# --- at the device -----------------------------------------------------------------------------


@router.get("/device/sessions/{session_id}/scan-actions", dependencies=SCANNING)
def scan_actions(
    session_id: str, name: str = Depends(device_name), session: Session = Depends(write_session)
) -> ScanActionsOut:
    """The scan actions the logged-in person has at this device."""
    live = live_session(session, name, session_id)
    return ScanActionsOut(
        actions=[action_out(a) for a in scanning.offered(session, live.user, live.device)]
    )


@router.post("/device/sessions/{session_id}/scans", status_code=201, dependencies=SCANNING)
def start_scan(
    session_id: str,
    body: ScanStartIn,
    request: Request,
    name: str = Depends(device_name),
    session: Session = Depends(write_session),
    state: AppState = Depends(app_state),
) -> ScanStartedOut:
    """Open a scan for the logged-in person with one of their actions; with
    ``from_scanner`` the server fetches its pages from the device's network scanner."""
    live = live_session(session, name, session_id)
    account = charged_account(session, live)
    source = "escl" if body.from_scanner else "device"
    if body.from_scanner and not live.device.escl_url:
        raise Problem(409, "No scanner", f"{live.device.name} has no network scanner")
    ask = scanning.ScanRequest(
        live.user, account, live.device, body.action, body.options.asked(), source
    )
    started = open_scan(session, state, ask)
    base = str(request.base_url).rstrip("/") + f"/api/v1/device/scans/{started.scan.id}"
    return ScanStartedOut(
        scan_id=started.scan.id,
        upload_token=started.upload_token,
        pages_url=f"{base}/pages",
        finish_url=f"{base}/finish",
        options=ScanOptionsOut(**started.scan.options),
        max_pages=started.max_pages,
        max_page_bytes=started.max_page_bytes,
        allowed_pages=started.allowed_pages,
    )


@router.get("/device/scans/{scan_id}", dependencies=SCANNING)
def get_scan(
    scan_id: str = ScanId,
    token: str = ScanToken,
    name: str = Depends(device_name),
    session: Session = Depends(read_session),
    state: AppState = Depends(app_state),
) -> ScanOut:
    """The scan as the server has it: which pages arrived (to resume an upload)."""
    row = _own_scan(session, scan_id, token, name)
    return scan_out(row, state, service_of(state).spool.pages(row.id))


@router.put("/device/scans/{scan_id}/pages/{number}", status_code=201, dependencies=SCANNING)
async def put_page(
    request: Request,
    number: int = Path(ge=1, le=10_000),
    scan_id: str = ScanId,
    token: str = ScanToken,
    name: str = Depends(device_name),
    state: AppState = Depends(app_state),
) -> ScanPageOut:
    """One page (JPEG, PNG, TIFF or a one-page PDF), streamed; kept once it is whole."""
    service = service_of(state)
    async with service.page_lock(scan_id):  # a finish waits for this page, or it for it
        limits = await run_in_threadpool(_open_for_pages, state, scan_id, token, name)
        if number > limits.max_pages:
            raise Problem(422, "Invalid request", f"a scan has at most {limits.max_pages} pages")
        return await _keep_page(service, scan_id, number, request, limits.max_page_bytes)


async def _keep_page(
    service: ScanService, scan_id: str, number: int, request: Request, limit: int
) -> ScanPageOut:
    spool = service.spool
    try:
        size = await spool.write_page(scan_id, number, request.stream(), limit)
    except PageTooLarge as exc:
        raise Problem(413, "Content Too Large", str(exc)) from None
    try:
        info = await run_in_threadpool(inspect_page, spool.page_path(scan_id, number))
    except BadPage as exc:
        await run_in_threadpool(spool.drop_page, scan_id, number)
        raise Problem(415, "Unsupported Media Type", str(exc)) from None
    return ScanPageOut(page=number, bytes=size, media_type=info.media_type)


@router.post("/device/scans/{scan_id}/finish", dependencies=SCANNING)
async def finish_scan(
    body: ScanFinishIn,
    scan_id: str = ScanId,
    token: str = ScanToken,
    name: str = Depends(device_name),
    state: AppState = Depends(app_state),
) -> ScanOut:
    """No more pages: the scan is charged (once, however often this is sent) and queued
    for delivery. 409 names the pages still missing."""
    service = service_of(state)
    async with service.page_lock(scan_id):
        row = await run_in_threadpool(_finish, state, scan_id, token, name, body.pages)
    service.wake()
    return row


@router.delete("/device/scans/{scan_id}", status_code=204, dependencies=SCANNING)
def cancel_scan(
    scan_id: str = ScanId,
    token: str = ScanToken,
    name: str = Depends(device_name),
    session: Session = Depends(write_session),
    state: AppState = Depends(app_state),
) -> Response:
    """Give up a scan before it is finished: nothing is charged, its pages are dropped."""
    row = _own_scan(session, scan_id, token, name)
    if row.stage == Stage.SCANNING:
        scanning.abandon(row, "canceled at the device")
        row.notice = ""
        session.commit()
        service_of(state).spool.remove(scan_id)
    return Response(status_code=204)


def _own_scan(session: Session, scan_id: str, token: str, device: str) -> ScanRow:
    try:
        return scans.with_token(session, scan_id, token, device)
    except NotFound as exc:
        raise Problem(404, "Not Found", str(exc)) from None


def _open_for_pages(state: AppState, scan_id: str, token: str, device: str) -> Any:
    with state.database.read() as session:
        row = _own_scan(session, scan_id, token, device)
        if row.stage != Stage.SCANNING:
            raise Problem(409, "Conflict", f"scan {scan_id} is {row.stage}: it takes no pages")
        return scanning.scan_settings(session)


def _finish(state: AppState, scan_id: str, token: str, device: str, pages: int) -> ScanOut:
    spool = service_of(state).spool
    with state.database.session() as session:
        row = _own_scan(session, scan_id, token, device)
        if row.stage == Stage.SCANNING:
            kept = spool.pages(scan_id)
            missing = sorted(set(range(1, pages + 1)) - set(kept))
            if missing:
                shown = ", ".join(map(str, missing[:20]))
                raise Problem(409, "Pages missing", f"send page(s) {shown} first")
            scanning.finish(session, row, pages, printers.find_device(session, row.device))
            service_of(state).counts["received"] += 1
        return scan_out(row, state, [])


# --- a person's own scans ----------------------------------------------------------------------


@router.get("/me/scans", dependencies=SCANNING)
def my_scans(
    caller: Caller = Depends(a_user),
    session: Session = Depends(read_session),
    state: AppState = Depends(app_state),
) -> ScansOut:
    """The person's recent scans on this server, with a download link while one lasts."""
    assert caller.user_id is not None
    return ScansOut(scans=[scan_out(r, state) for r in scans.recent(session, caller.user_id)])


@router.get("/me/scan-devices", dependencies=SCANNING)
def my_scan_devices(
    caller: Caller = Depends(a_user),
    session: Session = Depends(read_session),
    state: AppState = Depends(app_state),
) -> ScanDevicesOut:
    """The devices whose network scanner this server can drive, with the person's actions
    at each."""
    assert caller.user_id is not None
    found = scanners_for(session, state, _user(session, caller.user_id))
    return ScanDevicesOut(
        devices=[
            ScanDeviceOut(device=device.name, location=device.location, actions=actions)
            for device, actions in found
        ]
    )


@router.post("/me/scans", status_code=202, dependencies=SCANNING)
def remote_scan(
    body: RemoteScanIn,
    caller: Caller = Depends(a_user),
    session: Session = Depends(write_session),
    state: AppState = Depends(app_state),
) -> ScanOut:
    """Scan what lies in a device's feeder with its network scanner (eSCL), charged to the
    person's own account once the pages are in."""
    assert caller.user_id is not None
    row = start_remote_scan(session, state, _user(session, caller.user_id), body)
    return scan_out(row, state)


def _user(session: Session, user_id: int) -> UserRow:
    user = session.get(UserRow, user_id)
    assert user is not None
    return user


# --- administrators ----------------------------------------------------------------------------


@router.get("/scan-actions", dependencies=[Depends(admin_only)])
def get_scan_actions(session: Session = Depends(read_session)) -> ScanSettingsIO:
    """The scan actions and limits (the replicated setting ``scan-actions``)."""
    return ScanSettingsIO(**settings_json(scanning.scan_settings(session)))


@router.put("/scan-actions", dependencies=[Depends(admin_only)])
def put_scan_actions(
    body: ScanSettingsIO, session: Session = Depends(write_session)
) -> ScanSettingsIO:
    """Replace the scan actions and limits; 422 says what is wrong."""
    try:
        parsed = parse_settings(body.model_dump())
    except ScanError as exc:
        raise Invalid(str(exc)) from None
    settings.put(session, SETTING_KEY, settings_json(parsed))
    return ScanSettingsIO(**settings_json(parsed))


# --- the download link (outside /api/v1: opened in a browser from a mail) ----------------------

downloads = APIRouter(tags=["scanning"], include_in_schema=False)


@downloads.get("/scans/{scan_id}/{key}")
async def download(
    scan_id: str = ScanId,
    key: str = Path(min_length=1, max_length=100),
    state: AppState = Depends(app_state),
) -> Response:
    """The scan's document (several files: a zip; not made: its pages, zipped) while the
    link lasts; 404 for a wrong key or an expired link alike."""
    if not scanning.check_download_key(state.secret, scan_id, key):
        raise Problem(404, "Not Found", "this download link is not valid (expired?)")
    await run_in_threadpool(_downloadable, state, scan_id)
    found = await run_in_threadpool(service_of(state).download, scan_id)
    return FileResponse(found.path, media_type=found.media_type, filename=found.name,
                        background=found.cleanup)  # fmt: skip


def _downloadable(state: AppState, scan_id: str) -> None:
    with state.database.read() as session:
        try:
            scans.downloadable(session, scan_id, datetime.now(UTC))
        except NotFound as exc:
            raise Problem(404, "Not Found", str(exc)) from None
