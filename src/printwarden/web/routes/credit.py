"""The portal's Add credit page: redeem a top-up card (its QR code opens this page with
``?code=``), pay online through a gateway and come back to the payment's result, and the
person's refund requests; and asking for a charge back from the Jobs page.

A card redeems through the API's own function, so the form is throttled and logged as the
API is. At a site that is offline, cards still redeem (from the replica, journaled); online
payments and refund requests need the App Server and say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from printwarden.domain import vouchers as codes
from printwarden.payments.config import PaymentsConfig, rules
from printwarden.service import adding_credit, logins
from printwarden.service.client_address import client_address
from printwarden.service.problems import Problem, problem_of
from printwarden.service.throttle import Throttled
from printwarden.store import reports, users
from printwarden.store.db import utc
from printwarden.store.models import PaymentRow, PrintJobRow, RefundRequestRow
from printwarden.usecases import payments, refunds, vouchers
from printwarden.usecases.errors import REFUSALS
from printwarden.web import forms
from printwarden.web.guards import PageContext, WebError, user_form, user_page
from printwarden.web.messages import done
from printwarden.web.templating import CSP

router = APIRouter()
PAGE = adding_credit.RETURN_PATH
JOBS_PAGE = "/web/portal/jobs"
PAY_OFFLINE = (
    "Online payments are unavailable while this site cannot reach the main server; "
    "top-up cards still work."
)
REFUNDS_OFFLINE = (
    "Refund requests need the main server, which this site cannot reach now: ask again "
    "when it is back online."
)
STRIPE_CHECKOUT = "https://checkout.stripe.com"
STOP_WAITING = timedelta(minutes=15)  # a pending payment's page refreshes itself until then
# The refusals the page shows.
SHOWN: tuple[type[Exception], ...] = (Throttled, WebError, Problem, *REFUSALS)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the page says of the last redemption or payment (``waiting``: it refreshes)."""

    notice: str = ""
    error: str = ""
    waiting: bool = False
    status: int = 200


@dataclass(frozen=True, slots=True)
class Options:
    """The online payment form's gateways (name, label), limits and fee."""

    gateways: list[tuple[str, str]]
    min_amount: int
    max_amount: int
    fee: str


@dataclass(frozen=True, slots=True)
class JobRefund:
    """A printed job's charge and its refund request's status ("" while none was asked)."""

    txn_id: str
    status: str


@router.get(PAGE)
async def credit_page(
    ctx: PageContext = Depends(user_page),
    code: str = Query("", max_length=64),
    payment: str = Query("", max_length=40),
    canceled: str = Query("", max_length=1),
) -> Response:
    return await run_in_threadpool(_arrived, ctx, code, payment, bool(canceled))


def _arrived(ctx: PageContext, code: str, payment_id: str, canceled: bool) -> Response:
    outcome = _payment_outcome(ctx, payment_id, canceled) if payment_id else Outcome()
    return _page(ctx, outcome, _shown_code(code))


def _shown_code(code: str) -> str:
    """A card's code as printed (``XXXX-XXXX-…``), or as given when it is none."""
    try:
        return codes.display(code) if code else ""
    except ValueError:
        return code


def _payment_outcome(ctx: PageContext, payment_id: str, canceled: bool) -> Outcome:
    """What became of the person's own payment ``payment_id`` (404 for anyone else's)."""
    with ctx.app.database.read() as session:
        row = session.get(PaymentRow, payment_id)
        if row is None or row.user_id != ctx.session.user_id:
            raise WebError(404, "Not found", "No payment of yours has this id.")
        balance = users.personal_account(session, row.user_id).balance
    if row.status == payments.PAID:
        return Outcome(f"Added {ctx.money(row.amount)} — your balance is {ctx.money(balance)}.")
    if row.status == payments.REVERSED:
        return Outcome(error="This payment was refunded or disputed: its credit was taken back.")
    if canceled or row.status == payments.CANCELED:
        return Outcome("Payment canceled: nothing was charged or added.")
    if utc(row.created_at) + STOP_WAITING < users.now():
        return Outcome("The payment service has not confirmed this payment yet: it is added "
                       "to your balance as soon as it does.")  # fmt: skip
    return Outcome("Waiting for the payment service…", waiting=True)


def _page(ctx: PageContext, outcome: Outcome, code: str = "") -> Response:
    with ctx.app.database.read() as session:
        account = users.personal_account(session, ctx.session.user_id)
        asked = refunds.listed(session, user_id=ctx.session.user_id, limit=50)
    response = ctx.render("portal/credit.html", outcome.status, account=account, code=code,
                          outcome=outcome, options=_options(ctx), refunds=asked)  # fmt: skip
    response.headers["Content-Security-Policy"] = pay_policy(ctx.app.settings.payments)
    return response


def _options(ctx: PageContext) -> Options:
    config = ctx.app.settings.payments
    found = rules(config)
    labels = [(name, config.gateways[name].label or name) for name in ctx.app.gateways]
    return Options(labels, found.min_amount, found.max_amount, _fee(ctx, config))


