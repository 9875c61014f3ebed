"""Shared accounts (with sub-accounts and grants) and the domain view of any account."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from printwarden import security
from printwarden.domain.accounts import Account, AccountKind
from printwarden.store.changes import change_seq
from printwarden.store.errors import AlreadyExists, InvalidReference, NotFound
from printwarden.store.models import AccountGrantRow, AccountRow, GroupRow, UserRow
from printwarden.store.users import group_names, now

MAX_DEPTH = 8


@dataclass(slots=True)
class SharedAccountChanges:
    """Fields to set on a shared account; ``None`` leaves a field as it is."""

    parent: str | None = None
    restricted: bool | None = None
    credit_limit: int | None = None
    enabled: bool | None = None
    code: str | None = None
    pin: str | None = None
    comment: str | None = None
    users: list[str] | None = None
    groups: list[str] | None = None


def find_account(session: Session, account_id: int) -> AccountRow:
    row = session.get(AccountRow, account_id)
    if row is None or row.deleted_at is not None:
        raise NotFound(f"no account with id {account_id}")
    return row


def find_shared(session: Session, name: str) -> AccountRow:
    row = session.scalar(
        select(AccountRow).where(
            AccountRow.kind == AccountKind.SHARED.value,
            AccountRow.name == name,
            AccountRow.deleted_at.is_(None),
        )
    )
    if row is None:
        raise NotFound(f"no shared account named {name!r}")
    return row


def find_by_code(session: Session, code: str) -> AccountRow:
    row = session.scalar(
        select(AccountRow).where(AccountRow.code == code, AccountRow.deleted_at.is_(None))
    )
    if row is None:
        raise NotFound(f"no account with code {code!r}")
    return row


def create_shared(session: Session, name: str, changes: SharedAccountChanges) -> AccountRow:
    existing = session.scalar(
        select(AccountRow).where(
            AccountRow.kind == AccountKind.SHARED.value, AccountRow.name == name
        )
    )
    if existing is not None and existing.deleted_at is None:
        raise AlreadyExists(f"a shared account named {name!r} exists already")
    row = existing or AccountRow(kind=AccountKind.SHARED.value, name=name, balance=0)
    row.deleted_at, row.enabled, row.restricted, row.credit_limit = None, True, True, 0
    row.comment, row.change_seq = "", change_seq(session)
    if existing is None:
        session.add(row)
    session.flush()
    update_shared(session, row, changes)
    return row


def update_shared(session: Session, row: AccountRow, changes: SharedAccountChanges) -> None:
    seq = change_seq(session)
    if changes.parent is not None:
        row.parent_id = _parent_id(session, row, changes.parent)
    for name in ("restricted", "credit_limit", "enabled", "comment"):
        value = getattr(changes, name)
        if value is not None:
            setattr(row, name, value)
    if changes.code is not None:
        row.code = _free_code(session, row, changes.code)
    if changes.pin is not None:
        row.pin_hash = security.hash_secret(changes.pin) if changes.pin else None
    if changes.users is not None or changes.groups is not None:
        _replace_grants(session, row, changes, seq)
    row.change_seq = seq


def _parent_id(session: Session, row: AccountRow, parent_name: str) -> int | None:
    if not parent_name:
        return None
    parent = find_shared(session, parent_name)
    cursor: AccountRow | None = parent
    for _ in range(MAX_DEPTH):
        if cursor is None:
            return parent.id
        if cursor.id == row.id:
            raise InvalidReference("an account cannot be its own ancestor")
        cursor = session.get(AccountRow, cursor.parent_id) if cursor.parent_id else None
    raise InvalidReference(f"accounts nest at most {MAX_DEPTH} deep")


def _free_code(session: Session, row: AccountRow, code: str) -> str | None:
    if not code:
        return None
    holder = session.scalar(select(AccountRow.id).where(AccountRow.code == code))
    if holder is not None and holder != row.id:
        raise AlreadyExists(f"account code {code!r} is in use")
    return code


def _replace_grants(
    session: Session, row: AccountRow, changes: SharedAccountChanges, seq: int
) -> None:
    if changes.users is not None:
        wanted = set(changes.users)
        found = select(UserRow.username, UserRow.id).where(
            UserRow.username.in_(wanted), UserRow.deleted_at.is_(None)
        )
        ids = _resolve(session, found, wanted, "user")
        _regrant(session, row, AccountGrantRow.user_id, [{"user_id": i} for i in ids], seq)
    if changes.groups is not None:
        wanted = set(changes.groups)
        found = select(GroupRow.name, GroupRow.id).where(
            GroupRow.name.in_(wanted), GroupRow.deleted_at.is_(None)
        )
        ids = _resolve(session, found, wanted, "group")
        _regrant(session, row, AccountGrantRow.group_id, [{"group_id": i} for i in ids], seq)


def _resolve(
    session: Session, statement: Select[str, int], wanted: set[str], what: str
) -> list[int]:
    found: dict[str, int] = {row[0]: row[1] for row in session.execute(statement)}
    missing = wanted - set(found)
    if missing:
        raise InvalidReference(f"no {what} named {sorted(missing)[0]!r}")
    return sorted(found.values())


def _regrant(
    session: Session,
    row: AccountRow,
    grantee: InstrumentedAttribute[int | None],
    grantees: list[dict[str, int]],
    seq: int,
) -> None:
    session.execute(
        delete(AccountGrantRow).where(AccountGrantRow.account_id == row.id, grantee.is_not(None))
    )
    session.add_all(
        AccountGrantRow(account_id=row.id, change_seq=seq, **grant) for grant in grantees
    )


def delete_shared(session: Session, row: AccountRow) -> None:
    row.deleted_at, row.enabled, row.change_seq = now(), False, change_seq(session)


def list_shared(session: Session) -> list[AccountRow]:
    return list(
        session.scalars(
            select(AccountRow)
            .where(AccountRow.kind == AccountKind.SHARED.value, AccountRow.deleted_at.is_(None))
            .order_by(AccountRow.name)
        )
    )


def grants(session: Session, account: AccountRow) -> tuple[list[str], list[str]]:
    """Usernames and group names granted this account or any of its ancestors."""
    chain = _ancestry(session, account)
    users = session.scalars(
        select(UserRow.username)
        .join(AccountGrantRow, AccountGrantRow.user_id == UserRow.id)
        .where(AccountGrantRow.account_id.in_(chain))
    )
    groups = session.scalars(
        select(GroupRow.name)
        .join(AccountGrantRow, AccountGrantRow.group_id == GroupRow.id)
        .where(AccountGrantRow.account_id.in_(chain))
    )
    return sorted(set(users)), sorted(set(groups))


def granted_shared(session: Session, user: UserRow) -> list[AccountRow]:
    """The enabled shared accounts ``user`` may charge."""
    groups = set(group_names(session, [user.id])[user.id])
    return [
        row
        for row in list_shared(session)
        if row.enabled and _granted(session, row, user.username, groups)
    ]


def _granted(session: Session, account: AccountRow, username: str, groups: set[str]) -> bool:
    granted_users, granted_groups = grants(session, account)
    return username in granted_users or bool(groups & set(granted_groups))


def _ancestry(session: Session, account: AccountRow) -> list[int]:
    chain = [account.id]
    parent_id = account.parent_id
    while parent_id is not None and len(chain) <= MAX_DEPTH:
        chain.append(parent_id)
        parent = session.get(AccountRow, parent_id)
        parent_id = parent.parent_id if parent else None
    return chain


def to_domain(session: Session, row: AccountRow) -> Account:
    """The domain view of an account; sub-accounts inherit their ancestors' grants."""
    user_ids: frozenset[int] = frozenset()
    group_names: frozenset[str] = frozenset()
    if row.kind == AccountKind.SHARED.value:
        chain = _ancestry(session, row)
        grant_rows = session.scalars(
            select(AccountGrantRow).where(AccountGrantRow.account_id.in_(chain))
        ).all()
        user_ids = frozenset(g.user_id for g in grant_rows if g.user_id is not None)
        group_ids = [g.group_id for g in grant_rows if g.group_id is not None]
        names = session.scalars(select(GroupRow.name).where(GroupRow.id.in_(group_ids)))
        group_names = frozenset(names)
    return Account(
        id=row.id,
        kind=AccountKind(row.kind),
        name=row.name,
        balance=row.balance,
        restricted=row.restricted,
        credit_limit=row.credit_limit,
        enabled=row.enabled and row.deleted_at is None,
        owner_id=row.owner_id,
        parent_id=row.parent_id,
        user_ids=user_ids,
        group_names=group_names,
    )
