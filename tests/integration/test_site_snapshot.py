"""A new site's snapshot (``store/snapshot.py`` into ``Replica.apply_snapshot``): paged by
key, crash-safe page by page, and then the changes since its number — ending where a site
that pulled the whole feed ends (App Server on SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from pydantic_core import from_json, to_json
from sqlalchemy import text

from printwarden.domain.print_urls import Standing
from printwarden.site import replica as replica_module
from printwarden.site.replica import Replica, SchemaMismatch
from printwarden.store import groups, held_jobs, print_tokens, replication, snapshot, users
from printwarden.store.db import Database
from printwarden.store.migrate import head_revision
from printwarden.store.site_numbers import SiteNumbers

SECRET = b"snapshot-test-secret-" + b"x" * 11
SITE = "north"
SITE_KEY = SiteNumbers(SECRET, SITE, 1).key
TABLES = {
    "users": "id",
    "user_cards": "card_hash",
    "group_members": "user_id, group_id",
    "accounts": "id",
    "groups": "id",
    "release_delegates": "owner_id, delegate_id",
    "print_tokens": "id",
}


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    return tmp_path / "site"


def opened(directory: Path) -> Replica:
    return Replica(directory / "replica.db")


def people(hq: Database, count: int) -> list[str]:
    """``count`` users in a group, each with a card; the last delegates to the first (a
    reference to a user of an earlier page, and the first to the last: of a later one)."""
    names = [f"snap-{uuid.uuid4().hex[:8]}" for _ in range(count)]
    with hq.session() as session:
        groups.ensure_groups(session, {"staff"}, "internal")
        for name in names:
            changes = users.UserChanges(cards=[f"card-{name}"], groups=["staff"])
            users.create_user(session, SECRET, name, changes)
    return names


def page_of(
    hq: Database, cursor: dict[str, Any], limit: int, generation: int = 1
) -> dict[str, Any]:
    """A snapshot page as the site receives it (through JSON, as the route sends it)."""
    with hq.read() as session:
        at = snapshot.Cursor(cursor["kind"], cursor["after"])
        numbers = SiteNumbers(SECRET, SITE, generation)
        page = snapshot.snapshot(session, SITE, cursor["at"], at, limit, numbers=numbers)
    following = None if page.next is None else {"kind": page.next.kind, "after": page.next.after}
    body = {"at": page.at, "next": following, "entities": page.entities}
    found: dict[str, Any] = from_json(to_json(body))
    return found


def snapshot_pages(
    hq: Database, replica: Replica, limit: int, pages: int = 1000, generation: int = 1
) -> int:
    """Apply up to ``pages`` snapshot pages; how many were applied."""
    applied = 0
    while applied < pages and (cursor := replica.snapshot_cursor()) is not None:
        page = page_of(hq, cursor, limit, generation)
        assert replica.apply_snapshot(head_revision() or "", cursor, page)
        applied += 1
    return applied


def catch_up(hq: Database, replica: Replica, generation: int = 1) -> None:
    """The changes since the replica's N, as the site pulls them after its snapshot."""
    while True:
        with hq.read() as session:
            numbers = SiteNumbers(SECRET, SITE, generation)
            page = replication.changes(session, SITE, replica.seq(), 5000, numbers=numbers)
        assert replica.apply(head_revision() or "", replica.seq(), page.upto, page.entities)
        if not page.more:
            return


def contents(replica: Replica) -> dict[str, list[Any]]:
    with replica.database.read() as session:
        return {
            table: [tuple(row) for row in session.execute(text(f"SELECT * FROM {table} "  # noqa: S608
                                                                f"ORDER BY {key}"))]
            for table, key in TABLES.items()
        }  # fmt: skip


def reference(hq: Database, directory: Path, generation: int = 1) -> dict[str, list[Any]]:
    """What a replica holds that pulled the whole feed from 0, page after page."""
    whole = opened(directory)
    try:
        catch_up(hq, whole, generation)
        return contents(whole)
    finally:
        whole.close()


def test_a_snapshot_in_pages_then_the_changes_since_equal_the_whole_feed(
    hq: Database, site_dir: Path, tmp_path: Path
) -> None:
    names = people(hq, 23)
    with hq.session() as session:
        held_jobs.set_delegates(session, users.find_user(session, names[0]), [names[-1]])
        made = [print_tokens.create(session, name, "phone") for name in names[:9]]
        print_tokens.revoke(session, names[1], made[1].row.id)
    replica = opened(site_dir)
    try:
        assert snapshot_pages(hq, replica, limit=7) > 3  # kinds and users over several pages
        assert replica.snapshot_cursor() is None
        assert replica.seq() > 0
        catch_up(hq, replica)
        assert contents(replica) == reference(hq, tmp_path / "whole")
        with replica.database.read() as session:
            found = users.user_by_card(session, SITE_KEY, f"card-{names[5]}")
            assert found is not None
            assert found.username == names[5]
            url = print_tokens.look_up(session, made[8].token)  # a print URL of a later page
            assert url.user is not None
            assert url.user.username == names[8]
            assert print_tokens.look_up(session, made[1].token).standing is Standing.INVALID
    finally:
        replica.close()


