"""Users, their cards, PINs, passwords, groups and personal accounts."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from printwarden import keys, security
from printwarden.domain.accounts import AccountKind
from printwarden.store import mail_addresses, notices
from printwarden.store.changes import change_seq
from printwarden.store.errors import AlreadyExists, InvalidReference, LastAdministrator, NotFound
from printwarden.store.models import (
    AccountRow,
    CardRow,
    GroupRow,
    MailAddressRow,
    MembershipRow,
    UserRow,
)


@dataclass(slots=True)
class UserChanges:
    """Fields to set on a user; ``None`` leaves a field as it is."""

    full_name: str | None = None
    email: str | None = None
    groups: Sequence[str] | None = None
    cards: Sequence[str] | None = None
    mail_addresses: Sequence[str] | None = None
    identity_number: str | None = None
    pin: str | None = None
    password: str | None = None
    restricted: bool | None = None
    credit_limit: int | None = None
    enabled: bool | None = None
    is_admin: bool | None = None
    source: str | None = None


@dataclass(slots=True)
class UserView:
    """A user with what the API shows of them."""

    row: UserRow
    account: AccountRow
    groups: list[str] = field(default_factory=list)
    card_count: int = 0


def now() -> datetime:
    return datetime.now(UTC)


def find_user(session: Session, username: str) -> UserRow:
    row = session.scalar(
        select(UserRow).where(UserRow.username == username, UserRow.deleted_at.is_(None))
    )
    if row is None:
        raise NotFound(f"no user named {username!r}")
    return row


def personal_account(session: Session, user_id: int) -> AccountRow:
    return session.scalars(select(AccountRow).where(AccountRow.owner_id == user_id)).one()


def create_user(session: Session, key: bytes, username: str, changes: UserChanges) -> UserRow:
    """Create a user and their personal account. A deleted user of that name is revived.

    ``key`` (here and in every write below) is HQ's secret: card and identity numbers are
    stored as its keyed hash, for lookups, and sealed under a key derived from it, so that
    HQ can hash them again under each site's own key (``keys``)."""
    existing = session.scalar(select(UserRow).where(UserRow.username == username))
    if existing is not None and existing.deleted_at is None:
        raise AlreadyExists(f"a user named {username!r} exists already")
    seq = change_seq(session)
    row = existing or UserRow(username=username, created_at=now())
    _reset(row, seq)
    if existing is None:
        session.add(row)
        session.flush()
        session.add(_new_personal_account(row, seq))
    else:
        _revive_account(personal_account(session, row.id), seq)
    session.flush()
    update_user(session, key, row, changes)
    return row


def _reset(row: UserRow, seq: int) -> None:
    row.full_name, row.email, row.is_admin, row.enabled = "", "", False, True
    row.source, row.identity_hash, row.pin_hash, row.password_hash = "internal", None, None, None
    row.identity_sealed, row.password_stamp = None, None
    row.deleted_at, row.updated_at, row.change_seq = None, now(), seq


def _new_personal_account(user: UserRow, seq: int) -> AccountRow:
    return AccountRow(
        kind=AccountKind.PERSONAL.value,
        name=user.username,
        owner_id=user.id,
        balance=0,
        restricted=True,
        credit_limit=0,
        enabled=True,
        comment="",
        change_seq=seq,
    )


def _revive_account(account: AccountRow, seq: int) -> None:
    account.deleted_at, account.enabled, account.change_seq = None, True, seq


def update_user(session: Session, key: bytes, row: UserRow, changes: UserChanges) -> None:
    """Apply ``changes`` to ``row``; cards and groups are replaced as a whole. Demoting or
    disabling the last administrator raises LastAdministrator."""
    if changes.is_admin is False or changes.enabled is False:
        keep_an_administrator(session, row, "demoted" if changes.is_admin is False else "disabled")
        notices.publish(session, notices.FORGET_USER, str(row.id))  # their sessions' role or end
    seq = change_seq(session)
    _set_profile(row, changes)
    _set_secrets(session, key, row, changes)
    if changes.cards is not None:
        replace_cards(session, key, row, changes.cards)
    if changes.groups is not None:
        replace_groups(session, row, changes.groups)
    if changes.mail_addresses is not None:
        mail_addresses.replace(session, row, changes.mail_addresses)
    if changes.restricted is not None or changes.credit_limit is not None:
        _set_credit(personal_account(session, row.id), changes, seq)
    row.updated_at, row.change_seq = now(), seq


