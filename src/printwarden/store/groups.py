"""Groups of users."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from printwarden.store.changes import change_seq
from printwarden.store.errors import AlreadyExists, NotFound
from printwarden.store.models import GroupRow, MembershipRow
from printwarden.store.users import now


def find_group(session: Session, name: str) -> GroupRow:
    row = session.scalar(
        select(GroupRow).where(GroupRow.name == name, GroupRow.deleted_at.is_(None))
    )
    if row is None:
        raise NotFound(f"no group named {name!r}")
    return row


def create_group(session: Session, name: str, source: str = "internal") -> GroupRow:
    """Create a group (reviving a deleted one of that name)."""
    seq = change_seq(session)
    row = session.scalar(select(GroupRow).where(GroupRow.name == name))
    if row is not None and row.deleted_at is None:
        raise AlreadyExists(f"a group named {name!r} exists already")
    if row is None:
        row = GroupRow(name=name)
        session.add(row)
    row.source, row.deleted_at, row.change_seq = source, None, seq
    session.flush()
    return row


def ensure_groups(session: Session, names: set[str], source: str) -> None:
    """Create whichever of ``names`` do not exist yet."""
    existing = set(
        session.scalars(
            select(GroupRow.name).where(GroupRow.name.in_(names), GroupRow.deleted_at.is_(None))
        )
    )
    for name in sorted(names - existing):
        create_group(session, name, source)


def delete_group(session: Session, row: GroupRow) -> None:
    seq = change_seq(session)
    session.query(MembershipRow).filter(MembershipRow.group_id == row.id).delete()
    row.deleted_at, row.change_seq = now(), seq


def list_groups(session: Session) -> list[tuple[GroupRow, int]]:
    """Every group with its member count, by name."""
    counts = (
        select(MembershipRow.group_id, func.count().label("members"))
        .group_by(MembershipRow.group_id)
        .subquery()
    )
    rows = session.execute(
        select(GroupRow, func.coalesce(counts.c.members, 0))
        .outerjoin(counts, counts.c.group_id == GroupRow.id)
        .where(GroupRow.deleted_at.is_(None))
        .order_by(GroupRow.name)
    )
    return [(group, int(members)) for group, members in rows]
