"""The device API: MFD embedded apps, hardware terminals and release stations.

A device token is bound to one device (scope ``device:<name>``); every call acts for that
device and its printer only. A person logs in (card, identity number + PIN, or username +
password — as the device allows), gets a session, lists and releases their held jobs at this
device's printer, picks the account to charge, and the device reports walk-up copy, scan and
fax usage against the session.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Query, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from printwarden.api.auth import DeviceLoginIn
from printwarden.api.devices import (
    AllowanceOut,
    DeviceRegisterIn,
    DeviceRegisterOut,
    DeviceSessionOut,
    DeviceUsageIn,
    DeviceUsageOut,
    ReleaseAllOut,
    SessionAccountIn,
    SessionAccountOut,
    ThisDeviceOut,
)
from printwarden.api.held_jobs import HeldJobChangeIn, HeldJobOut, HeldJobsOut
from printwarden.directory.errors import DirectoryUnavailable
from printwarden.domain import functions
from printwarden.domain.accounts import Role
from printwarden.domain.costs import JobUsage, affordable_pages
from printwarden.domain.functions import Function, Mode
from printwarden.domain.ledger import TransactionKind
from printwarden.service import logins
from printwarden.service.auth import require
from printwarden.service.offline_functions import serves
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import read_session, write_session
from printwarden.service.state import AppState, app_state
from printwarden.store import accounts, device_sessions, held_jobs, jobs, printers, users
from printwarden.store.errors import NotFound
from printwarden.store.models import AccountRow, DeviceRow, DeviceSessionRow, PrinterRow, UserRow
from printwarden.store.tokens import DEVICE_PREFIX, Caller
from printwarden.usecases import release

router = APIRouter(tags=["device"])
SCOPE_PREFIX = DEVICE_PREFIX
log = logging.getLogger("printwarden.service")


def device_name(caller: Caller = Depends(require(Role.DEVICE))) -> str:
    """The device this token is bound to (403 for a token bound to none)."""
    if not caller.scope.startswith(SCOPE_PREFIX):
        raise Problem(403, "Forbidden", "this device token is not bound to a device")
    return caller.scope[len(SCOPE_PREFIX) :]


def enabled_device(session: Session, name: str) -> DeviceRow:
    try:
        row = printers.find_device(session, name)
    except NotFound:
        raise Problem(403, "Forbidden", f"device {name!r} no longer exists") from None
    if not row.enabled:
        raise Problem(403, "Forbidden", f"device {name!r} is disabled")
    return row


def _printer(session: Session, device: DeviceRow) -> PrinterRow:
    if device.printer_id is None:
        raise Problem(409, "No printer", f"device {device.name} has no printer")
    printer = session.get(PrinterRow, device.printer_id)
    assert printer is not None
    return printer


@router.get("/device", dependencies=[serves(Function.MFD_LOGIN)])
def this_device(
    name: str = Depends(device_name), session: Session = Depends(read_session)
) -> ThisDeviceOut:
    """What this device is, which printer it serves, and how people may log in."""
    return _device_out(session, enabled_device(session, name))


def _device_out(session: Session, device: DeviceRow) -> ThisDeviceOut:
    return ThisDeviceOut(
        name=device.name,
        kind=device.kind,
        printer=printers.printer_name(session, device.printer_id),
        login_methods=list(device.login_methods),
        session_idle_seconds=int(device_sessions.IDLE_TIMEOUT.total_seconds()),
        scanner=bool(device.escl_url),
    )


@router.post("/device/register", dependencies=[serves(Function.MFD_LOGIN)])
def register_device(
    body: DeviceRegisterIn,
    name: str = Depends(device_name),
    session: Session = Depends(read_session),
) -> DeviceRegisterOut:
    """The device says what it believes it is; the answer is what an administrator made it.
    Nothing changes: a device's printer, site, kind and login methods are set by
    administrators only (API, CLI, web). ``differs`` names what the device should adopt."""
    device = enabled_device(session, name)
    configured = _device_out(session, device)
    reported = body.model_dump(exclude_none=True)
    if "login_methods" in reported:
        reported["login_methods"] = sorted(set(reported["login_methods"]))
    actual = {
        "kind": configured.kind,
        "printer": configured.printer,
        "login_methods": sorted(configured.login_methods),
    }
    differs = sorted(key for key, value in reported.items() if actual[key] != value)
    if differs:
        log.warning("device %s reports %s other than configured; kept as configured",
                    name, ", ".join(differs))  # fmt: skip
    return DeviceRegisterOut(**configured.model_dump(), differs=differs)


# --- sessions ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Live:
    """A live device session with what every call needs."""

    device: DeviceRow
    row: DeviceSessionRow
    user: UserRow


def live_session(session: Session, name: str, session_id: str) -> Live:
    device = enabled_device(session, name)
    try:
        row = device_sessions.active(session, session_id, device)
    except NotFound as exc:
        session.commit()  # keep the time-out mark
        raise Problem(404, "Session ended", str(exc)) from None
    user = session.get(UserRow, row.user_id)
    assert user is not None
    if not user.enabled:
        device_sessions.end(row)
        session.commit()
        raise Problem(404, "Session ended", "the user is disabled")
    return Live(device, row, user)


def _session_out(session: Session, live: Live) -> DeviceSessionOut:
    personal = users.personal_account(session, live.user.id)
    chosen = session.get(AccountRow, live.row.account_id) if live.row.account_id else personal
    assert chosen is not None
    shared = accounts.granted_shared(session, live.user)
    options = [SessionAccountOut(name="", label="Personal", needs_pin=False)]
    options += [
        SessionAccountOut(name=a.name, label=a.name, needs_pin=bool(a.pin_hash)) for a in shared
    ]
    return DeviceSessionOut(
        session_id=live.row.id,
        device=live.device.name,
        printer=printers.printer_name(session, live.device.printer_id),
        username=live.user.username,
        full_name=live.user.full_name,
        account="" if chosen.id == personal.id else chosen.name,
        balance=chosen.balance,
        restricted=chosen.restricted,
        accounts=options,
        expires_at=device_sessions.expires_at(live.row),
    )


@router.post(
    "/device/sessions",
    dependencies=[serves(Function.MFD_LOGIN)],
    status_code=201,
    responses={429: {"description": "Too many failed attempts at this device"}},
)
async def log_in(
    body: DeviceLoginIn,
    name: str = Depends(device_name),
    state: AppState = Depends(app_state),
) -> DeviceSessionOut:
    """Log a person in at this device; 401 when the card or secret is not recognised (the
    same answer for an unknown card and any other refusal), 429 while throttled."""
    await run_in_threadpool(_may_log_in, state, name, body.method)
    try:
        user = await logins.person(state, body, logins.device_client(name))
    except DirectoryUnavailable as exc:
        raise Problem(503, "Directory unavailable", str(exc)) from None
    if user is None:
        raise Problem(401, "Not recognised", _unrecognised(body.method))
    return await run_in_threadpool(_start, state, name, user.id)


def _may_log_in(state: AppState, name: str, method: str) -> None:
    with state.database.read() as session:
        device = enabled_device(session, name)
        _check_available(state, device)
        if method not in device.login_methods:
            detail = f"{device.name} does not accept {method} logins"
            raise Problem(403, "Login method not allowed", detail)


def _start(state: AppState, name: str, user_id: int) -> DeviceSessionOut:
    """The device session, in a short write transaction of its own."""
    with state.database.session() as session:
        device = enabled_device(session, name)
        user = session.get(UserRow, user_id)
        assert user is not None
        row = device_sessions.start(session, device, user.id)
        return _session_out(session, Live(device, row, user))


def _check_available(state: AppState, device: DeviceRow) -> None:
    """Offline, a device whose function the functions table marks unavailable is refused
    (a card reader is Fast Release, any other kind an MFD login)."""
    if not state.authority.offline():
        return
    function = Function.FAST_RELEASE if device.kind == "card-reader" else Function.MFD_LOGIN
    functions.require(function, Mode.OFFLINE_WITH_SITE)  # answered by offline_functions


def _unrecognised(method: str) -> str:
    return {
        "card": "card not recognised",
        "identity": "wrong identity number or PIN",
        "password": "wrong username or password",
    }[method]


@router.get("/device/sessions/{session_id}", dependencies=[serves(Function.MFD_LOGIN)])
def get_session(
    session_id: str, name: str = Depends(device_name), session: Session = Depends(write_session)
) -> DeviceSessionOut:
    """The session, its idle timer moved on."""
    return _session_out(session, live_session(session, name, session_id))


@router.delete(
    "/device/sessions/{session_id}", dependencies=[serves(Function.MFD_LOGIN)], status_code=204
)
def log_out(
    session_id: str, name: str = Depends(device_name), session: Session = Depends(write_session)
) -> Response:
    device_sessions.end(live_session(session, name, session_id).row)
    return Response(status_code=204)


@router.put(
    "/device/sessions/{session_id}/account",
    dependencies=[serves(Function.ACCOUNT_SELECTION_AT_MFD)],
    responses={429: {"description": "Too many wrong PINs"}},
)
async def select_account(
    session_id: str,
    body: SessionAccountIn,
    name: str = Depends(device_name),
    state: AppState = Depends(app_state),
) -> DeviceSessionOut:
    """Account selection: "" for personal, or a shared account the user may use (with PIN;
    wrong PINs are throttled per account and per device, and checked outside any transaction).

    Offline, only where the Offline Policy allows changing the applied account (config key
    ``system.site.offline-change-print-job-settings.enabled`` = Y)."""
    account = await run_in_threadpool(_account_to_select, state, name, session_id, body.account)
    if account is not None and not await logins.account_pin(
        state, account, body.pin, logins.device_client(name)
    ):
        raise Problem(403, "Forbidden", f"wrong or missing PIN for {account.name!r}")
    chosen = account.id if account is not None else None
    return await run_in_threadpool(_select, state, name, session_id, chosen)


def _account_to_select(
    state: AppState, name: str, session_id: str, account: str
) -> logins.PinnedAccount | None:
    """The shared account asked for, if this session's user may use it (None: personal)."""
    with state.database.session() as session:  # short: it moves the session's idle timer
        live = live_session(session, name, session_id)
        _check_account_change(state, session)
        if not account:
            return None
        granted = accounts.granted_shared(session, live.user)
        found = next((a for a in granted if a.name == account), None)
        if found is None:
            raise Problem(403, "Forbidden", f"{live.user.username} may not use {account!r}")
        return logins.PinnedAccount(found.id, found.name, found.pin_hash)


