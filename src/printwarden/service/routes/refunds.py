"""Refund requests: a person asks for a charge back; an administrator approves or refuses."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from printwarden.api.payments import RefundDecisionIn, RefundRequestIn, RefundRequestOut
from printwarden.domain.accounts import Role
from printwarden.service.auth import require
from printwarden.service.routes.deps import admin_only, read_session, write_session
from printwarden.store import users
from printwarden.store.models import RefundRequestRow
from printwarden.store.tokens import Caller
from printwarden.usecases import refunds

router = APIRouter(tags=["refunds"])
a_user = require(Role.USER)


def request_out(row: RefundRequestRow, username: str) -> RefundRequestOut:
    return RefundRequestOut(
        id=row.id, username=username, txn_id=row.charge_txn, amount=row.amount,
        reason=row.reason, status=row.status,
        automatic=row.automatic, answer=row.answer, decided_by=row.decided_by,
        requested_at=row.requested_at, decided_at=row.decided_at,
    )  # fmt: skip


@router.post("/me/refund-requests", status_code=201)
def ask_refund(
    body: RefundRequestIn,
    caller: Caller = Depends(a_user),
    session: Session = Depends(write_session),
) -> RefundRequestOut:
    """Ask for one of your charges back (a failed or wrong print), with a reason."""
    user = users.find_user(session, caller.username or "")
    return request_out(refunds.ask(session, user, body.txn_id, body.reason), user.username)


@router.get("/me/refund-requests")
def my_refund_requests(
    caller: Caller = Depends(a_user), session: Session = Depends(read_session)
) -> list[RefundRequestOut]:
    """Your refund requests and their answers, newest first."""
    found = refunds.listed(session, user_id=caller.user_id)
    return [request_out(row, name) for row, name in found]


@router.get("/refund-requests", dependencies=[Depends(admin_only)])
def refund_requests(
    session: Session = Depends(read_session),
    status: str = Query("pending", pattern="^(|pending|approved|refused)$"),
) -> list[RefundRequestOut]:
    """Refund requests (pending ones by default), newest first."""
    return [request_out(row, name) for row, name in refunds.listed(session, status=status)]


@router.post("/refund-requests/{request_id}/approve")
def approve(
    request_id: int,
    body: RefundDecisionIn,
    caller: Caller = Depends(admin_only),
    session: Session = Depends(write_session),
) -> RefundRequestOut:
    """Refund the charge (once) and tell the person."""
    return _decide(session, request_id, body, caller, approve=True)


@router.post("/refund-requests/{request_id}/refuse")
def refuse(
    request_id: int,
    body: RefundDecisionIn,
    caller: Caller = Depends(admin_only),
    session: Session = Depends(write_session),
) -> RefundRequestOut:
    """Refuse the request, saying why."""
    return _decide(session, request_id, body, caller, approve=False)


def _decide(
    session: Session, request_id: int, body: RefundDecisionIn, caller: Caller, *, approve: bool
) -> RefundRequestOut:
    row = refunds.decide(session, request_id, approve=approve, by=caller.username or "",
                         answer=body.answer)  # fmt: skip
    return request_out(row, users.username_of(session, row.user_id))
