"""Cash kiosks over the API: the kiosk's bridge asks whether to take cash and reports each
note or coin; administrators read and empty a kiosk's cash box.

The kiosk is a device (kind ``kiosk``) whose token both its page and its bridge hold; a
person logs in there as at any device (``/device/sessions``). Each insertion names the
session it was made in and the acceptor's own id for it: credited once
(``usecases/cash.py``), at HQ or, offline, at the site, which journals it.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from printwarden.api.payments import (
    CashBoxOut,
    CollectionIn,
    CollectionOut,
    InsertionIn,
    InsertionOut,
    KioskOut,
)
from printwarden.domain.functions import Function
from printwarden.domain.ledger import APP_ORIGIN
from printwarden.service.offline_functions import serves
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import admin_only, read_session, write_session
from printwarden.service.routes.device import device_name, enabled_device
from printwarden.service.state import AppState, app_state
from printwarden.store import printers, users
from printwarden.store.errors import NotFound
from printwarden.store.models import CashCollectionRow, DeviceRow, UserRow
from printwarden.store.tokens import Caller
from printwarden.usecases import cash

router = APIRouter(tags=["kiosks"])
log = logging.getLogger("printwarden.payments")


def _kiosk(session: Session, name: str) -> DeviceRow:
    device = enabled_device(session, name)
    if device.kind != cash.KIOSK:
        raise Problem(409, "Not a kiosk", f"device {name!r} is a {device.kind}, not a kiosk")
    return device


@router.get("/device/kiosk", dependencies=[serves(Function.PAYMENT_GATEWAYS_KIOSKS)])
def kiosk_state(
    name: str = Depends(device_name),
    session: Session = Depends(read_session),
    state: AppState = Depends(app_state),
) -> KioskOut:
    """Whether the acceptor may take cash now: only while a person is logged in here."""
    device = _kiosk(session, name)
    live = cash.current_session(session, device, users.now())
    rules = state.cash_rules
    shown = None
    if live is not None:
        user = session.get(UserRow, live.user_id)
        username = user.username if user is not None else ""
        balance = users.personal_account(session, live.user_id).balance
        shown = {"id": live.id, "username": username, "balance": balance}
    return KioskOut(
        accepting=shown is not None, session=shown, currency=rules.currency,
        denominations=sorted(rules.denominations),
    )  # fmt: skip


@router.post(
    "/device/kiosk/insertions",
    dependencies=[serves(Function.PAYMENT_GATEWAYS_KIOSKS)],
    status_code=201,
    responses={200: {"description": "already credited (the same insertion sent again)"}},
)
def insertion(
    body: InsertionIn,
    response: Response,
    name: str = Depends(device_name),
    session: Session = Depends(write_session),
    state: AppState = Depends(app_state),
) -> InsertionOut:
    """Credit a note or coin the acceptor took, once by its ``insertion_id``."""
    device = _kiosk(session, name)
    origin = APP_ORIGIN if state.authority.at_hq else state.issuer
    done = cash.credit(session, state.cash_rules, device, body.model_dump(), origin)
    if not done.new:
        response.status_code = 200
    else:
        log.info("cash %s at %s for %s", body.amount, name, done.username)
    return InsertionOut(amount=done.amount, balance=done.balance, username=done.username,
                        new=done.new)  # fmt: skip


def _device(session: Session, name: str) -> DeviceRow:
    try:
        device = printers.find_device(session, name)
    except NotFound:
        raise Problem(404, "Not found", f"no device {name!r}") from None
    if device.kind != cash.KIOSK:
        raise Problem(404, "Not found", f"{name!r} is not a kiosk")
    return device


@router.get("/kiosks/{name}/cash-box", dependencies=[Depends(admin_only)])
def cash_box(name: str, session: Session = Depends(read_session)) -> CashBoxOut:
    """What the kiosk's box should hold: the insertions since it was last emptied."""
    box = cash.cash_box(session, _device(session, name))
    return CashBoxOut(device=name, insertions=box.insertions, recorded=box.recorded,
                      since=box.since)  # fmt: skip


def collection_out(name: str, row: CashCollectionRow) -> CollectionOut:
    return CollectionOut(
        device=name, counted=row.counted, recorded=row.recorded,
        difference=row.counted - row.recorded, insertions=row.insertions,
        collected_by=row.collected_by, collected_at=row.collected_at, note=row.note,
    )  # fmt: skip


@router.post("/kiosks/{name}/collections", status_code=201)
def collect(
    name: str,
    body: CollectionIn,
    caller: Caller = Depends(admin_only),
    session: Session = Depends(write_session),
) -> CollectionOut:
    """The box was emptied: record what was counted beside what was recorded."""
    row = cash.collect(session, _device(session, name), body.counted, caller.username or "",
                       body.note)  # fmt: skip
    return collection_out(name, row)


@router.get("/kiosks/{name}/collections", dependencies=[Depends(admin_only)])
def collections(name: str, session: Session = Depends(read_session)) -> list[CollectionOut]:
    """The kiosk's collections, newest first."""
    return [collection_out(name, row) for row in cash.collections(session, _device(session, name))]
