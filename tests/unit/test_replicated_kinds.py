"""The registry of replicated kinds (``store/replicated_kinds.py``): every kind declared there
travels from an App Server database (SQLite, in process) to a site's replica — by the feed
and by a snapshot — in the registry's order, and arrives as it was sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic_core import from_json, to_json
from sqlalchemy import select

from printwarden.domain import vouchers
from printwarden.domain.accounts import Role
from printwarden.site.replica import Replica
from printwarden.store import (
    accounts,
    groups,
    held_jobs,
    print_tokens,
    printers,
    replication,
    settings,
    sites,
    snapshot,
    tokens,
    users,
)
from printwarden.store.db import Database
from printwarden.store.migrate import head_revision, upgrade
from printwarden.store.providers import find, register
from printwarden.store.replicated_kinds import BY_NAME, CARDS, FEED_ORDER, KINDS, Kind, SiteApply
from printwarden.store.site_numbers import SiteNumbers
from printwarden.usecases import vouchers as topups

SECRET = b"replicated-kinds-test-secret-" + b"x" * 3
SITE = "north"
# A site's stored snapshot cursor names a kind by its index here: reordering is a change of
# the wire (and of what sites have stored), not a refactoring.
SNAPSHOT_ORDER = ("group", "printer", "device", "provider", "setting", "user", "account",
                  "held_job", "token", "print_token", "voucher_batch", "voucher")  # fmt: skip
# The order of one change number's entities in the feed.
FEED_ORDER_NAMES = ("group", "user", "account", "printer", "device", "provider", "setting",
                    "held_job", "token", "print_token", "voucher_batch", "voucher")  # fmt: skip
# The link rows each entity carries (their names are the wire's).
LINKS = {"user": ["cards", "group_ids", "delegate_ids", "mail_addresses"], "account": ["grants"]}
PRICES = {"grey_simplex": 10, "grey_duplex": 8, "colour_simplex": 50, "colour_duplex": 45}


def test_the_snapshot_and_the_feed_send_kinds_in_the_registry_orders() -> None:
    assert tuple(kind.name for kind in KINDS) == SNAPSHOT_ORDER
    assert tuple(kind.name for kind in FEED_ORDER) == FEED_ORDER_NAMES
    assert sorted(kind.feed_rank for kind in KINDS) == list(range(len(KINDS)))
    assert len(BY_NAME) == len(KINDS)
    assert {kind.name: [link.field for link in kind.links] for kind in KINDS if kind.links} == LINKS


def test_only_a_kind_the_site_applies_in_bulk_has_link_rows() -> None:
    with pytest.raises(ValueError, match="only a kind applied in bulk"):
        Kind("user", KINDS[5].model, 1, SiteApply.MERGE, links=(CARDS,))


def populate(hq: Database) -> None:
    """At least one row of every kind a site ``north`` receives, and one link row of every
    link; several kinds in one change number; rows of another site it must not get."""
    model = {"sizes": {"default": PRICES}}
    names = [f"person{n}" for n in range(4)]
    with hq.session() as session:
        sites.create_site(session, SITE)
        sites.create_site(session, "south")
        groups.ensure_groups(session, {"staff", "students"}, "internal")
    for n, name in enumerate(names):
        with hq.session() as session:
            changes = users.UserChanges(cards=[f"card-{n}", f"alt-{n}"], groups=["staff"],
                                        identity_number=f"ID-{n}",
                                        mail_addresses=[f"{name}@home.example"])  # fmt: skip
            users.create_user(session, SECRET, name, changes)
    with hq.session() as session:
        held_jobs.set_delegates(session, users.find_user(session, names[0]), names[1:3])
        shared = accounts.SharedAccountChanges(users=names[1:3], groups=["students"])
        accounts.create_shared(session, "dept", shared)
    with hq.session() as session:  # one change number, many kinds
        printers.save_printer(session, "here", {"cost_model": model, "site": SITE}, create=True)
        printers.save_printer(session, "there", {"cost_model": model, "site": "south"},
                              create=True)  # fmt: skip
        register(session, "p-here", ipp_url="ipp://x", control_url="", queues=[],
                 printers=[{"name": "here"}])  # fmt: skip
        printers.save_device(session, "d-here", {"kind": "mfd", "printer": "here",
                             "cost_model": {}, "site": SITE}, create=True)  # fmt: skip
        tokens.issue_token(session, Role.DEVICE, name="d-here", scope="device:d-here")
        tokens.issue_token(session, Role.PROVIDER, name="p-here", scope="provider:p-here",
                           site=SITE)  # fmt: skip
        settings.put(session, "offline_policies", {"unknown_users": "deny"})
        users.create_user(session, SECRET, "late", users.UserChanges(cards=["card-late"]))
    now = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
    with hq.session() as session:
        provider = find(session, "p-here")
        assert provider is not None
        fields = {"printer": "here", "document_name": "a.pdf", "pages": 2,
                  "submitted_at": now, "expires_at": now + timedelta(hours=4)}  # fmt: skip
        report = held_jobs.Report("ref-1", 1, "secure", "hold", names[1], fields)
        assert held_jobs.record_reports(session, provider, [report]).refused == []
        print_tokens.create(session, names[2], "phone")
    with hq.session() as session:
        batch = vouchers.Batch("cards-1", 500, "USD", date(2027, 1, 31), 3)
        topups.generate(session, SECRET, batch, currency="USD", by="admin")


@pytest.fixture(scope="module")
def hq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path_factory.mktemp('hq') / 'hq.db'}"
    upgrade(url)
    database = Database(url)
    populate(database)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def replica(tmp_path: Path) -> Iterator[Replica]:
    made = Replica(tmp_path / "replica.db")
    try:
        yield made
    finally:
        made.close()


def numbers() -> SiteNumbers:
    return SiteNumbers(SECRET, SITE, 1)


def pull_changes(hq: Database, replica: Replica) -> list[dict[str, Any]]:
    """Apply the feed since the replica's N, as JSON, as the site gets it; what was sent."""
    sent: list[dict[str, Any]] = []
    while True:
        since = replica.seq()
        with hq.read() as session:
            page = replication.changes(session, SITE, since, 5000, numbers=numbers())
        entities: list[dict[str, Any]] = from_json(to_json(page.entities))
        assert replica.apply(head_revision() or "", since, page.upto, entities)
        sent += entities
        if not page.more:
            return sent


