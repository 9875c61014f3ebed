"""People's print URLs: the secret token of ``/ipp/print/<queue>/u/<token>`` on a token-url
queue, for clients that cannot ask for a password. Only the token's SHA-256 is stored (it
carries 256 random bits, as component tokens do); the token itself is shown once. Making and
revoking one is a change (``change_seq``): print URLs replicate to every site, so an offline
Site Server resolves them from its replica (:func:`look_up`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden import security
from printwarden.domain.print_urls import Standing
from printwarden.store.changes import change_seq
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
        change_seq=change_seq(session),
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
    row.revoked_at, row.change_seq = datetime.now(UTC), change_seq(session)


def use(session: Session, token: str) -> Found:
    """:func:`look_up`, and a live token's ``last_used_at`` set."""
    found = look_up(session, token)
    if found.row is not None:
        found.row.last_used_at = datetime.now(UTC)
    return found


@dataclass(frozen=True, slots=True)
class Found:
    """A token's standing; a live one's user and row."""

    standing: Standing
    user: UserRow | None = None
    row: PrintTokenRow | None = None


def look_up(session: Session, token: str) -> Found:
    """What this database knows of ``token``, writing nothing (a Site Server's replica
    answers so: what it would write never reaches HQ)."""
    statement = (
        select(PrintTokenRow, UserRow)
        .join(UserRow, PrintTokenRow.user_id == UserRow.id)
        .where(PrintTokenRow.token_hash == security.token_hash(token))
    )
    found = session.execute(statement).first()
    if found is None:
        return Found(Standing.UNKNOWN)
    row, user = found
    if row.revoked_at is not None or user.deleted_at is not None or not user.enabled:
        return Found(Standing.INVALID)
    return Found(Standing.LIVE, user, row)
