"""Online payments over the API: a person starts one and is sent to the gateway's page;
the gateway's signed notifications arrive at ``/payments/{gateway}/notify``; administrators
search and export the payments log.

Payments need the gateway and HQ's records: at a Site Server that is offline they are
refused plainly (503), while top-up cards and cash keep working there. Nothing here is on
the print path: a slow gateway delays only the person starting a payment.
"""

from __future__ import annotations

import csv
import io
import logging
import time
from datetime import datetime

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.orm import Session

from printwarden.api.payments import (
    PaymentEventOut,
    PaymentIn,
    PaymentOptionsOut,
    PaymentOut,
    PaymentStartedOut,
)
from printwarden.domain.accounts import Role
from printwarden.domain.functions import Function
from printwarden.domain.payments import BadNotification
from printwarden.payments.config import rules
from printwarden.payments.csv_cells import safe_cell
from printwarden.service.adding_credit import OFFLINE, return_base
from printwarden.service.adding_credit import start_payment as start_for
from printwarden.service.auth import require
from printwarden.service.offline_functions import serves
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import admin_only, read_session
from printwarden.service.state import AppState, app_state
from printwarden.store.models import PaymentEventRow, PaymentRow
from printwarden.store.tokens import Caller
from printwarden.usecases import payments

router = APIRouter(tags=["payments"])
log = logging.getLogger("printwarden.payments")
a_user = require(Role.USER)


def online(state: AppState = Depends(app_state)) -> AppState:
    """Refuse while this server is a site answering alone (its portal says so too)."""
    if state.authority.offline():
        raise Problem(503, "Unavailable while offline", OFFLINE)
    return state


def payment_out(row: PaymentRow, username: str = "") -> PaymentOut:
    return PaymentOut(
        id=row.id, gateway=row.gateway, username=username, amount=row.amount, fee=row.fee,
        currency=row.currency, status=row.status, reversed=row.reversed,
        created_at=row.created_at, updated_at=row.updated_at,
    )  # fmt: skip


@router.get("/me/payment-options", dependencies=[serves(Function.PAYMENT_GATEWAYS_KIOSKS)])
def payment_options(
    caller: Caller = Depends(a_user), state: AppState = Depends(app_state)
) -> PaymentOptionsOut:
    """The gateways you may pay through, the limits and the fee."""
    found = rules(state.settings.payments)
    available = not state.authority.offline() and bool(state.gateways)
    reason = "" if available else (OFFLINE if state.authority.offline() else "no gateway is set up")
    labels = state.settings.payments.gateways
    return PaymentOptionsOut(
        available=available, reason=reason, currency=state.currency.code,
        gateways=[{"name": name, "label": labels[name].label or name} for name in state.gateways],
        min_amount=found.min_amount, max_amount=found.max_amount, fee_fixed=found.fee_fixed,
        fee_basis_points=found.fee_basis_points,
    )  # fmt: skip


@router.post(
    "/me/payments",
    dependencies=[serves(Function.PAYMENT_GATEWAYS_KIOSKS)],
    status_code=201,
    responses={503: {"description": "offline, or the gateway cannot be reached"}},
)
async def start_payment(
    body: PaymentIn,
    request: Request,
    caller: Caller = Depends(a_user),
    state: AppState = Depends(online),
) -> PaymentStartedOut:
    """Start adding ``amount`` to your balance: pay at ``redirect_url``; you come back to
    the portal's Add credit page, which shows the result."""
    base = return_base(state, request)
    started = await start_for(state, body.gateway, body.amount, caller.username or "", base)
    return PaymentStartedOut(
        payment=payment_out(started.payment, started.username), redirect_url=started.redirect_url
    )


@router.get("/me/payments", dependencies=[serves(Function.PAYMENT_GATEWAYS_KIOSKS)])
def my_payments(
    caller: Caller = Depends(a_user), session: Session = Depends(read_session)
) -> list[PaymentOut]:
    """Your payments, newest first."""
    found = payments.search(session, payments.PaymentQuery(username=caller.username or ""))
    return [payment_out(row, name) for row, name in found]


