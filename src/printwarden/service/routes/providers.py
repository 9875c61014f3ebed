"""Print Providers register themselves; administrators see where every queue is served."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from printwarden.domain.accounts import Role
from printwarden.service import schemas
from printwarden.service.auth import require
from printwarden.service.routes.deps import admin_only, read_session, write_session
from printwarden.store import providers

router = APIRouter(tags=["providers"])
registering = require(Role.PROVIDER)


@router.post("/providers/register", dependencies=[Depends(registering)])
def register(
    body: schemas.ProviderRegisterIn, session: Session = Depends(write_session)
) -> schemas.ProviderRegisterOut:
    """A provider announces its queues and printers (at start-up, and again when they change)."""
    row, unknown = providers.register(
        session,
        body.name,
        ipp_url=body.ipp_url,
        control_url=body.control_url,
        queues=[q.model_dump() for q in body.queues],
        printers=[p.model_dump() for p in body.printers],
        control_token=body.control_token,
    )
    return schemas.ProviderRegisterOut(name=row.name, unknown_printers=unknown)


@router.get("/providers", dependencies=[Depends(admin_only)])
def list_providers(session: Session = Depends(read_session)) -> list[schemas.ProviderOut]:
    return [
        schemas.ProviderOut(
            name=row.name,
            ipp_url=row.ipp_url,
            control_url=row.control_url,
            queues=[schemas.ProviderQueue.model_validate(q) for q in row.queues],
            printers=[schemas.ProviderPrinter.model_validate(p) for p in row.printers],
            registered_at=row.registered_at,
            last_seen=row.last_seen,
        )
        for row in providers.list_providers(session)
    ]