def _set_profile(row: UserRow, changes: UserChanges) -> None:
    for name in ("full_name", "email", "enabled", "is_admin", "source"):
        value = getattr(changes, name)
        if value is not None:
            setattr(row, name, value)


def _set_secrets(session: Session, key: bytes, row: UserRow, changes: UserChanges) -> None:
    if changes.pin is not None:
        row.pin_hash = security.hash_secret(changes.pin) if changes.pin else None
    if changes.password is not None:
        row.password_hash = security.hash_secret(changes.password) if changes.password else None
        row.password_stamp = secrets.token_hex(8) if changes.password else None
    if changes.identity_number is not None:
        _set_identity(session, key, row, changes.identity_number)


def _set_identity(session: Session, key: bytes, row: UserRow, number: str) -> None:
    if not number.strip():
        row.identity_hash = row.identity_sealed = None
        return
    hashed = security.identity_hash(key, number)
    holder = session.scalar(select(UserRow.id).where(UserRow.identity_hash == hashed))
    if holder is not None and holder != row.id:
        raise AlreadyExists("that identity number belongs to another user")
    row.identity_hash = hashed
    row.identity_sealed = keys.seal(key, keys.IDENTITY, hashed, number.strip())


def _set_credit(account: AccountRow, changes: UserChanges, seq: int) -> None:
    if changes.restricted is not None:
        account.restricted = changes.restricted
    if changes.credit_limit is not None:
        account.credit_limit = changes.credit_limit
    account.change_seq = seq


def replace_cards(session: Session, key: bytes, row: UserRow, cards: Iterable[str]) -> None:
    """Give the user exactly these cards. A card held by another user is an error."""
    numbers = {security.normalize_card(card) for card in cards if card.strip()}
    hashes = {security.card_hash(key, number): number for number in numbers}
    if hashes:
        others = CardRow.user_id != row.id
        taken = session.scalar(
            select(CardRow.user_id).where(CardRow.card_hash.in_(list(hashes)), others)
        )
        if taken is not None:
            raise AlreadyExists(f"a card of {row.username!r} belongs to another user")
    session.execute(delete(CardRow).where(CardRow.user_id == row.id))
    session.execute(delete(MailAddressRow).where(MailAddressRow.user_id == row.id))
    seq = change_seq(session)
    row.change_seq = seq  # a site replaces the user's cards with the user
    session.add_all(
        CardRow(card_hash=h, user_id=row.id, change_seq=seq, sealed=keys.seal(key, keys.CARD, h, n))
        for h, n in sorted(hashes.items())
    )


def replace_groups(session: Session, row: UserRow, names: Iterable[str]) -> None:
    """Make the user a member of exactly these groups (which must exist)."""
    wanted = {name.strip() for name in names if name.strip()}
    groups = session.scalars(
        select(GroupRow).where(GroupRow.name.in_(wanted), GroupRow.deleted_at.is_(None))
    ).all()
    missing = wanted - {g.name for g in groups}
    if missing:
        raise InvalidReference(f"no group named {sorted(missing)[0]!r}")
    session.execute(delete(MembershipRow).where(MembershipRow.user_id == row.id))
    seq = change_seq(session)
    row.change_seq = seq
    session.add_all(MembershipRow(user_id=row.id, group_id=g.id, change_seq=seq) for g in groups)


def keep_an_administrator(session: Session, row: UserRow, what: str) -> None:
    """Refuse (LastAdministrator) to let ``row`` stop administering when it is the only
    enabled administrator. The administrators' rows are locked (in id order, so two admins
    demoting each other at once cannot both pass, nor deadlock); SQLite's writers are
    serialized anyway."""
    admins = session.scalars(
        select(UserRow.id)
        .where(UserRow.is_admin.is_(True), UserRow.enabled.is_(True), UserRow.deleted_at.is_(None))
        .order_by(UserRow.id)
        .with_for_update()
    ).all()
    if list(admins) == [row.id]:
        raise LastAdministrator(
            f"{row.username} is the last administrator and cannot be {what}: "
            "make another user an administrator first"
        )


