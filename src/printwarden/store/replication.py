"""Replication down: the changes a site needs since sequence number N, as whole entities.

An entity (a user with its card hashes, groups and delegates; an account with its grants; a
printer; …) is sent whole whenever its row's ``change_seq`` passes N, so a site never has to
merge partial rows and deletions (soft) travel like any change. A page never splits one
sequence number: everything one App Server transaction changed arrives together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from printwarden.store.models import (
    AccountGrantRow,
    AccountRow,
    ApiTokenRow,
    CardRow,
    DeviceRow,
    GroupRow,
    HeldJobRow,
    MembershipRow,
    PrinterRow,
    ProviderRow,
    ReleaseDelegateRow,
    SettingRow,
    UserRow,
)

Builder = Callable[[Session, str, int, int], list[dict[str, Any]]]
ENTITY_KINDS = (
    "group",
    "user",
    "account",
    "printer",
    "device",
    "provider",
    "setting",
    "held_job",
    "token",
)


@dataclass(frozen=True, slots=True)
class Page:
    """Entities changed in ``(since, upto]``; ``more`` when later changes exist."""

    upto: int
    more: bool
    entities: list[dict[str, Any]]


def _sequences(session: Session, site: str, since: int) -> list[int]:
    """Every change sequence number after ``since`` of a row this site receives."""
    found: set[int] = set()
    for statement in _seq_queries(site, since):
        found.update(session.scalars(statement))
    return sorted(found)


def _seq_queries(site: str, since: int) -> list[Select[int]]:
    at_site = _at_site(site)
    return [
        select(GroupRow.change_seq).where(GroupRow.change_seq > since),
        select(UserRow.change_seq).where(UserRow.change_seq > since),
        select(AccountRow.change_seq).where(AccountRow.change_seq > since),
        select(PrinterRow.change_seq).where(PrinterRow.change_seq > since, at_site(PrinterRow)),
        select(DeviceRow.change_seq).where(DeviceRow.change_seq > since, at_site(DeviceRow)),
        select(ProviderRow.change_seq).where(ProviderRow.change_seq > since),
        select(SettingRow.change_seq).where(SettingRow.change_seq > since),
        select(HeldJobRow.change_seq).where(HeldJobRow.change_seq > since),
        select(ApiTokenRow.change_seq).where(ApiTokenRow.change_seq > since),
    ]


def _at_site(site: str) -> Callable[[Any], Any]:
    def where(model: Any) -> Any:
        return or_(model.site == site, model.site.is_(None))

    return where


def changes(session: Session, site: str, since: int, limit: int) -> Page:
    """The next page of entities for ``site`` after ``since`` (about ``limit`` of them)."""
    sequences = _sequences(session, site, since)
    if not sequences:
        return Page(since, False, [])
    upto = sequences[min(limit, len(sequences)) - 1]
    entities: list[dict[str, Any]] = []
    for build in _BUILDERS:
        entities.extend(build(session, site, since, upto))
    entities.sort(key=lambda e: (int(e["seq"]), ENTITY_KINDS.index(str(e["entity"]))))
    return Page(upto, upto < sequences[-1], entities)


def _window(model: Any, since: int, upto: int) -> Any:
    return model.change_seq.between(since + 1, upto)


def _entity(entity: str, row: Any, **children: Any) -> dict[str, Any]:
    """``{"entity", "seq", "row": {column: value}, **children}`` (timestamps as ISO text)."""
    values: dict[str, Any] = {}
    for column in row.__table__.columns:
        if column.key == "change_seq":
            continue
        value = getattr(row, column.key)
        values[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return {"entity": entity, "seq": row.change_seq, "row": values, **children}


def _plain(entity: str, model: Any, at_site: bool = False) -> Builder:
    def build(session: Session, site: str, since: int, upto: int) -> list[dict[str, Any]]:
        statement = select(model).where(_window(model, since, upto))
        if at_site:
            statement = statement.where(_at_site(site)(model))
        return [_entity(entity, row) for row in session.scalars(statement)]

    return build


def _users(session: Session, site: str, since: int, upto: int) -> list[dict[str, Any]]:
    rows = list(session.scalars(select(UserRow).where(_window(UserRow, since, upto))))
    ids = [r.id for r in rows]
    cards = _grouped(session, select(CardRow.user_id, CardRow.card_hash), CardRow.user_id, ids)
    groups = _grouped(
        session, select(MembershipRow.user_id, MembershipRow.group_id), MembershipRow.user_id, ids
    )
    delegates = _grouped(
        session,
        select(ReleaseDelegateRow.owner_id, ReleaseDelegateRow.delegate_id),
        ReleaseDelegateRow.owner_id,
        ids,
    )
    return [
        _entity(
            "user",
            r,
            cards=cards.get(r.id, []),
            group_ids=groups.get(r.id, []),
            delegate_ids=delegates.get(r.id, []),
        )
        for r in rows
    ]


def _grouped(
    session: Session, statement: Select[Any, Any], key: Any, ids: Sequence[int]
) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {}
    for start in range(0, len(ids), 5000):
        for owner, value in session.execute(statement.where(key.in_(ids[start : start + 5000]))):
            found.setdefault(owner, []).append(value)
    return found


def _accounts(session: Session, site: str, since: int, upto: int) -> list[dict[str, Any]]:
    rows = list(session.scalars(select(AccountRow).where(_window(AccountRow, since, upto))))
    grants: dict[int, list[dict[str, int | None]]] = {}
    shared = [r.id for r in rows if r.kind == "shared"]
    for start in range(0, len(shared), 5000):
        statement = select(AccountGrantRow).where(
            AccountGrantRow.account_id.in_(shared[start : start + 5000])
        )
        for grant in session.scalars(statement):
            grants.setdefault(grant.account_id, []).append(
                {"user_id": grant.user_id, "group_id": grant.group_id}
            )
    return [_entity("account", r, grants=grants.get(r.id, [])) for r in rows]


_BUILDERS: tuple[Builder, ...] = (
    _plain("group", GroupRow),
    _users,
    _accounts,
    _plain("printer", PrinterRow, at_site=True),
    _plain("device", DeviceRow, at_site=True),
    _plain("provider", ProviderRow),
    _plain("setting", SettingRow),
    _plain("held_job", HeldJobRow),
    _plain("token", ApiTokenRow),
)
