"""Adding credit, one way for the API and the portal alike: redeem a top-up card (failed
attempts throttled per person and per client, and logged) and start an online payment (its
pending row first, then the gateway asked outside any database transaction).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from printwarden.domain.ledger import APP_ORIGIN
from printwarden.domain.payments import Gateway, GatewayUnavailable, PaymentStart
from printwarden.payments.config import rules
from printwarden.service.problems import Problem
from printwarden.service.state import AppState
from printwarden.service.throttle import Keys
from printwarden.store import users
from printwarden.store.models import PaymentRow, UserRow
from printwarden.usecases import payments, vouchers

log = logging.getLogger("printwarden.payments")
GUESSES = (vouchers.NoSuchCard, vouchers.Mistyped)  # what counts as a failed attempt
OFFLINE = "online payments need the Application Server, which this site cannot reach now"
RETURN_PATH = "/web/portal/credit"


async def redeem_for(state: AppState, code: str, username: str, client: str) -> vouchers.Redeemed:
    """Redeem ``code`` for ``username`` (throttled per person and client; failures logged)."""
    throttle = state.redemptions
    attempt = await throttle.run(throttle.begin, Keys(f"redeem:{username}", client))
    try:
        done = await run_in_threadpool(_redeem, state, code, username)
    except GUESSES as exc:
        await throttle.run(attempt.failed)
        log.warning("top-up card refused for %s from %s: %s", username, client, exc)
        raise
    except BaseException:
        await throttle.run(attempt.abandoned)
        raise
    await throttle.run(attempt.succeeded)
    log.info("top-up card of batch %s redeemed by %s", done.batch_id, username)
    return done


def _redeem(state: AppState, code: str, username: str) -> vouchers.Redeemed:
    origin = APP_ORIGIN if state.authority.at_hq else state.issuer
    with state.database.session() as session:
        user: UserRow = users.find_user(session, username)
        if not user.enabled:
            raise Problem(403, "Forbidden", "this account is disabled")
        return vouchers.redeem(session, state.voucher_key, code, user, origin)


def return_base(state: AppState, request: Request) -> str:
    """Where the gateway sends people back to: ``public_url``, else the address asked."""
    return state.settings.payments.public_url or str(request.base_url).rstrip("/")


@dataclass(frozen=True, slots=True)
class Started:
    """A pending payment, its payer's username, and the gateway's page to pay it at."""

    payment: PaymentRow
    username: str
    redirect_url: str


async def start_payment(
    state: AppState, gateway_name: str, amount: int, username: str, base: str
) -> Started:
    """Begin ``username``'s payment of ``amount`` through ``gateway_name``; the gateway
    sends them back to ``base`` + the portal's Add credit page."""
    gateway = state.gateways.get(gateway_name)
    if gateway is None:
        raise Problem(422, "Invalid request", f"no payment gateway {gateway_name!r}")
    row, username = await run_in_threadpool(_begin, state, gateway_name, amount, username)
    start = PaymentStart(
        payment_id=row.id, amount=row.amount + row.fee, currency=row.currency, username=username,
        description=f"Print credit for {username}",
        return_url=f"{base}{RETURN_PATH}?payment={row.id}",
        cancel_url=f"{base}{RETURN_PATH}?payment={row.id}&canceled=1",
    )  # fmt: skip
    redirect_url = await run_in_threadpool(_start, state, gateway, start)
    return Started(row, username, redirect_url)


def _begin(state: AppState, gateway: str, amount: int, username: str) -> tuple[PaymentRow, str]:
    with state.database.session() as session:
        user = users.find_user(session, username)
        found = rules(state.settings.payments)
        row = payments.begin(session, found, gateway, user, amount, state.currency.code)
        return row, user.username


def _start(state: AppState, gateway: Gateway, start: PaymentStart) -> str:
    """Ask the gateway for its page (outside any database transaction)."""
    try:
        started = gateway.start(start)
    except GatewayUnavailable as exc:
        log.warning("payment %s: %s could not start it: %s", start.payment_id, gateway.name, exc)
        with state.database.session() as session:
            payments.canceled(session, start.payment_id)
        raise Problem(503, "Payment gateway unavailable", str(exc)) from None
    with state.database.session() as session:
        payments.started(session, start.payment_id, started.payment_ref)
    return started.redirect_url
