"""Component tokens for sites, providers and devices: created, listed and revoked by admins."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from printwarden.api.auth import TokenIn, TokenOut
from printwarden.domain.accounts import Role
from printwarden.service.routes.deps import admin_only, read_session, write_session
from printwarden.store import tokens
from printwarden.store.models import ApiTokenRow

router = APIRouter(tags=["tokens"], dependencies=[Depends(admin_only)])


def _out(row: ApiTokenRow, token: str | None = None) -> TokenOut:
    return TokenOut(
        id=row.id,
        role=row.role,
        name=row.name,
        scope=row.scope,
        site=row.site,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        token=token,
    )


@router.get("/tokens")
def list_tokens(session: Session = Depends(read_session)) -> list[TokenOut]:
    return [_out(row) for row in tokens.list_tokens(session)]


@router.post("/tokens", status_code=201)
def create_token(body: TokenIn, session: Session = Depends(write_session)) -> TokenOut:
    """Create a component token bound to what it acts as (see ``TokenIn``); its text is in
    this response only."""
    role = Role(body.role)
    bound = tokens.binding(session, role, name=body.name, scope=body.scope, site=body.site)
    token, row = tokens.issue_token(
        session, role, name=body.name, scope=bound.scope, site=bound.site
    )
    return _out(row, token)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: int, session: Session = Depends(write_session)) -> Response:
    tokens.revoke_token(session, token_id)
    return Response(status_code=204)