def test_a_site_killed_mid_snapshot_resumes_from_its_last_stored_page(
    hq: Database, site_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = people(hq, 30)
    replica = opened(site_dir)
    assert snapshot_pages(hq, replica, limit=8, pages=2) == 2
    stored = replica.snapshot_cursor()
    assert stored is not None
    assert stored["at"] is not None
    assert replica.seq() == 0  # N only with the last page

    # The next page dies half-applied (the process killed): nothing of it stays.
    def killed(*_args: Any, **_kwargs: Any) -> None:
        raise KeyboardInterrupt("killed")

    page = page_of(hq, stored, 8)
    monkeypatch.setattr(replica_module, "_in_bulk", killed)
    with pytest.raises(KeyboardInterrupt):
        replica.apply_snapshot(head_revision() or "", stored, page)
    monkeypatch.undo()
    replica.close()

    # Meanwhile at HQ: a user already sent changes, one not yet sent is deleted, one is new.
    with hq.session() as session:
        early = users.find_user(session, names[0])
        users.update_user(session, SECRET, early, users.UserChanges(cards=["moved-card"]))
        users.delete_user(session, users.find_user(session, names[-1]))
        users.create_user(session, SECRET, "snap-late", users.UserChanges(cards=["late-card"]))

    replica = opened(site_dir)  # restarted
    try:
        assert replica.snapshot_cursor() == stored
        assert not replica.apply_snapshot(head_revision() or "", {**stored, "after": None}, page)
        assert snapshot_pages(hq, replica, limit=8) >= 2
        assert replica.seq() == stored["at"]
        catch_up(hq, replica)
        assert contents(replica) == reference(hq, tmp_path / "whole")
        with replica.database.read() as session:
            assert users.user_by_card(session, SITE_KEY, "late-card") is not None
            assert users.user_by_card(session, SITE_KEY, f"card-{names[0]}") is None
    finally:
        replica.close()


def test_a_snapshot_of_a_different_schema_is_refused_whole(hq: Database, site_dir: Path) -> None:
    people(hq, 3)
    replica = opened(site_dir)
    try:
        cursor = replica.snapshot_cursor()
        assert cursor is not None
        with pytest.raises(SchemaMismatch, match="nothing was applied"):
            replica.apply_snapshot("9999", cursor, page_of(hq, cursor, 100))
        assert replica.snapshot_cursor() == cursor
        assert contents(replica)["users"] == []
    finally:
        replica.close()


def test_a_replica_that_synced_by_changes_takes_no_snapshot(hq: Database, site_dir: Path) -> None:
    people(hq, 2)
    replica = opened(site_dir)
    try:
        catch_up(hq, replica)
        assert replica.snapshot_cursor() is None
    finally:
        replica.close()


def test_a_re_keyed_site_takes_its_snapshot_again_under_the_new_key(
    hq: Database, site_dir: Path, tmp_path: Path
) -> None:
    names = people(hq, 12)
    with hq.session() as session:
        held_jobs.set_delegates(session, users.find_user(session, names[0]), [names[-1]])
    replica = opened(site_dir)
    try:
        snapshot_pages(hq, replica, limit=5)
        catch_up(hq, replica)
        seq = replica.seq()
        replica.restart_snapshot()  # HQ raised the site's key generation
        with replica.database.read() as session:
            assert users.user_by_card(session, SITE_KEY, f"card-{names[1]}") is None
            assert users.find_user(session, names[1]).username == names[1]  # still there
        assert replica.snapshot_cursor() == replica_module.FIRST_PAGE
        assert snapshot_pages(hq, replica, limit=5, generation=2) > 2  # links replaced
        assert replica.seq() >= seq
        catch_up(hq, replica, generation=2)
        assert contents(replica) == reference(hq, tmp_path / "whole", generation=2)
        new_key = SiteNumbers(SECRET, SITE, 2).key
        with replica.database.read() as session:
            assert users.user_by_card(session, SITE_KEY, f"card-{names[1]}") is None
            found = users.user_by_card(session, new_key, f"card-{names[1]}")
            assert found is not None
            assert found.username == names[1]
    finally:
        replica.close()
