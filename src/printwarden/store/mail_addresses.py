"""Who an e-mail address belongs to, for Email to Print: the directory's ``users.email``, or an
address in ``mail_addresses`` (added by an administrator, or confirmed by the user)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from printwarden.store.changes import change_seq
from printwarden.store.errors import AlreadyExists
from printwarden.store.models import MailAddressRow, UserRow

MAX_ADDRESSES = 20


def normalize(address: str) -> str:
    """An address as stored and compared: trimmed, lower-case (as mail systems treat them)."""
    return address.strip().lower()


def owner(session: Session, address: str) -> UserRow | None:
    """The enabled user this address belongs to (an added address wins over a directory
    one; two users with one directory address: nobody, it is ambiguous)."""
    wanted = normalize(address)
    if not wanted:
        return None
    added = session.scalar(
        select(UserRow)
        .join(MailAddressRow, MailAddressRow.user_id == UserRow.id)
        .where(MailAddressRow.address == wanted, UserRow.deleted_at.is_(None), UserRow.enabled)
    )
    if added is not None:
        return added
    found = list(
        session.scalars(
            select(UserRow)
            .where(func.lower(UserRow.email) == wanted, UserRow.deleted_at.is_(None))
            .where(UserRow.enabled)
            .limit(2)
        )
    )
    return found[0] if len(found) == 1 else None


def of_user(session: Session, user_id: int) -> list[str]:
    query = select(MailAddressRow.address).where(MailAddressRow.user_id == user_id)
    return sorted(session.scalars(query))


def replace(session: Session, row: UserRow, addresses: Iterable[str]) -> None:
    """Give the user exactly these added addresses; one another user has is an error."""
    wanted = sorted({normalize(a) for a in addresses if normalize(a)})
    if len(wanted) > MAX_ADDRESSES:
        raise ValueError(f"at most {MAX_ADDRESSES} mail addresses per user")
    for address in wanted:
        if "@" not in address or any(ch.isspace() for ch in address):
            raise ValueError(f"{address!r} is not an e-mail address")
    _check_free(session, row, wanted)
    session.execute(delete(MailAddressRow).where(MailAddressRow.user_id == row.id))
    seq = change_seq(session)
    row.change_seq = seq  # a site replaces the user's addresses with the user
    session.add_all(MailAddressRow(address=a, user_id=row.id, change_seq=seq) for a in wanted)


def add(session: Session, row: UserRow, address: str) -> None:
    """Add one address to the user's (kept if they have it already)."""
    current = of_user(session, row.id)
    if normalize(address) not in current:
        replace(session, row, [*current, address])


def _check_free(session: Session, row: UserRow, addresses: list[str]) -> None:
    if not addresses:
        return
    taken = session.scalar(
        select(MailAddressRow.address).where(
            MailAddressRow.address.in_(addresses), MailAddressRow.user_id != row.id
        )
    )
    if taken is not None:
        raise AlreadyExists(f"{taken} is another user's mail address")
