"""Replication down and the journal up, at the store level: an App Server database (SQLite
and PostgreSQL) feeding a site replica (SQLite), and site journals applied once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from printwarden import security
from printwarden.domain.directory import DirectorySnapshot, DirectoryUser
from printwarden.domain.ids import new_id
from printwarden.domain.print_urls import Standing
from printwarden.site.replica import Replica, SchemaMismatch
from printwarden.store import held_jobs, print_tokens, printers, replication, users
from printwarden.store import sync as directory_sync
from printwarden.store.db import Database
from printwarden.store.migrate import head_revision, upgrade
from printwarden.store.models import (
    AccountRow,
    ApiTokenRow,
    CardRow,
    DeviceRow,
    PrintTokenRow,
    ProviderRow,
    TransactionRow,
    UserRow,
)
from printwarden.store.site_numbers import SiteNumbers
from printwarden.usecases import journal

SECRET = b"replication-test-secret-" + b"x" * 8
SITE_KEY = SiteNumbers(SECRET, "north", 1).key  # what the site hashes swiped cards with
PRICES = {"grey_simplex": 10, "grey_duplex": 8, "colour_simplex": 50, "colour_duplex": 45}


@pytest.fixture
def replica(tmp_path: Path) -> Iterator[Replica]:
    made = Replica(tmp_path / "site" / "replica.db")
    try:
        yield made
    finally:
        made.close()


def sync(hq: Database, replica: Replica, site: str = "north", limit: int = 5000) -> int:
    """Pull pages until caught up; the number of pages."""
    pages = 0
    while True:
        with hq.read() as session:
            numbers = SiteNumbers(SECRET, site, 1)
            page = replication.changes(session, site, replica.seq(), limit, numbers=numbers)
        assert replica.apply(head_revision() or "", replica.seq(), page.upto, page.entities)
        pages += 1
        if not page.more:
            return pages


def add_person(hq: Database, name: str, card: str, balance: int = 0) -> int:
    with hq.session() as session:
        row = users.create_user(session, SECRET, name, users.UserChanges(cards=[card], pin="1234"))
        account = users.personal_account(session, row.id)
        account.balance = balance
        return row.id


def test_a_site_receives_users_cards_and_accounts_and_later_only_changes(
    hq: Database, replica: Replica
) -> None:
    names = [f"rep-{uuid.uuid4().hex[:8]}" for _ in range(30)]
    for n, name in enumerate(names):
        add_person(hq, name, f"card-{name}", balance=n)
    assert sync(hq, replica, limit=7) > 1  # several pages, none splitting a transaction

    with replica.database.read() as session:
        assert set(names) <= set(session.scalars(select(UserRow.username)))
        assert users.user_by_card(session, SECRET, f"card-{names[3]}") is None  # HQ's key
        found = users.user_by_card(session, SITE_KEY, f"card-{names[3]}")
        assert found is not None
        assert found.username == names[3]
        assert users.personal_account(session, found.id).balance == 3
    seq = replica.seq()

    with hq.session() as session:
        row = users.find_user(session, names[0])
        users.update_user(session, SECRET, row, users.UserChanges(cards=["new-card"]))
    with hq.read() as session:
        page = replication.changes(session, "north", seq, 5000, numbers=north())
    assert [e["row"]["username"] for e in page.entities if e["entity"] == "user"] == [names[0]]
    assert not replica.apply(head_revision() or "", seq - 1, page.upto, page.entities)  # stale
    assert replica.apply(head_revision() or "", seq, page.upto, page.entities)
    with replica.database.read() as session:
        assert users.user_by_card(session, SITE_KEY, f"card-{names[0]}") is None
        moved = users.user_by_card(session, SITE_KEY, "new-card")
        assert moved is not None
        assert moved.username == names[0]


def north() -> SiteNumbers:
    return SiteNumbers(SECRET, "north", 1)


def test_a_site_gets_no_password_hash_and_numbers_under_its_own_key_only(
    hq: Database, replica: Replica
) -> None:
    name, card, identity = f"keys-{uuid.uuid4().hex[:8]}", "00042-Keys", "ID-4711"
    with hq.session() as session:
        changes = users.UserChanges(cards=[card], identity_number=identity, pin="1234",
                                    password="hq-only-password", is_admin=True)  # fmt: skip
        users.create_user(session, SECRET, name, changes)
    sync(hq, replica)
    with hq.read() as session:
        at_hq = users.find_user(session, name)
        hq_card = session.scalars(select(CardRow.card_hash).where(CardRow.user_id == at_hq.id))
        hq_cards = set(hq_card)
        assert at_hq.password_hash is not None
        assert at_hq.identity_sealed is not None
    with replica.database.read() as session:
        here = users.find_user(session, name)
        site_cards = set(
            session.scalars(select(CardRow.card_hash).where(CardRow.user_id == here.id))
        )
        assert here.password_hash is None
        assert here.identity_sealed is None
        assert here.password_stamp == at_hq.password_stamp  # sessions end on a change, here too
        assert here.pin_hash == at_hq.pin_hash  # identity number + PIN works offline
        assert session.scalar(select(func.count()).select_from(UserRow).where(
            UserRow.password_hash.is_not(None))) == 0  # fmt: skip
        assert session.scalar(select(func.count()).select_from(CardRow).where(
            CardRow.sealed.is_not(None))) == 0  # fmt: skip
        assert site_cards == {security.card_hash(SITE_KEY, card)}
        assert site_cards.isdisjoint(hq_cards)
        assert here.identity_hash == security.identity_hash(SITE_KEY, identity)
        assert here.identity_hash != at_hq.identity_hash
        south = SiteNumbers(SECRET, "south", 1).key
        rekeyed = SiteNumbers(SECRET, "north", 2).key
        for other in (south, rekeyed, SECRET):
            assert users.user_by_card(session, other, card) is None
            assert users.user_by_identity(session, other, identity) is None
        assert users.user_by_card(session, SITE_KEY, "42-keys") is not None  # normalized


def test_numbers_stored_before_sealing_are_left_out_and_counted(hq: Database) -> None:
    name = f"legacy-{uuid.uuid4().hex[:8]}"
    with hq.session() as session:
        changes = users.UserChanges(cards=["L-1", "L-2"], identity_number="legacy-id")
        row = users.create_user(session, SECRET, name, changes)
        for card in session.scalars(select(CardRow).where(CardRow.user_id == row.id)):
            if card.card_hash == security.card_hash(SECRET, "L-1"):
                card.sealed = None  # as migration 0009 leaves a card stored before it
        row.identity_sealed = None
    numbers = north()
    with hq.read() as session:
        page = replication.changes(session, "north", 0, 5000, numbers=numbers)
    (user,) = [e for e in page.entities if e["entity"] == "user" and e["row"]["username"] == name]
    assert user["cards"] == [security.card_hash(SITE_KEY, "L-2")]
    assert user["row"]["identity_hash"] is None
    assert (numbers.unsealed_cards, numbers.unsealed_identities) == (1, 1)
    with hq.session() as session:  # setting the number again seals it
        row = users.find_user(session, name)
        again = users.UserChanges(cards=["L-1", "L-2"], identity_number="legacy-id")
        users.update_user(session, SECRET, row, again)
    numbers = north()
    with hq.read() as session:
        page = replication.changes(session, "north", 0, 5000, numbers=numbers)
    (user,) = [e for e in page.entities if e["entity"] == "user" and e["row"]["username"] == name]
    assert len(user["cards"]) == 2
    assert user["row"]["identity_hash"] == security.identity_hash(SITE_KEY, "legacy-id")
    assert (numbers.unsealed_cards, numbers.unsealed_identities) == (0, 0)


def test_a_directory_sync_seals_numbers_stored_before_sealing(hq: Database) -> None:
    name = f"ldap-{uuid.uuid4().hex[:8]}"
    entry = DirectoryUser(name, full_name="Lee", cards=("C-9",), identity_number="I-9")
    snapshot = DirectorySnapshot((entry,))
    with hq.session() as session:
        assert directory_sync.sync_directory(session, SECRET, snapshot).created == 1
    with hq.session() as session:
        assert directory_sync.sync_directory(session, SECRET, snapshot).unchanged == 1
        row = users.find_user(session, name)
        row.identity_sealed = None  # as migration 0009 leaves a user stored before it
    with hq.session() as session:
        assert directory_sync.sync_directory(session, SECRET, snapshot).updated == 1  # sealed now
    with hq.session() as session:
        assert directory_sync.sync_directory(session, SECRET, snapshot).unchanged == 1
        row = users.find_user(session, name)
        assert row.identity_sealed is not None
        assert session.scalar(select(CardRow.sealed).where(CardRow.user_id == row.id))


def test_deletions_and_printers_of_other_sites(hq: Database, replica: Replica) -> None:
    name = f"gone-{uuid.uuid4().hex[:8]}"
    add_person(hq, name, f"card-{name}")
    with hq.session() as session:
        model = {"sizes": {"default": PRICES}}
        printers.save_printer(session, "here", {"cost_model": model, "site": "north"}, create=True)
        printers.save_printer(session, "there", {"cost_model": model, "site": "south"}, create=True)
        printers.save_printer(session, "anywhere", {"cost_model": model}, create=True)
    sync(hq, replica)
    with hq.session() as session:
        users.delete_user(session, users.find_user(session, name))
    sync(hq, replica)
    with hq.session() as session:
        from printwarden.domain.accounts import Role
        from printwarden.store import tokens
        from printwarden.store.providers import register

        for provider, printer in (("p-here", "here"), ("p-there", "there")):
            register(session, provider, ipp_url="ipp://x", control_url="", queues=[],
                     printers=[{"name": printer}])  # fmt: skip
        for device, printer in (("d-here", "here"), ("d-there", "there")):
            site = "north" if printer == "here" else "south"
            printers.save_device(session, device, {"kind": "mfd", "printer": printer,
                                 "cost_model": {}, "site": site}, create=True)  # fmt: skip
            tokens.issue_token(session, Role.DEVICE, name=device, scope=f"device:{device}")
        bound: tuple[tuple[str, str | None], ...] = (
            ("p-here", "north"), ("p-there", "south"), ("p-hq", None)
        )  # fmt: skip
        for provider, token_site in bound:
            tokens.issue_token(session, Role.PROVIDER, name=provider,
                               scope=f"provider:{provider}", site=token_site)  # fmt: skip
    sync(hq, replica)
    with replica.database.read() as session:
        assert set(session.scalars(select(ProviderRow.name))) == {"p-here"}
        assert set(session.scalars(select(DeviceRow.name))) == {"d-here"}
        # A provider token bound to another site stays at HQ; one bound to no site goes
        # everywhere (a provider of HQ's own may fail over to any site).
        assert set(session.scalars(select(ApiTokenRow.scope))) == {
            "device:d-here", "provider:p-here", "provider:p-hq"
        }  # fmt: skip
        gone = session.scalar(select(UserRow).where(UserRow.username == name))
        assert gone is not None
        assert gone.deleted_at is not None
        assert session.scalar(select(func.count()).select_from(CardRow).where(
            CardRow.user_id == gone.id)) == 0  # fmt: skip
        names = {p.name for p in printers.list_printers(session)}
    assert {"here", "anywhere"} <= names
    assert "there" not in names


def test_print_urls_reach_the_site_as_hashes_and_so_do_their_revocations(
    hq: Database, replica: Replica, tmp_path: Path
) -> None:
    name = f"url-{uuid.uuid4().hex[:8]}"
    add_person(hq, name, f"card-{name}")
    with hq.session() as session:
        kept = print_tokens.create(session, name, "phone")
        doomed = print_tokens.create(session, name, "tablet")
    sync(hq, replica)
    with replica.database.read() as session:
        for made in (kept, doomed):
            found = print_tokens.look_up(session, made.token)
            assert found.standing is Standing.LIVE
            assert found.user is not None
            assert found.user.username == name
        hashes = set(session.scalars(select(PrintTokenRow.token_hash)))
    assert hashes == {security.token_hash(kept.token), security.token_hash(doomed.token)}

    seq = replica.seq()
    with hq.session() as session:
        print_tokens.revoke(session, name, doomed.row.id)
    with hq.read() as session:
        page = replication.changes(session, "north", seq, 5000, numbers=north())
    assert [(e["entity"], e["row"]["id"]) for e in page.entities] == [
        ("print_token", doomed.row.id)
    ]
    assert replica.apply(head_revision() or "", seq, page.upto, page.entities)
    with replica.database.read() as session:
        assert print_tokens.look_up(session, doomed.token).standing is Standing.INVALID
        assert print_tokens.look_up(session, kept.token).standing is Standing.LIVE

    with hq.session() as session:  # using a print URL at HQ is no change a site needs
        assert print_tokens.use(session, kept.token).standing is Standing.LIVE
    with hq.read() as session:
        idle = replication.changes(session, "north", replica.seq(), 5000, numbers=north())
    assert idle.entities == []

    with hq.session() as session:  # a user disabled at HQ: their print URLs stop at the site
        row = users.find_user(session, name)
        users.update_user(session, SECRET, row, users.UserChanges(enabled=False))
    sync(hq, replica)
    with replica.database.read() as session:
        assert print_tokens.look_up(session, kept.token).standing is Standing.INVALID
    stored = b"".join(path.read_bytes() for path in (tmp_path / "site").glob("replica.db*"))
    assert security.token_hash(kept.token).encode() in stored
    assert kept.token.encode() not in stored


def test_a_different_schema_is_refused_whole(hq: Database, replica: Replica) -> None:
    add_person(hq, f"schema-{uuid.uuid4().hex[:8]}", "x-card")
    with hq.read() as session:
        page = replication.changes(session, "north", 0, 5000, numbers=north())
    with pytest.raises(SchemaMismatch, match="nothing was applied"):
        replica.apply("9999", 0, page.upto, page.entities)
    assert replica.seq() == 0


def printed_entry(username: str, printer: str, pages: int = 2) -> dict[str, Any]:
    txn = new_id()
    return {
        "id": new_id(),
        "kind": "printed",
        "body": {
            "txn_id": txn,
            "job_ref": txn,
            "username": username,
            "printer": printer,
            "pages": pages,
            "colour_pages": 0,
            "copies": 1,
            "cost": pages * 10,
        },
    }


def test_a_journal_applies_once_and_charges_deleted_users_kept_accounts(hq: Database) -> None:
    alive, deleted = f"alive-{uuid.uuid4().hex[:6]}", f"deleted-{uuid.uuid4().hex[:6]}"
    for name in (alive, deleted):
        add_person(hq, name, f"card-{name}", balance=100)
    with hq.session() as session:
        model = {"sizes": {"default": PRICES}}
        printers.save_printer(session, "laser", {"cost_model": model}, create=True)
        users.delete_user(session, users.find_user(session, deleted))
    entries = [printed_entry(alive, "laser"), printed_entry(deleted, "laser", 3)]
    entries.append({"id": new_id(), "kind": "unknown-user", "body": {"username": "stranger"}})

    with hq.session() as session:
        first = journal.apply_entries(session, "north", entries)
    with hq.session() as session:
        again = journal.apply_entries(session, "north", entries)

    assert (first.applied, again.applied, again.already_applied) == (3, 0, 3)
    assert first.amounts == {"print": 50}
    assert first.unknown_users == ["stranger"]
    assert any(deleted in note for note in first.notes)
    with hq.read() as session:
        balances = dict(
            session.execute(
                select(UserRow.username, AccountRow.balance)
                .join(AccountRow, AccountRow.owner_id == UserRow.id)
                .where(UserRow.username.in_([alive, deleted]))
            ).all()
        )
        origins = set(
            session.scalars(select(TransactionRow.origin).where(TransactionRow.kind == "print"))
        )
    assert balances == {alive: 80, deleted: 70}
    assert origins == {"site:north"}


def test_held_job_released_at_a_site_after_hq_canceled_it_is_noted(hq: Database) -> None:
    owner = f"owner-{uuid.uuid4().hex[:6]}"
    user_id = add_person(hq, owner, f"card-{owner}")
    ref = str(uuid.uuid4())
    with hq.session() as session:
        from printwarden.store.providers import register

        provider, _ = register(session, "p1", ipp_url="ipp://x", control_url="", queues=[],
                               printers=[])  # fmt: skip
        report = held_jobs.Report(ref, 1, "secure", "hold", owner, _held_fields())
        assert held_jobs.record_reports(session, provider, [report]).refused == []
        row = held_jobs.find(session, ref)
        assert row.user_id == user_id
        held_jobs.set_status(row, "canceled", "by HQ", 1)
    entry = {"id": new_id(), "kind": "held",
             "body": {"job_ref": ref, "status": "releasing", "released_to": "laser"}}  # fmt: skip
    with hq.session() as session:
        outcome = journal.apply_entries(session, "north", [entry])
    assert any("canceled at HQ was released" in note for note in outcome.notes)
    with hq.read() as session:
        assert held_jobs.find(session, ref).status == "releasing"


def _held_fields() -> dict[str, Any]:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    return {"printer": "laser", "document_name": "a.pdf", "pages": 1,
            "submitted_at": now, "expires_at": now + timedelta(hours=4)}  # fmt: skip


def test_a_large_journal_is_charged_as_a_batch_exactly_once(hq: Database) -> None:
    names = [f"batch-{uuid.uuid4().hex[:6]}" for _ in range(5)]
    for name in names:
        add_person(hq, name, f"card-{name}", balance=1_000)
    with hq.session() as session:
        model = {"sizes": {"default": PRICES}}
        printers.save_printer(session, "batch-laser", {"cost_model": model}, create=True)
    entries = [printed_entry(names[n % 5], "batch-laser", pages=1 + n % 3) for n in range(60)]
    entries.append(entries[0])  # the same entry twice in one upload
    entries.append(printed_entry("nobody-here", "batch-laser"))  # left to the one-by-one path

    with hq.session() as session:
        report = journal.apply_entries(session, "north", entries)
    with hq.session() as session:
        again = journal.apply_entries(session, "north", entries)

    assert (report.applied, again.applied) == (61, 0)
    expected = dict.fromkeys(names, 1000)
    for entry in entries[:60]:
        expected[entry["body"]["username"]] -= 10 * entry["body"]["pages"]
    with hq.read() as session:
        balances = dict(
            session.execute(
                select(UserRow.username, AccountRow.balance)
                .join(AccountRow, AccountRow.owner_id == UserRow.id)
                .where(UserRow.username.in_(names))
            ).all()
        )
        jobs = session.scalar(
            select(func.count())
            .select_from(TransactionRow)
            .where(TransactionRow.origin == "site:north", TransactionRow.kind == "print")
        )
    assert balances == expected
    assert jobs == 60
    # A user HQ never knew: the entry is rejected (listed with the reason), charging nothing.
    assert [r["reason"] for r in report.rejected] == ["unknown user 'nobody-here'"]


def test_two_databases_with_the_same_window_are_told_their_own_changes(tmp_path: Path) -> None:
    """Which kinds changed in a window is remembered per database (a process may serve
    several: the tests, a Site Server beside its App Server): the same ``(since, head]`` in
    another database with other changes is not answered from the first's."""
    databases = []
    for name in ("first", "second"):
        url = f"sqlite:///{tmp_path / name}.db"
        upgrade(url)
        databases.append(Database(url))
    first, second = databases
    try:
        add_person(first, "ida", "card-1")  # users and accounts changed in the first
        with second.session() as session:  # a printer (its own kind) in the second
            printers.save_printer(session, "lobby", {"cost_model": {"sizes": {"default": PRICES}}},
                                  create=True)  # fmt: skip
        pages = {}
        for label, database in (("first", first), ("second", second)):
            with database.read() as session:
                numbers = SiteNumbers(SECRET, "north", 1)
                pages[label] = replication.changes(session, "north", 0, 5000, numbers=numbers)
        kinds = {label: {e["entity"] for e in page.entities} for label, page in pages.items()}
        assert "user" in kinds["first"]
        assert "printer" not in kinds["first"]
        assert kinds["second"] == {"printer"}
    finally:
        for database in databases:
            database.dispose()
