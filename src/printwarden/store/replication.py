"""Replication down: the changes a site needs since sequence number N, as whole entities.

An entity (a user with its card hashes — under the site's own key, see ``site_numbers`` —,
groups and delegates; an account with its grants; a printer; a print URL's token hash; …)
is sent whole whenever its row's ``change_seq`` passes N, so a site never has to merge
partial rows and deletions (soft) travel like any change. A page never splits one
sequence number: everything one App Server transaction changed arrives together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from printwarden.store.changes import last_change_seq
from printwarden.store.feed_windows import WINDOWS, Kept, Window
from printwarden.store.models import ApiTokenRow, DeviceRow, HeldJobRow, PrinterRow, ProviderRow
from printwarden.store.replicated_kinds import FEED_ORDER, KINDS, Entity, Kind, row_values
from printwarden.store.site_numbers import SiteNumbers

_RANK = {kind.name: kind.feed_rank for kind in FEED_ORDER}


@dataclass(frozen=True, slots=True)
class Page:
    """Entities changed in ``(since, upto]``; ``more`` when later changes exist."""

    upto: int
    more: bool
    entities: list[Entity]


@dataclass(frozen=True, slots=True)
class SiteScope:
    """What of the site-bound data one site receives: printers and devices at the site (or at
    none), the providers serving those printers, their held jobs, the tokens of those
    devices, the provider tokens bound to the site or to none, and people's sessions opened
    through the site (hashes only)."""

    site: str
    provider_ids: frozenset[int] = frozenset()
    device_scopes: frozenset[str] = frozenset()

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
            # People's sessions opened through this site (for what it answers itself).
            sessions = and_(ApiTokenRow.role == "user", ApiTokenRow.site == self.site)
            clients = ApiTokenRow.role == "client"  # User Clients may be at any site
            return or_(providers, sessions, clients, ApiTokenRow.scope.in_(self.device_scopes))
        return None


# The kinds whose rows only some sites receive (SiteScope.where): only for these must a
# page find out what the site has (three queries).
_SCOPED = {PrinterRow, DeviceRow, ProviderRow, HeldJobRow, ApiTokenRow}


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


class ChangedKinds:
    """Which kinds have rows changed in a window ``(since, head]``, remembered for the last
    few windows: when a change wakes a thousand sites' polls, all caught up to the same
    ``since``, the first to ask finds out and the others skip the kinds that did not change
    (most of them: a new user changes two kinds of twelve). Thread-safe."""

    KEPT = 8

    def __init__(self) -> None:
        self._windows: Kept[tuple[str, int, int], tuple[Kind, ...]] = Kept(self.KEPT)

    def kept(self, url: str, since: int, head: int) -> tuple[Kind, ...] | None:
        """The kinds changed in ``(since, head]`` of the database at ``url``, if known (for
        ``KEEP_SECONDS``: see ``feed_windows``)."""
        found = self._windows.get((url, since, head))
        return found[0] if found is not None else None

    def of(self, session: Session, since: int, head: int) -> tuple[Kind, ...]:
        """The kinds with rows changed in ``(since, head]`` (every change up to ``head`` has
        committed, and no later one is numbered in it: the answer never goes stale)."""
        window = (_url(session), since, head)
        found = self.kept(*window)
        if found is None:
            found = tuple(kind for kind in KINDS if _changed_in(session, kind, since, head))
            self._windows.put(window, found)
        return found


CHANGED_KINDS = ChangedKinds()


def _changed_in(session: Session, kind: Kind, since: int, head: int) -> bool:
    model: Any = kind.model
    window = model.change_seq.between(since + 1, head)
    return session.scalar(select(model.change_seq).where(window).limit(1)) is not None


def _sequences(
    session: Session, scope: SiteScope, since: int, head: int, kinds: tuple[Kind, ...]
) -> list[int]:
    """Every change sequence number in ``(since, head]`` of a row of ``kinds`` this site
    receives."""
    found: set[int] = set()
    for kind in kinds:
        model: Any = kind.model
        statement: Select[int] = select(model.change_seq).where(_window(model, since, head))
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
    # Rows committed after ``head`` wait for the next page: only up to ``head`` is every
    # change known to have committed.
    head = last_change_seq(session)
    kinds = CHANGED_KINDS.of(session, since, head)
    if not kinds:
        return Page(max(since, head), False, [])
    url = _url(session)
    windows = {kind: WINDOWS.read(session, url, kind, since, head, _in_chunks)
               for kind in kinds if kind.model not in _SCOPED}  # fmt: skip
    own = tuple(kind for kind in kinds if windows.get(kind) is None)
    scope = site_scope(session, site) if _SCOPED & {k.model for k in own} else SiteScope(site)
    sequences = set(_sequences(session, scope, since, head, own))
    for window in windows.values():
        if window is not None:
            sequences |= window.sequences()
    return _paged(since, head, limit, sorted(sequences), kinds, numbers, lambda kind, upto:
                  _changed(session, kind, scope, since, upto, numbers), windows)  # fmt: skip


def kept_changes(url: str, since: int, head: int, limit: int, numbers: SiteNumbers) -> Page | None:
    """The page ``changes`` would give after ``since`` with every change up to ``head``
    committed, from kept windows alone (no query); None unless every kind changed in
    ``(since, head]`` is one all sites receive and its window is kept."""
    kinds = CHANGED_KINDS.kept(url, since, head)
    if kinds is None:
        return None
    if not kinds:
        return Page(max(since, head), False, [])
    windows: dict[Kind, Window | None] = {}
    for kind in kinds:
        window = WINDOWS.get(url, kind, since, head) if kind.model not in _SCOPED else None
        if window is None:
            return None
        windows[kind] = window
    sequences = sorted(set().union(*(window.sequences() for window in windows.values() if window)))
    return _paged(since, head, limit, sequences, kinds, numbers, _never, windows)


def _never(kind: Kind, upto: int) -> list[Entity]:
    raise AssertionError(f"{kind.name}: every window is kept")


def _paged(
    since: int,
    head: int,
    limit: int,
    sequences: list[int],
    kinds: tuple[Kind, ...],
    numbers: SiteNumbers,
    read: Callable[[Kind, int], list[Entity]],
    windows: dict[Kind, Window | None],
) -> Page:
    """The page of the first ``limit`` change numbers of ``sequences`` (the site's, in
    ``(since, head]``): each kind's entities from its window if kept, else ``read``."""
    if not sequences:
        return Page(max(since, head), False, [])
    upto = sequences[min(limit, len(sequences)) - 1]
    entities: list[Entity] = []
    for kind in FEED_ORDER:
        if kind in kinds:
            window = windows.get(kind)
            found = read(kind, upto) if window is None else window.entities(kind, upto, numbers)
            entities.extend(found)
    numbers.report()
    entities.sort(key=lambda e: (int(e["seq"]), _RANK[str(e["entity"])]))
    more = upto < sequences[-1]
    return Page(upto if more else max(upto, head), more, entities)


def _url(session: Session) -> str:
    return str(session.get_bind().engine.url)


def _window(model: Any, since: int, upto: int) -> Any:
    return model.change_seq.between(since + 1, upto)


def _changed(
    session: Session, kind: Kind, scope: SiteScope, since: int, upto: int, numbers: SiteNumbers
) -> list[Entity]:
    """The entities of ``kind`` changed in ``(since, upto]`` that ``scope`` receives."""
    model: Any = kind.model
    statement = select(model).where(_window(model, since, upto))
    where = scope.where(model)
    if where is not None:
        statement = statement.where(where)
    rows = [(row.change_seq, row_values(row)) for row in session.scalars(statement)]
    links = kind.links_of(session, [row for _, row in rows], _in_chunks, numbers, feed=True)
    return [kind.entity(seq, row, links, numbers) for seq, row in rows]


def _in_chunks(key: Any, ids: list[int]) -> list[Any]:
    """Filters for the link rows of the owners ``ids``, 5,000 ids each (a change's ids are
    scattered)."""
    return [key.in_(ids[start : start + 5000]) for start in range(0, len(ids), 5000)]
