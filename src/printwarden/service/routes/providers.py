"""Print Providers register themselves and fetch their orders; administrators see where every
queue is served.

A provider token is bound to one provider (scope ``provider:<name>``) when an administrator
makes it; it registers, fetches orders and reports results for that provider only. A token
made before tokens were bound is bound at its first registration since (see migration 0010).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from printwarden.api.providers import (
    ProviderOrder,
    ProviderOrderResultsIn,
    ProviderOrderResultsOut,
    ProviderOrdersOut,
    ProviderOut,
    ProviderPrinter,
    ProviderQueue,
    ProviderRegisterIn,
    ProviderRegisterOut,
    RefusedPrinter,
)
from printwarden.domain.accounts import Role
from printwarden.service.auth import require
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import admin_only, read_session, write_session
from printwarden.service.state import AppState, app_state
from printwarden.store import held_jobs, providers, tokens
from printwarden.store.errors import AlreadyExists
from printwarden.store.models import ApiTokenRow, HeldJobRow, ProviderRow
from printwarden.store.tokens import PROVIDER_PREFIX, Caller, bound_name

router = APIRouter(tags=["providers"])
registering = require(Role.PROVIDER)
log = logging.getLogger("printwarden.service")


@router.post("/providers/register")
def register(
    body: ProviderRegisterIn,
    caller: Caller = Depends(registering),
    session: Session = Depends(write_session),
    state: AppState = Depends(app_state),
) -> ProviderRegisterOut:
    """A provider announces its queues and printers (at start-up, and again when they change).
    Printers of another site than its token's are refused (listed, not recorded)."""
    token = _token_for(session, state, caller, body.name)
    described = [p.model_dump() for p in body.printers]
    refused = providers.refused_printers(session, token.site, [p["name"] for p in described])
    row, unknown = providers.register(
        session,
        body.name,
        ipp_url=body.ipp_url,
        control_url=body.control_url,
        queues=[q.model_dump() for q in body.queues],
        printers=[p for p in described if p["name"] not in refused],
    )
    return ProviderRegisterOut(
        name=row.name,
        unknown_printers=unknown,
        refused_printers=[RefusedPrinter(name=n, reason=r) for n, r in refused.items()],
    )


def _token_for(session: Session, state: AppState, caller: Caller, name: str) -> ApiTokenRow:
    """The caller's token row, bound to provider ``name`` (403 for a token of another)."""
    bound = bound_name(caller.scope, PROVIDER_PREFIX)
    if bound is None and caller.scope == "":
        if not state.authority.at_hq:  # a Site Server's replica: HQ binds tokens
            detail = "this token is bound to no provider yet; it is bound at the App Server"
            raise Problem(503, "Unavailable while offline", detail)
        try:
            row = tokens.bind_provider(session, caller.token_id, name)
        except AlreadyExists as exc:
            raise Problem(403, "Forbidden", str(exc)) from None
        log.warning("provider token %s bound to provider %r at its registration", row.id, name)
        return row
    if bound != name:
        raise Problem(403, "Forbidden", f"this token is not bound to provider {name!r}")
    found = session.get(ApiTokenRow, caller.token_id)
    assert found is not None
    return found


def _own(caller: Caller, name: str) -> None:
    if bound_name(caller.scope, PROVIDER_PREFIX) != name:
        raise Problem(403, "Forbidden", f"this token is not bound to provider {name!r}")


def own_provider(caller: Caller, session: Session, name: str) -> ProviderRow:
    """The registered provider ``name``, when ``caller``'s token is bound to it (403, 404)."""
    _own(caller, name)
    return _provider(session, name)


def _provider(session: Session, name: str) -> ProviderRow:
    row = providers.find(session, name)
    if row is None:
        raise Problem(404, "Not found", f"provider {name!r} has not registered")
    return row


@router.get("/providers/{name}/orders")
def orders(
    name: str, caller: Caller = Depends(registering), session: Session = Depends(read_session)
) -> ProviderOrdersOut:
    """The orders this provider has not confirmed yet (at most 500, oldest first): fetched
    when the server rings its doorbell, at start-up, and now and then."""
    provider = own_provider(caller, session, name)
    return ProviderOrdersOut(
        orders=[_order(row) for row in held_jobs.pending_orders(session, provider.id)]
    )


def _order(row: HeldJobRow) -> ProviderOrder:
    fields = ProviderOrder.model_fields
    order = {k: v for k, v in row.pending_order.items() if k in fields}
    order.update(order_id=row.order_id, job_ref=row.job_ref, provider_job_id=row.provider_job_id)
    return ProviderOrder.model_validate(order)


@router.post("/providers/{name}/orders/results")
def order_results(
    name: str,
    body: ProviderOrderResultsIn,
    caller: Caller = Depends(registering),
    session: Session = Depends(write_session),
) -> ProviderOrderResultsOut:
    """What the provider did with its orders: a release done stays ``releasing``; a refused
    one is ``held`` again with the reason; a cancel done ends the job ``canceled``."""
    provider = own_provider(caller, session, name)
    results = [held_jobs.OrderResult(**item.model_dump()) for item in body.results]
    return ProviderOrderResultsOut(applied=held_jobs.apply_results(session, provider.id, results))


@router.get("/providers", dependencies=[Depends(admin_only)])
def list_providers(session: Session = Depends(read_session)) -> list[ProviderOut]:
    return [
        ProviderOut(
            name=row.name,
            ipp_url=row.ipp_url,
            control_url=row.control_url,
            queues=[ProviderQueue.model_validate(q) for q in row.queues],
            printers=[ProviderPrinter.model_validate(p) for p in row.printers],
            registered_at=row.registered_at,
            last_seen=row.last_seen,
        )
        for row in providers.list_providers(session)
    ]
