"""People's print URLs: the secret token of ``/ipp/print/<queue>/u/<token>`` on a token-url
queue, for clients that cannot ask for a password. Only the token's SHA-256 is stored (it
carries 256 random bits, as component tokens do); the token itself is shown once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden import security
from printwarden.store.errors import AlreadyExists, NotFound
from printwarden.store.models import PrintTokenRow, UserRow
from printwarden.store.users import find_user

PREFIX = "print"  # tokens look like pw_print_<43 characters>
MAX_PER_USER = 20


@dataclass(frozen=True, slots=True)
class Made:
    row: PrintTokenRow
    token: str  # shown once


def create(session: Session, username: str, label: str = "") -> Made:
    """A new print URL token for ``username`` (at most ``MAX_PER_USER`` live ones)."""
    user = find_user(session, username)
    if len(live(session, username)) >= MAX_PER_USER:
        raise AlreadyExists(f"{username!r} has {MAX_PER_USER} print URLs: revoke one first")
    token = security.new_token(PREFIX)
    row = PrintTokenRow(
        user_id=user.id,
        token_hash=security.token_hash(token),
        label=label[:128],
        created_at=datetime.now(UTC),
    )
    session.add(row)
    session.flush()
    return Made(row, token)


def live(session: Session, username: str) -> list[PrintTokenRow]:
    """``username``'s print URLs that work (oldest first)."""
    user = find_user(session, username)
    statement = (
        select(PrintTokenRow)
        .where(PrintTokenRow.user_id == user.id, PrintTokenRow.revoked_at.is_(None))
        .order_by(PrintTokenRow.id)
    )
    return list(session.scalars(statement))


def revoke(session: Session, username: str, token_id: int) -> None:
    """Stop one of ``username``'s print URLs (a provider stops taking it within its
    ``user_check_seconds``)."""
    user = find_user(session, username)
    row = session.get(PrintTokenRow, token_id)
    if row is None or row.user_id != user.id or row.revoked_at is not None:
        raise NotFound(f"{username!r} has no print URL {token_id}")
    row.revoked_at = datetime.now(UTC)


def owner(session: Session, token: str) -> UserRow | None:
    """The enabled user whose live print URL ``token`` is (None for any other token); the
    token's ``last_used_at`` is set."""
    statement = (
        select(UserRow, PrintTokenRow)
        .join(PrintTokenRow, PrintTokenRow.user_id == UserRow.id)
        .where(
            PrintTokenRow.token_hash == security.token_hash(token),
            PrintTokenRow.revoked_at.is_(None),
            UserRow.deleted_at.is_(None),
            UserRow.enabled.is_(True),
        )
    )
    found = session.execute(statement).first()
    if found is None:
        return None
    user, row = found
    row.last_used_at = datetime.now(UTC)
    return user