def pull_snapshot(hq: Database, replica: Replica, limit: int) -> list[dict[str, Any]]:
    """Apply a whole snapshot, ``limit`` entities a page, as the site gets it; what was sent."""
    sent: list[dict[str, Any]] = []
    while (cursor := replica.snapshot_cursor()) is not None:
        with hq.read() as session:
            at = snapshot.Cursor(cursor["kind"], cursor["after"])
            page = snapshot.snapshot(session, SITE, cursor["at"], at, limit, numbers=numbers())
        following = (
            None if page.next is None else {"kind": page.next.kind, "after": page.next.after}
        )
        body: dict[str, Any] = from_json(to_json({"at": page.at, "next": following,
                                                  "entities": page.entities}))  # fmt: skip
        assert replica.apply_snapshot(head_revision() or "", cursor, body)
        sent += body["entities"]
    return sent


def _key(kind: Kind) -> str:
    return "job_ref" if kind.apply is SiteApply.BY_JOB_REF else _primary_key(kind.model)


def _primary_key(model: Any) -> str:
    (column,) = model.__table__.primary_key.columns
    return str(column.key)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _columns(row: Any, *, drop: tuple[str, ...]) -> dict[str, Any]:
    return {c.key: _plain(getattr(row, c.key)) for c in row.__table__.columns if c.key not in drop}


def _sorted(values: list[Any]) -> list[str]:
    return sorted(json.dumps(value, sort_keys=True) for value in values)


def wire_state(sent: list[dict[str, Any]]) -> dict[str, dict[Any, dict[str, Any]]]:
    """``{kind: {key: its latest entity}}`` of what was sent."""
    latest: dict[str, dict[Any, dict[str, Any]]] = {kind.name: {} for kind in KINDS}
    for entity in sent:
        kind = BY_NAME[entity["entity"]]
        latest[kind.name][entity["row"][_key(kind)]] = entity
    return latest