def _select(
    state: AppState, name: str, session_id: str, account_id: int | None
) -> DeviceSessionOut:
    with state.database.session() as session:
        live = live_session(session, name, session_id)
        if account_id is not None and account_id not in {
            a.id for a in accounts.granted_shared(session, live.user)
        }:
            raise Problem(403, "Forbidden", f"{live.user.username} may no longer use it")
        live.row.account_id = account_id
        return _session_out(session, live)


def _check_account_change(state: AppState, session: Session) -> None:
    refusal = state.authority.rules(session).account_change_refusal()
    if refusal:
        raise Problem(403, "Not available offline", refusal)


# --- held jobs at this device ------------------------------------------------------------------


@router.get("/device/sessions/{session_id}/jobs", dependencies=[serves(Function.MFD_LOGIN)])
def session_jobs(
    session_id: str, name: str = Depends(device_name), session: Session = Depends(write_session)
) -> HeldJobsOut:
    """The user's held jobs (and their delegators'), costed at this device's printer."""
    live = live_session(session, name, session_id)
    printer = _printer(session, live.device)
    owners = held_jobs.visible_owner_ids(session, live.user.id)
    rows = held_jobs.waiting(session, owners)
    return HeldJobsOut(jobs=release.views_at(session, rows, printer))


@dataclass(frozen=True, slots=True)
class ReleaseContext:
    printer: str
    releaser: release.Releaser
    choice: jobs.AccountChoice


