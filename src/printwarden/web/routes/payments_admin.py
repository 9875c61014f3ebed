"""The administrator's money pages: the payments log (filters, CSV export, the gateways'
events), top-up card batches (made and downloaded at once as a ZIP of a CSV and printable
sheets — their codes are in that download only — and withdrawn), refund requests (approved
or refused in one click) and the cash kiosks' boxes and collections.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from printwarden.domain import vouchers as codes
from printwarden.payments import voucher_export
from printwarden.payments.csv_cells import safe_cell
from printwarden.service import adding_credit
from printwarden.service.problems import problem_of
from printwarden.store import printers
from printwarden.store import vouchers as batches
from printwarden.store.db import utc
from printwarden.store.errors import NotFound
from printwarden.store.models import CashCollectionRow, DeviceRow, PaymentRow, VoucherBatchRow
from printwarden.usecases import cash, payments, refunds, vouchers
from printwarden.usecases.errors import REFUSALS
from printwarden.web import forms
from printwarden.web.guards import PageContext, WebError, admin_form, admin_page
from printwarden.web.messages import done
from printwarden.web.templating import HEADERS

router = APIRouter()
PAYMENTS = "/web/admin/payments"
CARDS = "/web/admin/topup-cards"
REFUNDS = "/web/admin/refunds"
KIOSKS = "/web/admin/kiosks"
STATUSES = ("", payments.PENDING, payments.PAID, payments.REVERSED, payments.CANCELED)
CSV_COLUMNS = ("id", "created_at", "username", "gateway", "amount", "fee", "currency", "status")
CSV_LIMIT = 10_000
# What refuses a batch: its values (the form's, the domain's) and the use case.
BATCH_REFUSALS: tuple[type[Exception], ...] = (ValueError, WebError, *REFUSALS)


# --- the payments log -----------------------------------------------------------------------


def payment_query(
    user: str = Query("", max_length=128),
    gateway: str = Query("", max_length=32),
    status: str = Query("", max_length=16),
    since: str = Query("", max_length=10, alias="from"),
    until: str = Query("", max_length=10, alias="to"),
) -> payments.PaymentQuery:
    """The filters of the page's form; dates are whole UTC days, ``to`` included."""
    if status not in STATUSES:
        raise WebError(422, "Invalid status", f"status is one of {', '.join(STATUSES[1:])}")
    last = _day(until)
    end = last + timedelta(days=1) if last is not None else None
    return payments.PaymentQuery(user.strip(), gateway.strip(), status, _day(since), end)


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        raise WebError(422, "Invalid date", f"{text!r} is not a date (YYYY-MM-DD)") from None


def _day(text: str) -> datetime | None:
    found = _date(text)
    return datetime.combine(found, time(), tzinfo=UTC) if found is not None else None


def _form_values(query: payments.PaymentQuery) -> dict[str, str]:
    until = (query.until - timedelta(days=1)).date().isoformat() if query.until else ""
    since = query.since.date().isoformat() if query.since else ""
    return {"user": query.username, "gateway": query.gateway, "status": query.status,
            "from": since, "to": until}  # fmt: skip


@router.get(PAYMENTS)
async def payments_page(
    ctx: PageContext = Depends(admin_page),
    query: payments.PaymentQuery = Depends(payment_query),
) -> Response:
    return await run_in_threadpool(_payments_page, ctx, query)


def _payments_page(ctx: PageContext, query: payments.PaymentQuery) -> Response:
    with ctx.app.database.read() as session:
        found = payments.search(session, query)
        events = payments.events(session, limit=50)
    fields = _form_values(query)
    return ctx.render("admin/payments.html", payments=found, events=events, form=fields,
                      statuses=STATUSES[1:], query=urlencode(fields))  # fmt: skip


@router.get(PAYMENTS + ".csv")
async def payments_csv(
    ctx: PageContext = Depends(admin_page),
    query: payments.PaymentQuery = Depends(payment_query),
) -> Response:
    """The payments matching the filters, as CSV."""
    body = await run_in_threadpool(_csv, ctx, replace(query, limit=CSV_LIMIT))
    headers = {**HEADERS, "Content-Disposition": 'attachment; filename="payments.csv"'}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


