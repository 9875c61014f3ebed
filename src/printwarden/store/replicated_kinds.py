"""The kinds of rows HQ replicates to sites, declared once. The feed (``replication``), the
snapshot (``snapshot``) and the site's replica (``site/replica.py``) all read ``KINDS``, so
adding a kind is one entry here (and, if not every site gets all its rows, a rule in
``replication.SiteScope.where``).

On the wire every row travels as one *entity*, ``{"entity", "seq", "row", **links}``:
``row`` is its columns but ``change_seq`` (``seq``), and each link is the list of the rows
of another table that belong to it (a user's cards, an account's grants), sent whole with
their owner whenever it changes (``Kind.entity``, the one mapper of a row to the wire).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.store.models import (
    AccountGrantRow,
    AccountRow,
    ApiTokenRow,
    Base,
    CardRow,
    DeviceRow,
    GroupRow,
    HeldJobRow,
    MailAddressRow,
    MembershipRow,
    PrinterRow,
    PrintTokenRow,
    ProviderRow,
    ReleaseDelegateRow,
    SettingRow,
    UserRow,
    VoucherBatchRow,
    VoucherRow,
)
from printwarden.store.site_numbers import SiteNumbers

Entity = dict[str, Any]
# ``{link field: {owner id: [wire value, …]}}`` of the rows of one page.
Links = dict[str, dict[int, list[Any]]]
# The filters that select the link rows of the owners ``ids`` (sorted) by their owner column.
Owned = Callable[[Any, list[int]], list[Any]]


class SiteApply(Enum):
    """How the site stores a kind's rows."""

    BULK = "bulk"  # a page's rows and their link rows in a few statements (many rows)
    MERGE = "merge"  # one row at a time, by primary key
    BY_JOB_REF = "job_ref"  # one at a time, by ``job_ref``: one recorded offline has a local id


@dataclass(frozen=True, slots=True)
class OwnedRows:
    """The rows of ``model`` that belong to one owner row (by its column ``owner``), sent as
    the list ``field`` of the owner's entity: each the value of its one column of
    ``columns``, or ``{column: value}`` of several. ``sealed`` (cards): HQ keeps each number
    sealed, a site gets its own hash of it instead (``SiteNumbers.cards``) and no sealed
    number. ``only``: the owners that can have such rows (None: all). ``whole_in_feed``:
    the feed reads them as whole rows, as it always has (a list's order on the wire is the
    order the database's plan gives; a different statement may give another)."""

    field: str
    model: type[Base]
    owner: str
    columns: tuple[str, ...]
    sealed: bool = False
    only: Callable[[Mapping[str, Any]], bool] | None = None
    whole_in_feed: bool = False

    def for_site(self, stored: dict[int, list[Any]], numbers: SiteNumbers) -> dict[int, list[Any]]:
        """``read_stored``'s rows as one site gets them (cards hashed under its key); what
        is given is left as it was (a window's rows serve many sites)."""
        if self.sealed:
            return {key: numbers.cards(pairs) for key, pairs in stored.items()}
        return stored

    def read_stored(
        self, session: Session, ids: list[int], owned: Owned, *, feed: bool
    ) -> dict[int, list[Any]]:
        """``{owner id: [value, …]}`` of the owners ``ids`` (sorted) as HQ stores them
        (cards: ``(hash, sealed)``), for the feed or for a snapshot."""
        table: Any = self.model.__table__
        owner = table.c[self.owner]
        read = (*self.columns, "sealed") if self.sealed else self.columns
        statement = select(owner, *(table.c[name] for name in read))
        if feed and self.whole_in_feed:
            rest = (c for c in table.columns if c.key != self.owner and c.key not in read)
            statement = statement.add_columns(*rest)
        found: dict[int, list[Any]] = {}
        for where in owned(owner, ids):
            self._collect(session.connection().execute(statement.where(where)), found)
        return found

    def _collect(self, rows: Any, found: dict[int, list[Any]]) -> None:
        """Add ``(owner, *values)`` ``rows`` to ``found`` (one loop per shape: a snapshot
        page reads a row per card, membership, … of tens of thousands of users)."""
        if self.sealed:
            for key, hashed, sealed in rows:
                found.setdefault(key, []).append((hashed, sealed))
        elif len(self.columns) == 1:
            for key, value in rows:
                found.setdefault(key, []).append(value)
        else:
            count = len(self.columns)
            for key, *values in rows:
                found.setdefault(key, []).append(
                    dict(zip(self.columns, values[:count], strict=True))
                )

    def site_row(self, owner_id: int, seq: int, value: Any) -> dict[str, Any]:
        """The row the site stores for one wire value of owner ``owner_id``."""
        if len(self.columns) > 1:
            return {self.owner: owner_id, "change_seq": seq, **value}
        row = {self.owner: owner_id, self.columns[0]: value, "change_seq": seq}
        if self.sealed:
            row["sealed"] = None
        return row