def _release_context(state: AppState, name: str, session_id: str) -> ReleaseContext:
    with state.database.session() as session:
        live = live_session(session, name, session_id)
        printer = _printer(session, live.device)
        account_id = live.row.account_id
        return ReleaseContext(
            printer.name,
            release.Releaser(live.user.username, live.user.id),
            jobs.AccountChoice(account_id=account_id) if account_id else jobs.AccountChoice(),
        )


@router.patch(
    "/device/sessions/{session_id}/jobs/{job_ref}", dependencies=[serves(Function.MFD_LOGIN)]
)
async def change_job(
    session_id: str,
    job_ref: str,
    body: HeldJobChangeIn,
    name: str = Depends(device_name),
    state: AppState = Depends(app_state),
) -> HeldJobOut:
    """Change a held job's copies, duplex or greyscale before releasing it."""

    def run(state: AppState) -> HeldJobOut:
        context = _release_context(state, name, session_id)
        return release.change(state, job_ref, context.releaser, body)

    return await release.in_thread(state, run)


@router.post(
    "/device/sessions/{session_id}/jobs/{job_ref}/release",
    dependencies=[serves(Function.SERVER_SIDE_PRINTING_AT_MFD)],
)
async def release_job(
    session_id: str,
    job_ref: str,
    name: str = Depends(device_name),
    state: AppState = Depends(app_state),
) -> HeldJobOut:
    """Release one job to this device's printer, charged to the session's account."""

    def run(state: AppState) -> HeldJobOut:
        context = _release_context(state, name, session_id)
        return release.release(state, job_ref, context.printer, context.releaser, context.choice)

    return await release.in_thread(state, run)