def delete_user(session: Session, row: UserRow) -> None:
    """Delete a user: their secrets and cards go, their ledger stays for the record. The last
    administrator cannot be deleted (LastAdministrator)."""
    keep_an_administrator(session, row, "deleted")
    notices.publish(session, notices.FORGET_USER, str(row.id))
    seq = change_seq(session)
    session.execute(delete(CardRow).where(CardRow.user_id == row.id))
    session.execute(delete(MembershipRow).where(MembershipRow.user_id == row.id))
    row.pin_hash = row.password_hash = row.identity_hash = row.password_stamp = None
    row.identity_sealed = None
    row.enabled, row.deleted_at, row.change_seq = False, now(), seq
    account = personal_account(session, row.id)
    account.enabled, account.deleted_at, account.change_seq = False, now(), seq


def group_names(session: Session, user_ids: Sequence[int]) -> dict[int, list[str]]:
    rows = session.execute(
        select(MembershipRow.user_id, GroupRow.name)
        .join(GroupRow, GroupRow.id == MembershipRow.group_id)
        .where(MembershipRow.user_id.in_(user_ids))
        .order_by(GroupRow.name)
    )
    found: dict[int, list[str]] = {uid: [] for uid in user_ids}
    for user_id, name in rows:
        found[user_id].append(name)
    return found


def groups_of(session: Session, user_id: int) -> frozenset[str]:
    """The names of the groups one user is in."""
    return frozenset(group_names(session, [user_id])[user_id])


def card_counts(session: Session, user_ids: Sequence[int]) -> dict[int, int]:
    rows = session.execute(
        select(CardRow.user_id, func.count())
        .where(CardRow.user_id.in_(user_ids))
        .group_by(CardRow.user_id)
    )
    return {user_id: int(count) for user_id, count in rows}


def views(session: Session, rows: Sequence[UserRow]) -> list[UserView]:
    """Users with their personal accounts, groups and card counts, in few queries."""
    ids = [row.id for row in rows]
    accounts = {
        a.owner_id: a
        for a in session.scalars(select(AccountRow).where(AccountRow.owner_id.in_(ids)))
    }
    groups = group_names(session, ids)
    cards = card_counts(session, ids)
    return [UserView(r, accounts[r.id], groups[r.id], cards.get(r.id, 0)) for r in rows]


def list_users(
    session: Session, *, offset: int = 0, limit: int = 100, search: str = ""
) -> tuple[list[UserView], int]:
    """A page of users ordered by username, and the total count."""
    query = select(UserRow).where(UserRow.deleted_at.is_(None))
    if search:
        pattern = "%" + _escape_like(search.lower()) + "%"
        query = query.where(
            func.lower(UserRow.username).like(pattern, escape="\\")
            | func.lower(UserRow.full_name).like(pattern, escape="\\")
        )
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(UserRow.username).offset(offset).limit(limit)).all()
    return views(session, rows), int(total)


def search_users(
    session: Session, search: str, *, offset: int = 0, limit: int = 50
) -> tuple[list[UserView], bool]:
    """A page of users whose username or full name contains ``search``, and whether more
    follow. Unlike :func:`list_users` it does not count every match (a second scan)."""
    pattern = "%" + _escape_like(search.lower()) + "%"
    query = select(UserRow).where(
        UserRow.deleted_at.is_(None),
        func.lower(UserRow.username).like(pattern, escape="\\")
        | func.lower(UserRow.full_name).like(pattern, escape="\\"),
    )
    rows = session.scalars(query.order_by(UserRow.username).offset(offset).limit(limit + 1)).all()
    return views(session, rows[:limit]), len(rows) > limit


def _escape_like(text: str) -> str:
    """Make ``%`` and ``_`` in a search match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def user_by_card(session: Session, key: bytes, card_number: str) -> UserRow | None:
    hashed = security.card_hash(key, card_number)
    return session.scalar(
        select(UserRow)
        .join(CardRow, CardRow.user_id == UserRow.id)
        .where(CardRow.card_hash == hashed, UserRow.deleted_at.is_(None))
    )


def user_by_identity(session: Session, key: bytes, identity_number: str) -> UserRow | None:
    hashed = security.identity_hash(key, identity_number)
    return session.scalar(
        select(UserRow).where(UserRow.identity_hash == hashed, UserRow.deleted_at.is_(None))
    )


def username_of(session: Session, user_id: int) -> str:
    """The username of ``user_id`` ("" if there is none)."""
    found = session.scalar(select(UserRow.username).where(UserRow.id == user_id))
    return found or ""