@dataclass(frozen=True, slots=True)
class Kind:
    """One replicated kind: its entity name on the wire, its table, its place among one
    change number's entities in the feed (``feed_rank``), how the site stores it, the link
    rows sent with each row, and ``for_site``: what of a row the site may see, if not all."""

    name: str
    model: type[Base]
    feed_rank: int
    apply: SiteApply = SiteApply.MERGE
    links: tuple[OwnedRows, ...] = ()
    for_site: Callable[[SiteNumbers, dict[str, Any]], dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        if self.links and self.apply is not SiteApply.BULK:
            raise ValueError(f"{self.name}: only a kind applied in bulk stores its links")

    def links_of(
        self,
        session: Session,
        rows: list[dict[str, Any]],
        owned: Owned,
        numbers: SiteNumbers,
        *,
        feed: bool,
    ) -> Links:
        """The link rows of ``rows`` (their columns, keys ascending), read at HQ for the feed
        or for a snapshot."""
        return self.site_links(self.stored_links_of(session, rows, owned, feed=feed), numbers)

    def stored_links_of(
        self, session: Session, rows: list[dict[str, Any]], owned: Owned, *, feed: bool
    ) -> Links:
        """``links_of`` as HQ stores them, for any site (``site_links``)."""
        found: Links = {}
        for link in self.links:
            ids = [int(row["id"]) for row in rows if link.only is None or link.only(row)]
            found[link.field] = link.read_stored(session, ids, owned, feed=feed) if ids else {}
        return found

    def site_links(self, stored: Links, numbers: SiteNumbers) -> Links:
        """``stored_links_of``'s rows as one site gets them."""
        return {link.field: link.for_site(stored[link.field], numbers) for link in self.links}

    def entity(self, seq: int, row: dict[str, Any], links: Links, numbers: SiteNumbers) -> Entity:
        """``row`` (its columns but ``change_seq``, which is ``seq``) as its entity on the
        wire, with its link rows from ``links`` (``links_of`` of its page's rows)."""
        if self.for_site is not None:
            row = self.for_site(numbers, row)
        found = {field: by_owner.get(row["id"], []) for field, by_owner in links.items()}
        return {"entity": self.name, "seq": seq, "row": row, **found}


def row_values(row: Any) -> dict[str, Any]:
    """``{column: value}`` of ``row`` but its change number (timestamps as ISO text)."""
    values: dict[str, Any] = {}
    for column in row.__table__.columns:
        if column.key == "change_seq":
            continue
        value = getattr(row, column.key)
        values[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return values


def _shared(row: Mapping[str, Any]) -> bool:
    return bool(row["kind"] == "shared")


CARDS = OwnedRows("cards", CardRow, "user_id", ("card_hash",), sealed=True)
GROUP_IDS = OwnedRows("group_ids", MembershipRow, "user_id", ("group_id",))
MAIL_ADDRESSES = OwnedRows("mail_addresses", MailAddressRow, "user_id", ("address",))
DELEGATE_IDS = OwnedRows("delegate_ids", ReleaseDelegateRow, "owner_id", ("delegate_id",))
GRANTS = OwnedRows(
    "grants",
    AccountGrantRow,
    "account_id",
    ("user_id", "group_id"),
    only=_shared,
    whole_in_feed=True,
)

# In the snapshot's order, which a site's stored cursor names by index: a new kind goes
# last. What a row refers to comes first (the site checks no foreign keys while applying a
# snapshot; the order only keeps its replica tidy as it fills). The feed sends one change
# number's entities by ``feed_rank`` instead (users and accounts right after groups).
KINDS: tuple[Kind, ...] = (
    Kind("group", GroupRow, 0),
    Kind("printer", PrinterRow, 3),
    Kind("device", DeviceRow, 4),
    Kind("provider", ProviderRow, 5),
    Kind("setting", SettingRow, 6),
    Kind(
        "user",
        UserRow,
        1,
        SiteApply.BULK,
        links=(CARDS, GROUP_IDS, DELEGATE_IDS, MAIL_ADDRESSES),
        for_site=SiteNumbers.user_row,
    ),
    Kind("account", AccountRow, 2, SiteApply.BULK, links=(GRANTS,)),
    Kind("held_job", HeldJobRow, 7, SiteApply.BY_JOB_REF),
    Kind("token", ApiTokenRow, 8),
    Kind("print_token", PrintTokenRow, 9),
    # Top-up cards: every site gets every card (a card redeems anywhere, offline too).
    Kind("voucher_batch", VoucherBatchRow, 10),
    Kind("voucher", VoucherRow, 11, SiteApply.BULK),
)
FEED_ORDER: tuple[Kind, ...] = tuple(sorted(KINDS, key=lambda kind: kind.feed_rank))
BY_NAME: dict[str, Kind] = {kind.name: kind for kind in KINDS}
