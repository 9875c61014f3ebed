"""Bringing users in from a source (CSV import, LDAP sync) without needless changes.

A user whose stored data already matches the source is left alone, so a sync does not bump
change sequence numbers (and make every site download the whole directory again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden import security
from printwarden.domain.directory import CsvUser, DirectorySnapshot, DirectoryUser
from printwarden.store import groups as group_store
from printwarden.store import users
from printwarden.store.errors import LastAdministrator, NotFound
from printwarden.store.models import CardRow, UserRow

Progress = Callable[[int, int], None]
log = logging.getLogger("printwarden.directory")


@dataclass(slots=True)
class SyncReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    disabled: int = 0


def import_csv(session: Session, key: bytes, rows: Iterable[CsvUser]) -> SyncReport:
    """Create or update each user of a parsed CSV file (groups are created as needed)."""
    entries = list(rows)
    group_store.ensure_groups(session, {g for r in entries for g in r.groups or ()}, "csv")
    report = SyncReport()
    for entry in entries:
        changes = users.UserChanges(
            full_name=entry.full_name,
            email=entry.email,
            groups=entry.groups,
            cards=entry.cards,
            identity_number=entry.identity_number,
            pin=entry.pin,
            restricted=entry.restricted,
            credit_limit=entry.credit_limit,
        )
        _upsert(session, key, entry.username, changes, report)
    return report


def _upsert(
    session: Session, key: bytes, username: str, changes: users.UserChanges, report: SyncReport
) -> None:
    try:
        row = users.find_user(session, username)
    except NotFound:
        users.create_user(session, key, username, changes)
        report.created += 1
        return
    users.update_user(session, key, row, changes)
    report.updated += 1


def sync_directory(
    session: Session,
    key: bytes,
    snapshot: DirectorySnapshot,
    *,
    source: str = "ldap",
    disable_missing: bool = False,
    progress: Progress | None = None,
) -> SyncReport:
    """Make the stored users of ``source`` match ``snapshot``."""
    names = set(snapshot.groups) | {g for u in snapshot.users for g in u.groups}
    group_store.ensure_groups(session, names, source)
    report = SyncReport()
    total = len(snapshot.users)
    for done, entry in enumerate(snapshot.users, start=1):
        _sync_one(session, key, entry, source, report)
        if progress is not None:
            progress(done, total)
    if disable_missing:
        report.disabled = _disable_missing(session, {u.username for u in snapshot.users}, source)
    return report


def _sync_one(
    session: Session, key: bytes, entry: DirectoryUser, source: str, report: SyncReport
) -> None:
    changes = users.UserChanges(
        full_name=entry.full_name,
        email=entry.email,
        groups=sorted(entry.groups),
        cards=list(entry.cards),
        identity_number=entry.identity_number,
        source=source,
    )
    row = session.scalar(
        select(UserRow).where(UserRow.username == entry.username, UserRow.deleted_at.is_(None))
    )
    if row is None:
        users.create_user(session, key, entry.username, changes)
        report.created += 1
    elif _matches(session, key, row, entry, source):
        report.unchanged += 1
    else:
        users.update_user(session, key, row, changes)
        report.updated += 1


def _matches(session: Session, key: bytes, row: UserRow, entry: DirectoryUser, source: str) -> bool:
    """Whether ``row`` holds what the source says. A number stored before HQ sealed numbers
    (migration 0009) does not match: writing it again seals it, so sites can match it."""
    stored = session.execute(
        select(CardRow.card_hash, CardRow.sealed).where(CardRow.user_id == row.id)
    ).all()
    stored_cards = {card_hash for card_hash, _ in stored}
    sealed = all(s is not None for _, s in stored) and (
        row.identity_hash is None or row.identity_sealed is not None
    )
    wanted_cards = {security.card_hash(key, c) for c in entry.cards if c.strip()}
    wanted_identity = (
        security.identity_hash(key, entry.identity_number)
        if entry.identity_number.strip()
        else None
    )
    return (
        sealed
        and row.full_name == entry.full_name
        and row.email == entry.email
        and row.source == source
        and row.identity_hash == wanted_identity
        and stored_cards == wanted_cards
        and set(users.group_names(session, [row.id])[row.id]) == set(entry.groups)
    )


def _disable_missing(session: Session, present: set[str], source: str) -> int:
    """Disable the users of ``source`` it no longer lists — but never the last enabled
    administrator (kept, and logged: the system would have no one to administer it)."""
    stale = session.scalars(
        select(UserRow).where(
            UserRow.source == source, UserRow.enabled.is_(True), UserRow.deleted_at.is_(None)
        )
    ).all()
    disabled = 0
    for row in stale:
        if row.username not in present:
            try:
                users.update_user(session, b"", row, users.UserChanges(enabled=False))
            except LastAdministrator as exc:
                log.warning("directory sync: %s; kept enabled", exc)
                continue
            disabled += 1
    return disabled
