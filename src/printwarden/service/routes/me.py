"""What a signed-in user sees of their own printing: summary, recent jobs, release delegates."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.api.held_jobs import DelegatesIn, DelegatesOut
from printwarden.api.jobs import RecentJobOut
from printwarden.api.users import MySummaryOut
from printwarden.domain.accounts import Role
from printwarden.domain.functions import Function
from printwarden.service.auth import require
from printwarden.service.offline_functions import serves
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import read_session, write_session
from printwarden.store import held_jobs, users
from printwarden.store.db import utc
from printwarden.store.errors import NotFound
from printwarden.store.models import AccountRow, PrinterRow, PrintJobRow
from printwarden.store.tokens import Caller

router = APIRouter(tags=["me"])
a_user = require(Role.USER)


@router.get("/me/summary", dependencies=[serves(Function.USER_BALANCES)])
def my_summary(
    caller: Caller = Depends(a_user), session: Session = Depends(read_session)
) -> MySummaryOut:
    """Balance and the number of jobs waiting for release."""
    assert caller.user_id is not None
    row = users.find_user(session, caller.username or "")
    account = users.personal_account(session, row.id)
    return MySummaryOut(
        username=row.username,
        full_name=row.full_name,
        balance=account.balance,
        restricted=account.restricted,
        held_jobs=held_jobs.count_waiting(session, row.id),
    )


@router.get("/me/jobs", dependencies=[serves(Function.USER_BALANCES)])
def my_jobs(
    caller: Caller = Depends(a_user),
    session: Session = Depends(read_session),
    limit: int = Query(20, ge=1, le=200),
) -> list[RecentJobOut]:
    """Your recently printed jobs, newest first."""
    rows = session.execute(
        select(PrintJobRow, PrinterRow.name, AccountRow.name)
        .join(PrinterRow, PrinterRow.id == PrintJobRow.printer_id)
        .join(AccountRow, AccountRow.id == PrintJobRow.account_id)
        .where(PrintJobRow.user_id == caller.user_id)
        .order_by(PrintJobRow.id.desc())
        .limit(limit)
    ).all()
    return [
        RecentJobOut(
            job_ref=job.job_ref,
            printer=printer,
            document_name=job.document_name,
            pages=job.pages,
            colour_pages=job.colour_pages,
            copies=job.copies,
            duplex=job.duplex,
            paper_size=job.paper_size,
            cost=job.cost,
            account=account,
            printed_at=utc(job.printed_at),
        )
        for job, printer, account in rows
    ]


@router.get("/me/delegates", dependencies=[serves(Function.USER_BALANCES)])
def my_delegates(
    caller: Caller = Depends(a_user), session: Session = Depends(read_session)
) -> DelegatesOut:
    """Who may release your held jobs, and whose you may release."""
    assert caller.user_id is not None
    mine, theirs = held_jobs.delegates(session, caller.user_id)
    return DelegatesOut(usernames=mine, delegated_by=theirs)


@router.put("/me/delegates", dependencies=[serves(Function.USER_BALANCES)])
def set_my_delegates(
    body: DelegatesIn,
    caller: Caller = Depends(a_user),
    session: Session = Depends(write_session),
) -> DelegatesOut:
    """Name the users who may see and release your held jobs (replaces the list)."""
    owner = users.find_user(session, caller.username or "")
    try:
        held_jobs.set_delegates(session, owner, list(body.usernames))
    except NotFound as exc:
        raise Problem(422, "Invalid request", str(exc)) from None
    mine, theirs = held_jobs.delegates(session, owner.id)
    return DelegatesOut(usernames=mine, delegated_by=theirs)