def _csv(ctx: PageContext, query: payments.PaymentQuery) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    with ctx.app.database.read() as session:
        for row, username in payments.search(session, query):
            writer.writerow([safe_cell(cell) for cell in _csv_row(ctx, row, username)])
    return buffer.getvalue()


def _csv_row(ctx: PageContext, row: PaymentRow, username: str) -> list[str]:
    return [row.id, utc(row.created_at).isoformat(), username, row.gateway,
            ctx.amount(row.amount), ctx.amount(row.fee), row.currency, row.status]  # fmt: skip


# --- top-up cards ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatchView:
    """A batch as listed: ``expired`` says why its cards no longer redeem ("" while they do)."""

    row: VoucherBatchRow
    redeemed: int
    expired: str


@router.get(CARDS)
async def cards_page(ctx: PageContext = Depends(admin_page)) -> Response:
    return await run_in_threadpool(_cards_page, ctx)


def _cards_page(ctx: PageContext, error: str = "", status: int = 200) -> Response:
    with ctx.app.database.read() as session:
        found = [BatchView(row, count, _expired(row)) for row, count in batches.batches(session)]
    return ctx.render("admin/topup_cards.html", status, batches=found, error=error,
                      most=codes.MAX_BATCH)  # fmt: skip


def _expired(row: VoucherBatchRow) -> str:
    if row.expired_at is not None:
        return f"withdrawn {utc(row.expired_at):%Y-%m-%d}"
    if row.valid_until is not None and utc(row.valid_until) < datetime.now(UTC):
        return "expired"
    return ""


