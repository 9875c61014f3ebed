"""Replication down: the changes a site needs since sequence number N, as whole entities.

An entity (a user with its card hashes — under the site's own key, see ``site_numbers`` —,
groups and delegates; an account with its grants; a printer; a print URL's token hash; …)
is sent whole whenever its row's ``change_seq`` passes N, so a site never has to merge
partial rows and deletions (soft) travel like any change. A page never splits one
sequence number: everything one App Server transaction changed arrives together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from printwarden.store.changes import last_change_seq
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
    PrintTokenRow,
    ProviderRow,
    ReleaseDelegateRow,
    SettingRow,
    UserRow,
)
from printwarden.store.site_numbers import SiteNumbers

Builder = Callable[[Session, "SiteScope", int, int, SiteNumbers], list[dict[str, Any]]]
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
    "print_token",
)


@dataclass(frozen=True, slots=True)
class Page:
    """Entities changed in ``(since, upto]``; ``more`` when later changes exist."""

    upto: int
    more: bool
    entities: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class SiteScope:
    """What of the site-bound data one site receives: printers and devices at the site (or at
    none), the providers serving those printers, their held jobs, the tokens of those
    devices, and the provider tokens bound to the site or to none (hashes only)."""

    site: str
    provider_ids: frozenset[int]
    device_scopes: frozenset[str]

    def where(self, model: Any) -> Any:
        """The rows of ``model`` this site receives (None: all)."""
        if model in (PrinterRow, DeviceRow):
            return or_(model.site == self.site, model.site.is_(None))
        if model is ProviderRow:
            return ProviderRow.id.in_(self.provider_ids)
        if model is HeldJobRow:
            return HeldJobRow.provider_id.in_(self.provider_ids)
        if model is ApiTokenRow:
            providers = and_(
                ApiTokenRow.role == "provider",
                or_(ApiTokenRow.site == self.site, ApiTokenRow.site.is_(None)),
            )
            return or_(providers, ApiTokenRow.scope.in_(self.device_scopes))
        return None


def site_scope(session: Session, site: str) -> SiteScope:
    at_site = or_(PrinterRow.site == site, PrinterRow.site.is_(None))
    printers = set(session.scalars(select(PrinterRow.name).where(at_site)))
    providers = frozenset(
        row.id
        for row in session.scalars(select(ProviderRow))
        if any(p.get("name") in printers for p in row.printers) or not row.printers
    )
    devices = session.scalars(
        select(DeviceRow.name).where(or_(DeviceRow.site == site, DeviceRow.site.is_(None)))
    )
    return SiteScope(site, providers, frozenset(f"device:{name}" for name in devices))


def _sequences(session: Session, scope: SiteScope, since: int) -> list[int]:
    """Every change sequence number after ``since`` of a row this site receives."""
    found: set[int] = set()
    for model in _MODELS:
        statement: Select[int] = select(model.change_seq).where(model.change_seq > since)
        where = scope.where(model)
        if where is not None:
            statement = statement.where(where)
        found.update(session.scalars(statement))
    return sorted(found)


def changes(session: Session, site: str, since: int, limit: int, *, numbers: SiteNumbers) -> Page:
    """The next page of entities for ``site`` after ``since`` (about ``limit`` of them);
    ``numbers`` hashes card and identity numbers under the site's key."""
    # Read first: every change numbered up to ``head`` has committed (numbers are handed out
    # in commit order), so once the site has what concerns it below ``head``, it is at ``head``
    # — changes of other sites' rows must not hold its N back.
    head = last_change_seq(session)
    scope = site_scope(session, site)
    sequences = _sequences(session, scope, since)
    if not sequences:
        return Page(max(since, head), False, [])
    upto = sequences[min(limit, len(sequences)) - 1]
    entities: list[dict[str, Any]] = []
    for build in _BUILDERS:
        entities.extend(build(session, scope, since, upto, numbers))
    numbers.report()
    entities.sort(key=lambda e: (int(e["seq"]), ENTITY_KINDS.index(str(e["entity"]))))
    more = upto < sequences[-1]
    return Page(upto if more else max(upto, head), more, entities)


def _window(model: Any, since: int, upto: int) -> Any:
    return model.change_seq.between(since + 1, upto)


def _values(row: Any) -> dict[str, Any]:
    """``{column: value}`` of ``row`` but its change number (timestamps as ISO text)."""
    values: dict[str, Any] = {}
    for column in row.__table__.columns:
        if column.key == "change_seq":
            continue
        value = getattr(row, column.key)
        values[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return values


def _entity(entity: str, row: Any, **children: Any) -> dict[str, Any]:
    """``{"entity", "seq", "row": {column: value}, **children}``."""
    return {"entity": entity, "seq": row.change_seq, "row": _values(row), **children}


def _plain(entity: str, model: Any) -> Builder:
    def build(
        session: Session, scope: SiteScope, since: int, upto: int, _numbers: SiteNumbers
    ) -> list[dict[str, Any]]:
        statement = select(model).where(_window(model, since, upto))
        where = scope.where(model)
        if where is not None:
            statement = statement.where(where)
        return [_entity(entity, row) for row in session.scalars(statement)]

    return build


def _users(
    session: Session, scope: SiteScope, since: int, upto: int, numbers: SiteNumbers
) -> list[dict[str, Any]]:
    """Users with the site's hashes of their numbers and without HQ's secrets
    (``SiteNumbers.user_row``)."""
    rows = list(session.scalars(select(UserRow).where(_window(UserRow, since, upto))))
    ids = [r.id for r in rows]
    cards = _cards(session, ids)
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
        {
            "entity": "user",
            "seq": r.change_seq,
            "row": numbers.user_row(_values(r)),
            "cards": numbers.cards(cards.get(r.id, [])),
            "group_ids": groups.get(r.id, []),
            "delegate_ids": delegates.get(r.id, []),
        }
        for r in rows
    ]


def _cards(session: Session, ids: Sequence[int]) -> dict[int, list[tuple[str, bytes | None]]]:
    """``{user id: [(HQ's hash, sealed number), …]}``."""
    found: dict[int, list[tuple[str, bytes | None]]] = {}
    statement = select(CardRow.user_id, CardRow.card_hash, CardRow.sealed)
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        for owner, hashed, sealed in session.execute(statement.where(CardRow.user_id.in_(chunk))):
            found.setdefault(owner, []).append((hashed, sealed))
    return found


def _grouped(
    session: Session, statement: Select[Any, Any], key: Any, ids: Sequence[int]
) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {}
    for start in range(0, len(ids), 5000):
        for owner, value in session.execute(statement.where(key.in_(ids[start : start + 5000]))):
            found.setdefault(owner, []).append(value)
    return found


def _accounts(
    session: Session, scope: SiteScope, since: int, upto: int, _numbers: SiteNumbers
) -> list[dict[str, Any]]:
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


_MODELS = (
    GroupRow,
    UserRow,
    AccountRow,
    PrinterRow,
    DeviceRow,
    ProviderRow,
    SettingRow,
    HeldJobRow,
    ApiTokenRow,
    PrintTokenRow,
)
_BUILDERS: tuple[Builder, ...] = (
    _plain("group", GroupRow),
    _users,
    _accounts,
    _plain("printer", PrinterRow),
    _plain("device", DeviceRow),
    _plain("provider", ProviderRow),
    _plain("setting", SettingRow),
    _plain("held_job", HeldJobRow),
    _plain("token", ApiTokenRow),
    _plain("print_token", PrintTokenRow),
)
