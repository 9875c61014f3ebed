"""Top-up cards over the API: administrators make and withdraw batches; people redeem a
card in the portal, at a device or at a kiosk (a device session), online or at an offline
site (from the replica; the site journals the redemption).

A failed redemption — a code no card has, or a typo — counts against the person and the
client trying (the throttle every login uses, its own counts), and is logged.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from printwarden.api.payments import (
    BatchCreatedOut,
    BatchIn,
    BatchOut,
    ExpiredOut,
    RedeemedOut,
    RedeemIn,
)
from printwarden.domain import vouchers as codes
from printwarden.domain.accounts import Role
from printwarden.domain.functions import Function
from printwarden.payments import voucher_export
from printwarden.service import logins
from printwarden.service.adding_credit import redeem_for
from printwarden.service.auth import require
from printwarden.service.client_address import client_address
from printwarden.service.offline_functions import serves
from printwarden.service.routes.deps import admin_only, read_session
from printwarden.service.routes.device import device_name, live_session
from printwarden.service.state import AppState, app_state
from printwarden.store import vouchers as store
from printwarden.store.models import VoucherBatchRow
from printwarden.store.tokens import Caller
from printwarden.usecases import vouchers
from printwarden.usecases.errors import Invalid

router = APIRouter(tags=["top-up cards"])
REDEEM_PATH = "/web/portal/credit"
CSV_TYPE = "text/csv; charset=utf-8"


def batch_out(row: VoucherBatchRow, redeemed: int = 0) -> BatchOut:
    until = row.valid_until.date() if row.valid_until is not None else None
    return BatchOut(
        batch_id=row.batch_id, value=row.value, currency=row.currency, valid_until=until,
        count=row.count, redeemed=redeemed, created_by=row.created_by,
        created_at=row.created_at, expired_at=row.expired_at,
    )  # fmt: skip


@router.post(
    "/topup-cards/batches",
    status_code=201,
    responses={200: {"content": {"text/csv": {}, "application/pdf": {}, "application/zip": {}}}},
)
async def create_batch(
    body: BatchIn,
    request: Request,
    export: str = Query("json", alias="format", pattern="^(json|csv|pdf|zip)$"),
    caller: Caller = Depends(admin_only),
    state: AppState = Depends(app_state),
) -> Response:
    """Make a batch of top-up cards. Its codes are in this answer only (JSON, or the
    printable ``format=pdf`` with QR codes, ``csv``, or ``zip`` of both): never again."""
    batch = _batch(body, state.currency.code)
    made = await run_in_threadpool(_generate, state, batch, caller.username or "")
    out = BatchCreatedOut(batch=batch_out(made.batch), codes=made.codes)
    if export == "json":
        return Response(out.model_dump_json(), 201, media_type="application/json")
    # The address printed on the cards: the configured one, not the request's Host header.
    base = state.settings.payments.public_url or str(request.base_url).rstrip("/")
    digits = state.currency.minor_digits
    content, media = await run_in_threadpool(
        _exported, export, batch, made.codes, base + REDEEM_PATH, digits
    )
    name = f"topup-cards-{batch.batch_id}.{export}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(content, 201, media_type=media, headers=headers)


def _batch(body: BatchIn, currency: str) -> codes.Batch:
    try:
        return codes.Batch(body.batch_id, body.value, body.currency or currency,
                           body.valid_until, body.count)  # fmt: skip
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def _generate(state: AppState, batch: codes.Batch, by: str) -> vouchers.Generated:
    with state.database.session() as session:
        made = vouchers.generate(
            session, state.voucher_key, batch, currency=state.currency.code, by=by
        )
        session.flush()
        return made


def _exported(
    export: str, batch: codes.Batch, made: list[str], url: str, digits: int
) -> tuple[bytes, str]:
    if export == "csv":
        return voucher_export.to_csv(batch, made, minor_digits=digits).encode(), CSV_TYPE
    if export == "pdf":
        return voucher_export.to_pdf(batch, made, url, minor_digits=digits), "application/pdf"
    return voucher_export.to_zip(batch, made, url, minor_digits=digits), "application/zip"


@router.get("/topup-cards/batches", dependencies=[Depends(admin_only)])
def list_batches(session: Session = Depends(read_session)) -> list[BatchOut]:
    """Every batch, newest first, with how many of its cards were redeemed."""
    return [batch_out(row, redeemed) for row, redeemed in store.batches(session)]


@router.post("/topup-cards/batches/{batch_id}/expire", dependencies=[Depends(admin_only)])
def expire_batch(batch_id: str, state: AppState = Depends(app_state)) -> ExpiredOut:
    """Withdraw the batch: its cards not yet redeemed no longer redeem."""
    with state.database.session() as session:
        return ExpiredOut(expired=vouchers.expire(session, batch_id))


@router.post(
    "/me/topup-cards/redeem",
    dependencies=[serves(Function.PAYMENT_GATEWAYS_KIOSKS)],
    responses={422: {"description": "not a code, or mistyped"}, 429: {"description": "throttled"}},
)
async def redeem_mine(
    body: RedeemIn,
    request: Request,
    caller: Caller = Depends(require(Role.USER)),
    state: AppState = Depends(app_state),
) -> RedeemedOut:
    """Redeem a top-up card for your own account."""
    client = logins.address_client(await client_address(request, state))
    return redeemed_out(await redeem_for(state, body.code, caller.username or "", client))


@router.post(
    "/device/sessions/{session_id}/topup-cards/redeem",
    dependencies=[serves(Function.PAYMENT_GATEWAYS_KIOSKS)],
    responses={422: {"description": "not a code, or mistyped"}, 429: {"description": "throttled"}},
)
async def redeem_at_device(
    session_id: str,
    body: RedeemIn,
    name: str = Depends(device_name),
    state: AppState = Depends(app_state),
) -> RedeemedOut:
    """Redeem a top-up card for the person logged in at this device."""
    username = await run_in_threadpool(_session_user, state, name, session_id)
    return redeemed_out(await redeem_for(state, body.code, username, logins.device_client(name)))


def _session_user(state: AppState, name: str, session_id: str) -> str:
    with state.database.session() as session:
        return live_session(session, name, session_id).user.username


def redeemed_out(done: vouchers.Redeemed) -> RedeemedOut:
    return RedeemedOut(amount=done.amount, balance=done.balance, batch_id=done.batch_id)