@router.post(CARDS)
async def make_batch(
    request: Request, posted: tuple[PageContext, FormData] = Depends(admin_form)
) -> Response:
    """Make a batch; its codes are answered once, as a ZIP (CSV and printable PDF)."""
    ctx, form = posted
    try:
        batch = _batch_from(ctx, form)
        made = await run_in_threadpool(_generate, ctx, batch)
    except BATCH_REFUSALS as exc:
        detail, status = _refusal(exc)
        return await run_in_threadpool(_cards_page, ctx, detail, status)
    url = adding_credit.return_base(ctx.app, request) + adding_credit.RETURN_PATH
    content = await run_in_threadpool(_zip, ctx, batch, made.codes, url)
    name = f"topup-cards-{batch.batch_id}.zip"
    headers = {**HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(content, media_type="application/zip", headers=headers)


def _batch_from(ctx: PageContext, form: FormData) -> codes.Batch:
    return codes.Batch(
        batch_id=forms.text(form, "batch_id", 64),
        value=forms.money(form, "value", ctx.currency),
        currency=ctx.currency.code,
        valid_until=_date(forms.text(form, "valid_until", 10)),
        count=forms.number(form, "count", 1, codes.MAX_BATCH),
    )


def _generate(ctx: PageContext, batch: codes.Batch) -> vouchers.Generated:
    with ctx.app.database.session() as session:
        return vouchers.generate(session, ctx.app.voucher_key, batch,
                                 currency=ctx.currency.code, by=ctx.session.username)  # fmt: skip


def _zip(ctx: PageContext, batch: codes.Batch, made: list[str], url: str) -> bytes:
    return voucher_export.to_zip(batch, made, url, minor_digits=ctx.currency.minor_digits)


def _refusal(exc: Exception) -> tuple[str, int]:
    """A refusal's text and status, for the page that shows it."""
    if isinstance(exc, WebError):
        return exc.detail, exc.status
    if isinstance(exc, REFUSALS):
        found = problem_of(exc)
        return found.detail or found.title, found.status
    return str(exc), 422


@router.post(CARDS + "/expire")
async def expire_batch(posted: tuple[PageContext, FormData] = Depends(admin_form)) -> Response:
    """Withdraw a batch: its cards not yet redeemed no longer redeem."""
    ctx, form = posted
    await _refused_as_page(run_in_threadpool(_expire, ctx, forms.text(form, "batch_id", 64)))
    return RedirectResponse(done(CARDS, "batch-expired"), status_code=303)


def _expire(ctx: PageContext, batch_id: str) -> None:
    with ctx.app.database.session() as session:
        vouchers.expire(session, batch_id)


async def _refused_as_page(work: Awaitable[None]) -> None:
    """Await ``work``; a use case's refusal becomes the error page."""
    try:
        await work
    except REFUSALS as exc:
        found = problem_of(exc)
        raise WebError(found.status, found.title, found.detail) from None


# --- refund requests ------------------------------------------------------------------------


@router.get(REFUNDS)
async def refunds_page(ctx: PageContext = Depends(admin_page)) -> Response:
    return await run_in_threadpool(_refunds_page, ctx)


def _refunds_page(ctx: PageContext) -> Response:
    with ctx.app.database.read() as session:
        pending = refunds.listed(session, status=refunds.PENDING)
        decided = [
            (r, n) for r, n in refunds.listed(session, limit=100) if r.status != refunds.PENDING
        ]
    return ctx.render("admin/refunds.html", pending=pending, decided=decided)


@router.post(REFUNDS + "/decide")
async def decide_refund(posted: tuple[PageContext, FormData] = Depends(admin_form)) -> Response:
    """Approve (refund the charge, once) or refuse a pending request, with an answer."""
    ctx, form = posted
    decision = forms.text(form, "decision", 8)
    if decision not in ("approve", "refuse"):
        raise WebError(422, "Invalid input", "Approve or refuse the request.")
    request_id = forms.number(form, "request_id", 1, 2**62)
    answer = forms.text(form, "answer", 500)
    await _refused_as_page(run_in_threadpool(_decide, ctx, request_id, decision, answer))
    code = "refund-approved" if decision == "approve" else "refund-refused"
    return RedirectResponse(done(REFUNDS, code), status_code=303)


def _decide(ctx: PageContext, request_id: int, decision: str, answer: str) -> None:
    with ctx.app.database.session() as session:
        refunds.decide(session, request_id, approve=decision == "approve",
                       by=ctx.session.username, answer=answer)  # fmt: skip


# --- cash kiosks ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KioskView:
    """A kiosk, what its box should hold, and its last collections."""

    device: DeviceRow
    box: cash.CashBox
    collections: list[CashCollectionRow]


@router.get(KIOSKS)
async def kiosks_page(ctx: PageContext = Depends(admin_page)) -> Response:
    return await run_in_threadpool(_kiosks_page, ctx)


def _kiosks_page(ctx: PageContext) -> Response:
    with ctx.app.database.read() as session:
        found = [
            KioskView(device, cash.cash_box(session, device), cash.collections(session, device, 10))
            for device in printers.list_devices(session)
            if device.kind == cash.KIOSK
        ]
    return ctx.render("admin/kiosks.html", kiosks=found)


@router.post(KIOSKS + "/{name}/collections")
async def collect(
    name: str, posted: tuple[PageContext, FormData] = Depends(admin_form)
) -> Response:
    """The box was emptied: record what was counted beside what was recorded."""
    ctx, form = posted
    counted = forms.money(form, "counted", ctx.currency)
    note = forms.text(form, "note", 500)
    await _refused_as_page(run_in_threadpool(_collect, ctx, name, counted, note))
    return RedirectResponse(done(KIOSKS, "cash-collected"), status_code=303)


def _collect(ctx: PageContext, name: str, counted: int, note: str) -> None:
    with ctx.app.database.session() as session:
        cash.collect(session, _kiosk(session, name), counted, ctx.session.username, note)


def _kiosk(session: Session, name: str) -> DeviceRow:
    try:
        device = printers.find_device(session, name)
    except NotFound:
        device = None
    if device is None or device.kind != cash.KIOSK:
        raise WebError(404, "Not found", f"No kiosk is named {name!r}.")
    return device