@router.get("/me/payments/{payment_id}", dependencies=[serves(Function.PAYMENT_GATEWAYS_KIOSKS)])
def my_payment(
    payment_id: str, caller: Caller = Depends(a_user), session: Session = Depends(read_session)
) -> PaymentOut:
    """One of your payments (the portal polls it until the gateway's word arrives)."""
    row = session.get(PaymentRow, payment_id)
    if row is None or row.user_id != caller.user_id:
        raise Problem(404, "Not found", f"no payment {payment_id!r} of yours")
    return payment_out(row, caller.username or "")


@router.post(
    "/payments/{gateway}/notify",
    responses={400: {"description": "bad signature, stale, or malformed"}},
)
async def notify(
    gateway: str, request: Request, state: AppState = Depends(online)
) -> dict[str, str]:
    """A gateway's signed notification (no token: the signature over the raw body is the
    proof). Each event applies once; duplicates and replays answer 200 and change nothing."""
    found = state.gateways.get(gateway)
    if found is None:
        raise Problem(404, "Not found", f"no payment gateway {gateway!r}")
    body = await request.body()
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        note = found.verify(headers, body, time.time())
    except BadNotification as exc:
        client = request.client.host if request.client else "?"
        log.warning("payment notification to %s from %s refused: %s", gateway, client, exc)
        raise Problem(400, "Bad notification", str(exc)) from None
    done = await state.payment_notices.apply(note)
    log.info("payment event %s %s (%s): %s — %s", gateway, note.event_id, note.event_type,
             done.outcome, done.detail)  # fmt: skip
    return {"outcome": done.outcome, "detail": done.detail}


@router.get(
    "/payments",
    dependencies=[Depends(admin_only)],
    responses={200: {"content": {"text/csv": {}}}},
)
def search_payments(
    session: Session = Depends(read_session),
    user: str = Query("", max_length=128),
    gateway: str = Query("", max_length=32),
    status: str = Query("", pattern="^(|pending|paid|reversed|canceled)$"),
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = Query(200, ge=1, le=10_000),
    export: str = Query("json", alias="format", pattern="^(json|csv)$"),
) -> Response:
    """The payments log: filter by person, gateway, status and time; ``format=csv`` exports."""
    query = payments.PaymentQuery(user, gateway, status, since, until, limit)
    found = [payment_out(row, name) for row, name in payments.search(session, query)]
    if export == "csv":
        headers = {"Content-Disposition": 'attachment; filename="payments.csv"'}
        return Response(_csv(found), media_type="text/csv; charset=utf-8", headers=headers)
    body = "[" + ",".join(out.model_dump_json() for out in found) + "]"
    return Response(body, media_type="application/json")


def _csv(found: list[PaymentOut]) -> str:
    buffer = io.StringIO()
    columns = ["id", "created_at", "username", "gateway", "amount", "fee", "currency", "status"]
    writer = csv.DictWriter(buffer, columns, extrasaction="ignore")
    writer.writeheader()
    for out in found:
        row = out.model_dump(mode="json")
        writer.writerow({name: safe_cell(str(row[name])) for name in columns})
    return buffer.getvalue()


@router.get("/payment-events", dependencies=[Depends(admin_only)])
def payment_events(
    session: Session = Depends(read_session),
    payment: str = Query("", max_length=40),
    limit: int = Query(200, ge=1, le=10_000),
) -> list[PaymentEventOut]:
    """The gateways' notifications as applied, newest first (of one payment, when given)."""
    return [_event_out(row) for row in payments.events(session, payment, limit)]


def _event_out(row: PaymentEventRow) -> PaymentEventOut:
    return PaymentEventOut(
        gateway=row.gateway, event_id=row.event_id, event_type=row.event_type,
        payment_id=row.payment_id, amount=row.amount, currency=row.currency,
        outcome=row.outcome, detail=row.detail, received_at=row.received_at,
    )  # fmt: skip
