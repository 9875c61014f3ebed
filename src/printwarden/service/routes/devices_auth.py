"""Authenticating a person for a component: card, identity number + PIN, or username + password.

Devices, providers (HTTP Basic on IPP queues) and sites ask ``POST /auth/device``. Every
method is throttled like a login (per account tried and per client: the device, or the end
client's address a provider or site names), and a refusal is always the same answer. A card
is answered only to the device it is swiped at, or to a provider or site whose printers'
devices saw that person log in within ``CARD_SEEN_SECONDS``: no component can ask who a card
it never saw belongs to.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.api.auth import DeviceLoginIn, DeviceLoginOut
from printwarden.directory.errors import DirectoryUnavailable
from printwarden.domain.accounts import Role
from printwarden.service import logins
from printwarden.service.client_address import parse_address
from printwarden.service.logins import CardVisibility
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import authenticating_components
from printwarden.service.state import AppState, app_state
from printwarden.store import accounts, printers, providers, users
from printwarden.store.errors import NotFound
from printwarden.store.models import DeviceRow, DeviceSessionRow, UserRow
from printwarden.store.tokens import DEVICE_PREFIX, PROVIDER_PREFIX, Caller

router = APIRouter(tags=["devices"])

REJECTED = DeviceLoginOut(authenticated=False)
CARD_SEEN_SECONDS = 120


@router.post("/auth/device", responses={429: {"description": "Too many failed attempts"}})
async def device_login(
    body: DeviceLoginIn,
    caller: Caller = Depends(authenticating_components),
    state: AppState = Depends(app_state),
) -> DeviceLoginOut:
    """Who is this? ``authenticated`` is false, and nothing else is said, for an unknown
    card, a wrong secret, a disabled user or a card this component may not look up."""
    client = await run_in_threadpool(_client_of, state, caller, body)
    try:
        user = await logins.person(state, body, client, _card_visibility(caller))
    except DirectoryUnavailable as exc:
        raise Problem(503, "Directory unavailable", str(exc)) from None
    if user is None:
        return REJECTED
    return await run_in_threadpool(_answer, state, user)


def _client_of(state: AppState, caller: Caller, body: DeviceLoginIn) -> str:
    """The client key: a device is its own client (and must allow the method); a provider or
    site names the address of the client it asks for (else the component counts, as does a
    device token bound to no device)."""
    if caller.role is Role.DEVICE and caller.scope.startswith(DEVICE_PREFIX):
        with state.database.read() as session:
            device = _device(session, caller)
        if body.method not in device.login_methods:
            detail = f"{device.name} does not accept {body.method} logins"
            raise Problem(403, "Login method not allowed", detail)
        return logins.device_client(device.name)
    address = parse_address(body.client_address) if body.client_address else None
    if address is not None and caller.role is not Role.DEVICE:
        return logins.address_client(str(address))
    return f"token:{caller.token_id}"


def _device(session: Session, caller: Caller) -> DeviceRow:
    try:
        row = printers.find_device(session, caller.scope[len(DEVICE_PREFIX) :])
    except NotFound:
        raise Problem(403, "Forbidden", "this token's device no longer exists") from None
    if not row.enabled:
        raise Problem(403, "Forbidden", f"device {row.name!r} is disabled")
    return row


def _card_visibility(caller: Caller) -> CardVisibility | None:
    """Who may learn whose a card is: the device it is swiped at (None: no restriction);
    a provider or site only for people just seen at a device of its own printers."""
    if caller.role is Role.DEVICE:
        return None  # the device the card is swiped at (throttled as its client)

    def seen(session: Session, user: UserRow) -> bool:
        devices = _own_devices(session, caller)
        if not devices:
            return False
        since = datetime.now(UTC) - timedelta(seconds=CARD_SEEN_SECONDS)
        query = select(DeviceSessionRow.id).where(
            DeviceSessionRow.user_id == user.id,
            DeviceSessionRow.device_id.in_(devices),
            DeviceSessionRow.created_at >= since,
        )
        return session.scalar(query.limit(1)) is not None

    return seen


def _own_devices(session: Session, caller: Caller) -> list[int]:
    """The devices at a provider's printers (a token bound to ``provider:<name>``) or at a
    site (a site token's scope is its name)."""
    query = select(DeviceRow.id).where(DeviceRow.deleted_at.is_(None))
    if caller.role is Role.SITE and caller.scope:
        return list(session.scalars(query.where(DeviceRow.site == caller.scope)))
    if caller.role is Role.PROVIDER and caller.scope.startswith(PROVIDER_PREFIX):
        return providers.device_ids(session, caller.scope[len(PROVIDER_PREFIX) :])
    return []


def _answer(state: AppState, user: UserRow) -> DeviceLoginOut:
    with state.database.read() as session:
        account = users.personal_account(session, user.id)
        shared = [row.name for row in accounts.granted_shared(session, user)]
    return DeviceLoginOut(
        authenticated=True,
        username=user.username,
        admin=user.is_admin,
        full_name=user.full_name,
        balance=account.balance,
        restricted=account.restricted,
        shared_accounts=shared,
    )