def replica_state(replica: Replica, kind: Kind) -> dict[Any, dict[str, Any]]:
    """``{key: the stored row, as an entity}`` of ``kind``, with its link rows."""
    drop = ("change_seq", "id") if kind.apply is SiteApply.BY_JOB_REF else ("change_seq",)
    found: dict[Any, dict[str, Any]] = {}
    with replica.database.read() as session:
        for row in session.scalars(select(kind.model)):
            entity: dict[str, Any] = {"row": _columns(row, drop=drop)}
            for link in kind.links:
                owner = getattr(link.model, link.owner)
                rows = session.scalars(select(link.model).where(owner == entity["row"]["id"]))
                entity[link.field] = _sorted([_link_value(link.columns, r) for r in rows])
            found[entity["row"][_key(kind)]] = entity
    return found


def _link_value(columns: tuple[str, ...], row: Any) -> Any:
    if len(columns) == 1:
        return getattr(row, columns[0])
    return {name: getattr(row, name) for name in columns}


def assert_stored_as_sent(replica: Replica, sent: list[dict[str, Any]]) -> None:
    """Every kind was sent, and the replica holds each row (and its link rows) as sent."""
    latest = wire_state(sent)
    for kind in KINDS:
        assert latest[kind.name], f"HQ sent no {kind.name}"
        stored = replica_state(replica, kind)
        assert set(stored) == set(latest[kind.name]), kind.name
        for key, entity in latest[kind.name].items():
            row = dict(entity["row"])
            if kind.apply is SiteApply.BY_JOB_REF:
                row.pop("id")
            assert stored[key]["row"] == row, f"{kind.name} {key}"
            for link in kind.links:
                assert stored[key][link.field] == _sorted(entity[link.field])
        for link in kind.links:
            assert any(entity[link.field] for entity in latest[kind.name].values()), link.field


def assert_wire_form(sent: list[dict[str, Any]]) -> None:
    """An entity is ``{"entity", "seq", "row", *its links}``; its row, its table's columns
    in their order but ``change_seq``."""
    for entity in sent:
        kind = BY_NAME[entity["entity"]]
        assert list(entity) == ["entity", "seq", "row", *(link.field for link in kind.links)]
        columns = [c.key for c in kind.model.__table__.columns if c.key != "change_seq"]
        assert list(entity["row"]) == columns


def test_every_kind_reaches_a_site_by_the_feed_in_the_registry_order(
    hq: Database, replica: Replica
) -> None:
    sent = pull_changes(hq, replica)
    assert_stored_as_sent(replica, sent)
    assert_wire_form(sent)
    order = [(int(e["seq"]), BY_NAME[e["entity"]].feed_rank) for e in sent]
    assert order == sorted(order)
    kinds_per_seq: dict[int, set[str]] = {}
    for entity in sent:
        kinds_per_seq.setdefault(int(entity["seq"]), set()).add(entity["entity"])
    # where the feed's order and the snapshot's differ: a user with a printer
    assert any(
        {"user", "account", "printer", "setting"} <= found for found in kinds_per_seq.values()
    )
    assert "there" not in {e["row"].get("name") for e in sent}  # another site's printer


def test_every_kind_reaches_a_site_by_a_snapshot_in_the_registry_order(
    hq: Database, replica: Replica, tmp_path: Path
) -> None:
    sent = pull_snapshot(hq, replica, limit=3)
    assert_wire_form(sent)
    order = [SNAPSHOT_ORDER.index(e["entity"]) for e in sent]
    assert order == sorted(order)
    assert {e["entity"] for e in sent} == set(SNAPSHOT_ORDER)
    sent += pull_changes(hq, replica)
    assert_stored_as_sent(replica, sent)
    fed = Replica(tmp_path / "fed" / "replica.db")
    try:
        pull_changes(hq, fed)
        for kind in KINDS:  # the same replica as one that pulled the whole feed
            assert replica_state(replica, kind) == replica_state(fed, kind), kind.name
    finally:
        fed.close()
