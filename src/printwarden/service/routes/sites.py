"""Sites: administrators define them; each Site Server pulls its changes, reports its
status and uploads its offline journal — with a site token that reaches only its own site."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from printwarden.domain.accounts import Role
from printwarden.domain.offline_policies import SETTING_KEY, OfflinePolicies
from printwarden.service import journal, schemas
from printwarden.service.auth import require
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import admin_only, read_session, write_session
from printwarden.service.state import AppState, app_state
from printwarden.store import replication, settings, sites
from printwarden.store.changes import last_change_seq
from printwarden.store.db import utc
from printwarden.store.errors import AlreadyExists, NotFound
from printwarden.store.migrate import head_revision
from printwarden.store.models import SiteRow
from printwarden.store.tokens import Caller

router = APIRouter(tags=["sites"])
# Sites call in every half second; three seconds of silence mean the link is down, and HQ
# then shows the site offline (the site itself went offline by then too).
REACHABLE_WITHIN = timedelta(seconds=3)
MAX_WAIT_SECONDS = 25.0


def site_of(name: str, caller: Caller = Depends(require(Role.SITE))) -> str:
    """The site this token belongs to, which must be the one in the path."""
    if caller.scope != name:
        raise Problem(403, "Forbidden", "a site token reaches only its own site")
    return name


def _site(session: Session, name: str) -> SiteRow:
    try:
        return sites.find_site(session, name)
    except NotFound as exc:
        raise Problem(404, "Not found", str(exc)) from None


def site_out(row: SiteRow) -> schemas.SiteOut:
    status = row.status or {}
    contact = utc(row.last_contact) if row.last_contact is not None else None
    reachable = contact is not None and datetime.now(UTC) - contact < REACHABLE_WITHIN
    return schemas.SiteOut(
        name=row.name,
        description=row.description,
        mode=str(status.get("mode", "unknown")) if reachable else "offline",
        reachable=reachable,
        forced_offline=row.forced_offline,
        last_contact=contact,
        journal_backlog=int(status.get("journal_backlog", 0)),
        outages=list(status.get("outages", [])),
        last_report=status.get("last_report"),
    )


@router.post("/sites", status_code=201, dependencies=[Depends(admin_only)])
def add_site(body: schemas.SiteIn, session: Session = Depends(write_session)) -> schemas.SiteOut:
    try:
        return site_out(sites.create_site(session, body.name, body.description))
    except AlreadyExists as exc:
        raise Problem(409, "Conflict", str(exc)) from None


@router.get("/sites", dependencies=[Depends(admin_only)])
def list_sites(session: Session = Depends(read_session)) -> list[schemas.SiteOut]:
    """Every site: its mode, last contact, outages, journal backlog, last reconciliation."""
    return [site_out(row) for row in sites.list_sites(session)]


@router.get("/sites/{name}", dependencies=[Depends(admin_only)])
def get_site(name: str, session: Session = Depends(read_session)) -> schemas.SiteOut:
    return site_out(_site(session, name))


@router.put("/sites/{name}/forced-offline", dependencies=[Depends(admin_only)])
def force_offline(
    name: str, body: schemas.SiteForceIn, session: Session = Depends(write_session)
) -> schemas.SiteOut:
    """Take a site offline for maintenance (or bring it back); it learns at its next call."""
    row = _site(session, name)
    row.forced_offline = body.offline
    return site_out(row)


@router.post("/sites/{name}/status")
def site_status(
    body: schemas.SiteStatusIn,
    name: str = Depends(site_of),
    session: Session = Depends(write_session),
) -> schemas.SiteStatusOut:
    """A Site Server's heartbeat: its mode and backlog; the answer says if it must stay offline."""
    row = _site(session, name)
    sites.record_status(session, row, body.model_dump(mode="json"))
    return schemas.SiteStatusOut(forced_offline=row.forced_offline)


@router.get("/sites/{name}/changes")
async def site_changes(
    name: str = Depends(site_of),
    since: int = Query(0, ge=0),
    limit: int = Query(5000, ge=1, le=50_000),
    wait: float = Query(0.0, ge=0.0, le=MAX_WAIT_SECONDS),
    state: AppState = Depends(app_state),
) -> schemas.ChangesOut:
    """Entities the site needs changed after ``since`` (0: everything). With ``wait``, a
    long poll: answers as soon as something changes, or empty after ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        page = await run_in_threadpool(_page, state, name, since, limit)
        if page.entities or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.1)
    return schemas.ChangesOut(
        schema_revision=head_revision() or "",
        upto=page.upto,
        more=page.more,
        entities=page.entities,
    )


def _page(state: AppState, name: str, since: int, limit: int) -> replication.Page:
    with state.database.read() as session:
        _site(session, name)
        if since and last_change_seq(session) <= since:
            return replication.Page(since, False, [])
        return replication.changes(session, name, since, limit)


@router.post("/sites/{name}/journal")
def upload_journal(
    body: schemas.JournalIn,
    name: str = Depends(site_of),
    session: Session = Depends(write_session),
) -> schemas.JournalOut:
    """Apply the site's offline journal, in order, each entry once (a replay changes nothing)."""
    _site(session, name)
    entries = [entry.model_dump(mode="json") for entry in body.entries]
    try:
        report = journal.apply_entries(session, name, entries)
    except (NotFound, ValueError) as exc:
        raise Problem(422, "Invalid journal entry", str(exc)) from None
    return schemas.JournalOut(
        entries=report.entries,
        applied=report.applied,
        already_applied=report.already_applied,
        amounts=report.amounts,
        unknown_users=report.unknown_users,
        failure_mode_jobs=report.failure_mode_jobs,
        deficits=journal.deficits(session, report.touched_accounts),
        notes=report.notes,
    )


@router.get("/offline-policies", dependencies=[Depends(admin_only)])
def get_offline_policies(session: Session = Depends(read_session)) -> schemas.OfflinePoliciesIO:
    return schemas.OfflinePoliciesIO(**_policies(session).to_json())


@router.put("/offline-policies", dependencies=[Depends(admin_only)])
def set_offline_policies(
    body: schemas.OfflinePoliciesIO, session: Session = Depends(write_session)
) -> schemas.OfflinePoliciesIO:
    """Set the Offline Policies every site applies while the App Server is unreachable."""
    policies = OfflinePolicies.from_json(body.model_dump())
    settings.put(session, SETTING_KEY, policies.to_json())
    return schemas.OfflinePoliciesIO(**policies.to_json())


def _policies(session: Session) -> OfflinePolicies:
    return OfflinePolicies.from_json(settings.get(session, SETTING_KEY) or {})
