"""Bearer tokens: admin and user sessions, and revocable component tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden import security
from printwarden.domain.accounts import Role
from printwarden.store.changes import change_seq
from printwarden.store.db import utc
from printwarden.store.errors import NotFound
from printwarden.store.models import ApiTokenRow, UserRow

# Tokens a Site Server must recognise while the App Server is unreachable.
REPLICATED_ROLES = frozenset({Role.PROVIDER, Role.DEVICE})


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a valid token belongs to."""

    role: Role
    token_id: int
    user_id: int | None = None
    username: str | None = None
    scope: str = ""
    expires_at: datetime | None = None


def issue_token(
    session: Session,
    role: Role,
    *,
    name: str = "",
    scope: str = "",
    user_id: int | None = None,
    lifetime: timedelta | None = None,
) -> tuple[str, ApiTokenRow]:
    """Create a token; the plain text is returned once and only its hash is kept."""
    token = security.new_token(role.value)
    created = datetime.now(UTC)
    row = ApiTokenRow(
        token_hash=security.token_hash(token),
        role=role.value,
        name=name,
        scope=scope,
        user_id=user_id,
        created_at=created,
        expires_at=created + lifetime if lifetime else None,
        revoked_at=None,
        change_seq=change_seq(session) if role in REPLICATED_ROLES else 0,
    )
    session.add(row)
    session.flush()
    return token, row


def resolve_token(session: Session, token: str) -> Caller | None:
    """The caller a token belongs to, or None if it is unknown, expired or revoked."""
    found = session.execute(
        select(ApiTokenRow, UserRow.username, UserRow.enabled)
        .outerjoin(UserRow, UserRow.id == ApiTokenRow.user_id)
        .where(ApiTokenRow.token_hash == security.token_hash(token))
    ).first()
    if found is None:
        return None
    row, username, user_enabled = found
    if row.revoked_at is not None or _expired(row.expires_at):
        return None
    if row.user_id is not None and not user_enabled:
        return None
    expires_at = _aware(row.expires_at)
    return Caller(Role(row.role), row.id, row.user_id, username, row.scope, expires_at)


def _aware(moment: datetime | None) -> datetime | None:
    return utc(moment) if moment is not None else None


def _expired(expires_at: datetime | None) -> bool:
    expires_at = _aware(expires_at)
    return expires_at is not None and expires_at <= datetime.now(UTC)


def revoke_token(session: Session, token_id: int) -> None:
    row = session.get(ApiTokenRow, token_id)
    if row is None:
        raise NotFound(f"no token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        if Role(row.role) in REPLICATED_ROLES:
            row.change_seq = change_seq(session)


def list_tokens(session: Session) -> list[ApiTokenRow]:
    """Component tokens (not personal sessions), newest first."""
    return list(
        session.scalars(
            select(ApiTokenRow).where(ApiTokenRow.user_id.is_(None)).order_by(ApiTokenRow.id.desc())
        )
    )