@router.post(
    "/device/sessions/{session_id}/jobs/{job_ref}/cancel", dependencies=[serves(Function.MFD_LOGIN)]
)
async def cancel_job(
    session_id: str,
    job_ref: str,
    name: str = Depends(device_name),
    state: AppState = Depends(app_state),
) -> HeldJobOut:
    def run(state: AppState) -> HeldJobOut:
        context = _release_context(state, name, session_id)
        return release.cancel(state, job_ref, context.releaser)

    return await release.in_thread(state, run)


@router.post(
    "/device/sessions/{session_id}/release-all",
    dependencies=[serves(Function.SERVER_SIDE_PRINTING_AT_MFD)],
)
async def release_all(
    session_id: str, name: str = Depends(device_name), state: AppState = Depends(app_state)
) -> ReleaseAllOut:
    """Release all of the user's own held and Find-Me jobs to this device's printer."""
    return await release.in_thread(state, _release_all, name, session_id)


def _release_all(state: AppState, name: str, session_id: str) -> ReleaseAllOut:
    context = _release_context(state, name, session_id)
    return release.release_all(state, context.printer, context.releaser, context.choice)


# --- walk-up usage -----------------------------------------------------------------------------


def charged_account(session: Session, live: Live) -> AccountRow:
    if live.row.account_id:
        found = session.get(AccountRow, live.row.account_id)
        assert found is not None
        return found
    return users.personal_account(session, live.user.id)


@router.get("/device/sessions/{session_id}/allowance", dependencies=[serves(Function.MFD_LOGIN)])
def allowance(
    session_id: str,
    kind: str = Query("copy", pattern="^(copy|scan|fax)$"),
    colour: bool = False,
    duplex: bool = False,
    paper_size: str = Query("A4", min_length=1, max_length=32),
    name: str = Depends(device_name),
    session: Session = Depends(write_session),
) -> AllowanceOut:
    """How many more pages of this kind the session's account can pay for (null: no limit)."""
    live = live_session(session, name, session_id)
    groups = users.groups_of(session, live.user.id)

    def cost(pages: int) -> int:
        usage = JobUsage(pages, pages if colour else 0, 1, duplex, paper_size)
        return device_sessions.usage_cost(live.device, usage, groups)

    price = cost(2) - cost(1)
    account = accounts.to_domain(session, charged_account(session, live))
    if not account.restricted or price <= 0:
        return AllowanceOut(price_per_page=price, allowed_pages=None)
    return AllowanceOut(
        price_per_page=price, allowed_pages=affordable_pages(cost, account.available())
    )


@router.post(
    "/device/sessions/{session_id}/usage", dependencies=[serves(Function.MFD_DEVICE_FUNCTIONS)]
)
def report_usage(
    session_id: str,
    body: DeviceUsageIn,
    name: str = Depends(device_name),
    session: Session = Depends(write_session),
) -> DeviceUsageOut:
    """Walk-up copy, scan or fax usage, charged to the session's account once."""
    live = live_session(session, name, session_id)
    account = charged_account(session, live)
    try:
        usage = JobUsage(body.pages, body.colour_pages, 1, body.duplex, body.paper_size)
    except ValueError as exc:
        raise Problem(422, "Invalid request", str(exc)) from None
    try:
        record = device_sessions.record_usage(
            session,
            live.user.id,
            account.id,
            live.device,
            device_sessions.Usage(body.usage_id, TransactionKind(body.kind), usage),
            users.groups_of(session, live.user.id),
        )
    except NotFound as exc:
        raise Problem(409, "Conflict", str(exc)) from None
    session.flush()
    session.refresh(account)
    return DeviceUsageOut(usage_id=record.usage_id, cost=record.cost, balance=account.balance)