def _fee(ctx: PageContext, config: PaymentsConfig) -> str:
    parts = [ctx.money(config.fee_fixed)] if config.fee_fixed else []
    if config.fee_basis_points:
        parts.append(f"{Decimal(config.fee_basis_points) / 100:f} % of the amount")
    return f"A fee of {' plus '.join(parts)} is added." if parts else "No fee is added."


def pay_policy(config: PaymentsConfig) -> str:
    """The page's CSP, letting its payment form lead on to the gateways' pages (a browser
    holds the redirect after a form to the form's ``form-action``)."""
    found: set[str] = set()
    for gateway in config.gateways.values():
        if gateway.kind == "stripe":
            found.add(STRIPE_CHECKOUT)
        for url in (gateway.api_base, gateway.pay_url):
            if url:
                parts = urlsplit(url)
                found.add(f"{parts.scheme}://{parts.netloc}")
    return CSP.replace("form-action 'self'", " ".join(["form-action 'self'", *sorted(found)]))


def _refused(exc: Exception) -> Outcome:
    """A refusal as the page shows it."""
    if isinstance(exc, Throttled):
        detail = f"Too many failed attempts: wait {exc.seconds} s before trying again."
        return Outcome(error=detail, status=429)
    if isinstance(exc, vouchers.Mistyped):
        return Outcome(error="This code has a typo: check it against the card.", status=422)
    if isinstance(exc, vouchers.NoSuchCard):
        return Outcome(error="No top-up card has this code.", status=404)
    found = exc if isinstance(exc, WebError | Problem) else problem_of(exc)
    detail = found.detail or found.title
    return Outcome(error=detail[:1].upper() + detail[1:], status=found.status)


@router.post(PAGE + "/redeem")
async def redeem(
    request: Request, posted: tuple[PageContext, FormData] = Depends(user_form)
) -> Response:
    """Redeem a card for the person's own account (the API's throttle and log)."""
    ctx, form = posted
    code = forms.text(form, "code", 64)
    client = logins.address_client(await client_address(request, ctx.app))
    try:
        redeemed = await adding_credit.redeem_for(ctx.app, code, ctx.session.username, client)
    except SHOWN as exc:
        return await run_in_threadpool(_page, ctx, _refused(exc), code)
    notice = f"Added {ctx.money(redeemed.amount)} — your balance is {ctx.money(redeemed.balance)}."
    return await run_in_threadpool(_page, ctx, Outcome(notice))


@router.post(PAGE + "/pay")
async def pay(
    request: Request, posted: tuple[PageContext, FormData] = Depends(user_form)
) -> Response:
    """Start a payment as the API does, and send the person on to the gateway's page."""
    ctx, form = posted
    try:
        if ctx.offline:
            raise WebError(503, "Unavailable while offline", PAY_OFFLINE)
        amount = forms.money(form, "amount", ctx.currency)
        gateway = forms.text(form, "gateway", 32)
        base = adding_credit.return_base(ctx.app, request)
        started = await adding_credit.start_payment(
            ctx.app, gateway, amount, ctx.session.username, base
        )
    except SHOWN as exc:
        return await run_in_threadpool(_page, ctx, _refused(exc))
    return RedirectResponse(started.redirect_url, status_code=303)


@router.post("/web/portal/refunds")
async def ask_refund(posted: tuple[PageContext, FormData] = Depends(user_form)) -> Response:
    """Ask for a printed job's charge back, with a reason."""
    ctx, form = posted
    if ctx.offline:
        raise WebError(503, "Unavailable while offline", REFUNDS_OFFLINE)
    txn_id, reason = forms.text(form, "txn_id", 40), forms.text(form, "reason", 500)
    try:
        await run_in_threadpool(_ask, ctx, txn_id, reason)
    except REFUSALS as exc:
        found = problem_of(exc)
        raise WebError(found.status, found.title, found.detail) from None
    return RedirectResponse(done(JOBS_PAGE, "refund-asked"), status_code=303)


def _ask(ctx: PageContext, txn_id: str, reason: str) -> None:
    with ctx.app.database.session() as session:
        refunds.ask(session, users.find_user(session, ctx.session.username), txn_id, reason)


def job_refunds(session: Session, jobs: Sequence[reports.LoggedJob]) -> dict[int, JobRefund]:
    """Of the charged ``jobs``, by id: the charge and the status of its refund request."""
    charged = [job.id for job in jobs if job.cost > 0]
    if not charged:
        return {}
    found = select(PrintJobRow.id, PrintJobRow.txn_id).where(PrintJobRow.id.in_(charged))
    txns = {job: txn for job, txn in session.execute(found).tuples() if txn}
    asked = select(RefundRequestRow.charge_txn, RefundRequestRow.status).where(
        RefundRequestRow.charge_txn.in_(list(txns.values()))
    )
    statuses = dict(session.execute(asked).tuples().all())
    return {job: JobRefund(txn, statuses.get(txn, "")) for job, txn in txns.items()}
