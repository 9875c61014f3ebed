"""Health check: answers without authentication."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from fastapi.concurrency import run_in_threadpool

from printwarden import __version__
from printwarden.api.health import HealthOut
from printwarden.service.metrics import CONTENT_TYPE, render
from printwarden.service.state import AppState, app_state
from printwarden.store.changes import last_change_seq

router = APIRouter(tags=["health"])
metrics_router = APIRouter(tags=["health"], include_in_schema=False)


@router.get("/health")
async def health(state: AppState = Depends(app_state)) -> HealthOut:
    """Whether the server and its database answer."""
    return await run_in_threadpool(_health, state)


def _health(state: AppState) -> HealthOut:
    with state.database.read() as session:
        change_seq = last_change_seq(session)
    return HealthOut(
        status="ok",
        version=__version__,
        database=state.database.engine.dialect.name,
        change_seq=change_seq,
    )


@metrics_router.get("/metrics")
async def metrics(state: AppState = Depends(app_state)) -> Response:
    """Prometheus: each background service's counters (loops restarted among them)."""
    return Response(render(state.service_counts()), media_type=CONTENT_TYPE)
