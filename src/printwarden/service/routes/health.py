"""Health check: answers without authentication."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from printwarden import __version__
from printwarden.service import schemas
from printwarden.service.routes.deps import read_session
from printwarden.service.state import AppState, app_state
from printwarden.store.changes import last_change_seq

router = APIRouter(tags=["health"])


@router.get("/health")
def health(
    session: Session = Depends(read_session), state: AppState = Depends(app_state)
) -> schemas.HealthOut:
    """Whether the server and its database answer."""
    return schemas.HealthOut(
        status="ok",
        version=__version__,
        database=state.database.engine.dialect.name,
        change_seq=last_change_seq(session),
    )
