"""The batch path of a journal upload and its bulk statements (SQLite and PostgreSQL):
held jobs marked printed in one statement, usage charged once, array parameters; and the
checks before it: a cost stands only under prices (or from a script) HQ published, and a
rejected entry is recorded with its reason, holding up nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Table, select

from printwarden.domain.charges import prices_digest, script_digest
from printwarden.domain.ids import new_id
from printwarden.domain.ledger import Transaction, TransactionKind
from printwarden.store import accounts, bulk, groups, held_jobs, ledger, printers, scripts, users
from printwarden.store.db import Database
from printwarden.store.errors import NotFound
from printwarden.store.models import AccountRow, JournalEntryRow, PrintJobRow
from printwarden.store.printers import cost_model_from_json
from printwarden.store.providers import register
from printwarden.usecases import journal
from printwarden.usecases.journal_checks import Malformed
from support.journal_entries import (
    PRICES,
    furnish,
    held_job,
    held_report,
    person,
    printed,
    usage,
)


@pytest.fixture
def hq(hq: Database) -> Database:
    """The conftest's HQ database, with the printer and the MFD the journals name."""
    return furnish(hq)


def held(hq: Database, owner: str, status: str = "held") -> str:
    """A held job of ``owner`` at a provider; its job_ref."""
    return held_job(hq, owner, status)[0]


def test_printed_held_jobs_are_marked_printed_with_a_new_change_number(hq: Database) -> None:
    name, account_id = person(hq)
    waiting, canceled = held(hq, name), held(hq, name, "canceled")
    with hq.read() as session:
        before = held_jobs.find(session, waiting).change_seq
    entries = [printed(name, waiting), printed(name, canceled), printed(name)]
    with hq.session() as session:
        report = journal.apply_entries(session, "north", entries)
    assert report.applied == 3
    assert report.amounts == {"print": 60}
    with hq.read() as session:
        marked = held_jobs.find(session, waiting)
        assert marked.status == "printed"
        assert marked.change_seq > before
        assert held_jobs.find(session, canceled).status == "canceled"
        assert session.get(AccountRow, account_id).balance == 940  # type: ignore[union-attr]


def test_a_job_held_and_released_at_an_offline_site_ends_printed_at_hq(hq: Database) -> None:
    """Held, released and printed while the site was offline: one upload brings the held
    report, the release and the charge (charges are applied first, in a batch)."""
    name, _ = person(hq)
    ref, provider = str(uuid.uuid4()), f"p-{uuid.uuid4().hex[:8]}"
    with hq.session() as session:
        register(session, provider, ipp_url="ipp://x", control_url="", queues=[], printers=[])
    release = {"job_ref": ref, "status": "releasing", "released_to": "laser"}
    entries = [
        {"id": new_id(), "kind": "held-report", "body": held_report(provider, ref, name)},
        {"id": new_id(), "kind": "held", "body": release},
        printed(name, ref),
    ]
    with hq.session() as session:
        report = journal.apply_entries(session, "north", entries)
    assert report.rejected == []
    assert report.amounts == {"print": 20}
    with hq.read() as session:
        assert held_jobs.find(session, ref).status == "printed"


def test_a_job_held_at_an_offline_site_is_asked_its_printers_question_at_hq(
    hq: Database,
) -> None:
    """The person's User Client may be connected to HQ: a job reported only by the journal,
    still held, is asked as one reported online is; one released in the same upload is not
    left asking."""
    name, _ = person(hq)
    provider = f"p-{uuid.uuid4().hex[:8]}"
    with hq.session() as session:
        register(session, provider, ipp_url="ipp://x", control_url="", queues=[], printers=[])
        rules = {
            "cost_model": {"sizes": {"default": PRICES}},
            "client_rules": {"confirm": "always"},
        }
        printers.save_printer(session, "asking-laser", rules, create=True)
    now = datetime.now(UTC)
    waiting, released = str(uuid.uuid4()), str(uuid.uuid4())
    reports = [{"provider": provider, "job_ref": ref, "provider_job_id": number,
                "queue": "secure", "queue_kind": "hold", "username": name,
                "printer": "asking-laser", "document_name": "offline.pdf", "pages": 2,
                "submitted_at": now.isoformat(),
                "expires_at": (now + timedelta(hours=4)).isoformat()}
               for number, ref in enumerate((waiting, released), start=1)]  # fmt: skip
    entries = [{"id": new_id(), "kind": "held-report", "body": body} for body in reports]
    entries.append({"id": new_id(), "kind": "held", "body": {"job_ref": released,
                    "status": "canceled", "reason": "canceled at the site"}})  # fmt: skip
    heard: list[tuple[int, str]] = []
    hq.on_events = lambda events: heard.extend((e.user_id, e.kind) for e in events)
    try:
        with hq.session() as session:
            report = journal.apply_entries(session, "north", entries)
    finally:
        hq.on_events = None
    assert report.rejected == []
    with hq.read() as session:
        asked, ended = held_jobs.find(session, waiting), held_jobs.find(session, released)
        assert asked.question["kind"] == "confirm"
        assert asked.answer_by is not None
        assert (ended.status, ended.question) == ("canceled", {})
        owner = asked.user_id
    assert [kind for user, kind in heard if user == owner].count("question") == 2
    assert [kind for user, kind in heard if user == owner].count("question.closed") == 1


def test_usage_charged_online_already_and_a_replayed_print_are_charged_once(
    hq: Database,
) -> None:
    name, account_id = person(hq)
    online = new_id()
    with hq.session() as session:
        ledger.apply_transaction(
            session, Transaction(online, account_id, -7, TransactionKind.COPY, "device:mfd")
        )
    first = printed(name)
    with hq.session() as session:
        journal.apply_entries(session, "north", [first])
    again = {**first, "id": new_id()}  # the same job journaled twice (same txn_id)
    entries = [usage(name, account_id, online, 7), usage(name, account_id, new_id(), 5), again]
    with hq.session() as session:
        report = journal.apply_entries(session, "north", entries)
    assert report.applied == 3
    assert report.amounts.get("copy") == 5
    with hq.read() as session:
        assert session.get(AccountRow, account_id).balance == 1_000 - 7 - 20 - 5  # type: ignore[union-attr]
        applied = select(JournalEntryRow.entry_id, JournalEntryRow.outcome)
        outcomes = dict(session.execute(applied).all())
        assert outcomes[entries[0]["id"]] == "already in the ledger"
        assert ledger.ledger_sum(session, account_id) == 1_000 - 7 - 20 - 5 - 1_000


def test_among_and_insert_columns_take_thousands_of_values(hq: Database) -> None:
    table = cast(Table, JournalEntryRow.__table__)
    now = datetime.now(UTC)
    rows = [
        {"entry_id": f'e-{n:05d}-"quoted",{{}}', "site": "north", "kind": "printed",
         "outcome": "" if n % 2 else "x\\y", "applied_at": now}
        for n in range(3000)
    ]  # fmt: skip
    with hq.session() as session:
        bulk.insert_columns(session, table, {name: [r[name] for r in rows] for name in rows[0]})
        bulk.insert_columns(session, table, {name: [] for name in rows[0]})
    wanted = [r["entry_id"] for r in rows[::2]] + ["missing"]
    with hq.session() as session, bulk.custom_plans(session):
        column = JournalEntryRow.entry_id
        found = set(session.scalars(select(column).where(bulk.among(session, column, wanted))))
        outcomes = set(
            session.scalars(
                select(JournalEntryRow.outcome).where(bulk.among(session, column, wanted))
            )
        )
    assert found == set(wanted) - {"missing"}
    assert outcomes == {"x\\y"}


def costed(username: str, cost: int, digest: str = "", pages: int = 2, **extra: Any) -> Entry:
    """A printed entry of ``pages`` grey pages on "laser" that the site costed ``cost``
    under the prices named by ``digest``."""
    entry = printed(username, pages=pages)
    entry["body"].update(cost=cost, cost_model=digest, **extra)
    return entry


Entry = dict[str, Any]


def laser_prices(hq: Database, grey: int) -> str:
    """Set the laser's grey page price (as an administrator would); the prices' digest."""
    model = {"sizes": {"default": {**PRICES, "grey_simplex": grey}}}
    with hq.session() as session:
        printers.save_printer(session, "laser", {"cost_model": model}, create=False)
    return prices_digest(cost_model_from_json(model))


def outcomes(hq: Database, entries: list[Entry]) -> dict[str, tuple[str, bool]]:
    with hq.read() as session:
        rows = session.execute(
            select(JournalEntryRow.entry_id, JournalEntryRow.outcome, JournalEntryRow.rejected)
        )
        found = {i: (o, r) for i, o, r in rows}
    return {e["id"]: found[e["id"]] for e in entries}


def test_a_cost_is_charged_as_the_site_had_it_only_under_prices_hq_published(
    hq: Database,
) -> None:
    name, account_id = person(hq)
    old = laser_prices(hq, 10)
    new = laser_prices(hq, 25)  # changed at HQ while the site was offline
    entries = [
        costed(name, 20, old),  # the site's prices: accepted as it charged them
        costed(name, 20),  # no digest (an older site): any published price explains it
        costed(name, 50, new),
        costed(name, 50, old),  # the new price claimed under the old prices
        costed(name, 2, "0" * 32),  # prices HQ never published
        costed(name, 17),  # no published price gives 17
    ]
    with hq.session() as session:
        report = journal.apply_entries(session, "north", entries)
    assert report.amounts == {"print": 90}
    assert [r["status"] for r in report.results] == ["applied"] * 3 + ["rejected"] * 3
    found = outcomes(hq, entries)
    assert found[entries[3]["id"]] == ("cost $0.50 is not what published prices give for these "
                                       "facts ($0.20)", True)  # fmt: skip
    assert "never published for 'laser'" in found[entries[4]["id"]][0]
    assert found[entries[5]["id"]][1]
    with hq.read() as session:
        assert session.get(AccountRow, account_id).balance == 1_000 - 90  # type: ignore[union-attr]
        costs = sorted(session.scalars(select(PrintJobRow.cost).where(
            PrintJobRow.txn_id.in_([e["body"]["txn_id"] for e in entries]))))  # fmt: skip
    assert costs == [20, 20, 50]


def test_a_group_discount_is_explained_by_the_users_groups(hq: Database) -> None:
    name, account_id = person(hq)
    model = {"sizes": {"default": PRICES}, "group_modifiers": {"staff": -5000}}
    with hq.session() as session:
        printers.save_printer(session, "laser", {"cost_model": model}, create=False)
        groups.ensure_groups(session, {"staff"}, "internal")
        users.replace_groups(session, users.find_user(session, name), ["staff"])
    digest = prices_digest(cost_model_from_json(model))
    entries = [costed(name, 10, digest), costed(name, 20, digest)]
    with hq.session() as session:
        report = journal.apply_entries(session, "north", entries)
    assert [r["status"] for r in report.results] == ["applied", "rejected"]
    with hq.read() as session:
        assert session.get(AccountRow, account_id).balance == 1_000 - 10  # type: ignore[union-attr]


def test_a_script_cost_stands_only_from_a_script_hq_published_for_the_printer(
    hq: Database,
) -> None:
    name, account_id = person(hq)
    first, second = "function printJobHook(i, a) { a.job.setCost(3); }", "/* v2 */"
    with hq.session() as session:
        scripts.put(session, scripts.Script("laser", first))
        scripts.put(session, scripts.Script("laser", second))  # the first stays published
        scripts.put(session, scripts.Script("", "/* every printer */"))
        scripts.put(session, scripts.Script("other-printer", "/* not the laser's */"))
    entries = [
        costed(name, 3, cost_override=3, script=script_digest(first)),
        costed(name, 4, cost_override=4, script=script_digest("/* every printer */")),
        costed(name, 0, cost_override=0, script=script_digest(second)),
        costed(name, 9, cost_override=9, script=script_digest("/* not the laser's */")),
        costed(name, -9, cost_override=-9, script=script_digest(first)),
        costed(name, 9, cost_override=9),  # no script named
    ]
    with hq.session() as session:
        report = journal.apply_entries(session, "north", entries)
    assert [r["status"] for r in report.results] == ["applied"] * 3 + ["rejected"] * 3
    assert report.amounts == {"print": 7}
    with hq.read() as session:
        assert session.get(AccountRow, account_id).balance == 1_000 - 7  # type: ignore[union-attr]


def test_a_rejected_entry_does_not_hold_up_the_rest_and_stays_rejected(hq: Database) -> None:
    name, account_id = person(hq)
    other, other_account = person(hq)
    entries = [
        usage(name, account_id, new_id(), 5),
        usage(name, other_account, new_id(), 5),  # another user's account
        usage(name, account_id, new_id(), -5),  # a credit
        printed(name),
        {"id": new_id(), "kind": "held", "body": {"job_ref": "no-such-job", "status": "held"}},
    ]
    with hq.session() as session:
        first = journal.apply_entries(session, "north", entries)
    with hq.session() as session:
        again = journal.apply_entries(session, "north", entries)
    assert [r["status"] for r in first.results] == ["applied", "rejected", "rejected",
                                                     "applied", "rejected"]  # fmt: skip
    assert [r["status"] for r in again.results] == ["already-applied", "rejected", "rejected",
                                                     "already-applied", "rejected"]  # fmt: skip
    assert first.rejected == again.rejected
    assert [r["reason"] for r in first.rejected] == [
        f"account {other_account} is not {name}'s",
        "cost -5 is negative: a charge is never a credit",
        "no held job 'no-such-job'",
    ]
    with hq.read() as session:
        assert session.get(AccountRow, account_id).balance == 1_000 - 5 - 20  # type: ignore[union-attr]
        assert session.get(AccountRow, other_account).balance == 1_000  # type: ignore[union-attr]
    del other


def test_a_printer_deleted_at_hq_during_the_outage_is_charged_on_every_path(
    hq: Database,
) -> None:
    """A plain job goes through the batch; a job on a shared account, and one of a user
    disabled meanwhile, one by one. Each is charged to its own account with its job row.
    Before, the one-by-one path took the deleted printer's NotFound for a deleted user: it
    charged the personal account instead of the shared one and said the user was deleted."""
    name, account_id = person(hq)
    idle, idle_account = person(hq)
    with hq.session() as session:
        shared = accounts.create_shared(
            session, f"lab-{uuid.uuid4().hex[:6]}", accounts.SharedAccountChanges(users=[name])
        )
        shared.balance, shared_id = 1_000, shared.id
    on_shared = printed(name)
    on_shared["body"]["account"] = shared.name
    entries = [printed(name), on_shared, printed(idle)]
    with hq.session() as session:
        users.find_user(session, idle).enabled = False
        printers.delete_printer(session, printers.find_printer(session, "laser"))
    with hq.session() as session:
        report = journal.apply_entries(session, "north", entries)
    assert [r["detail"] for r in report.results] == ["charged $0.20"] * 3
    assert report.notes == []
    with hq.read() as session:
        rows = [session.get(AccountRow, i) for i in (account_id, shared_id, idle_account)]
        balances = [row.balance for row in rows if row is not None]
        charged = session.scalars(select(PrintJobRow.account_id).where(
            PrintJobRow.txn_id.in_([e["body"]["txn_id"] for e in entries])))  # fmt: skip
        assert sorted(charged) == sorted([account_id, shared_id, idle_account])
    assert balances == [980, 980, 980]


def test_a_held_report_that_is_not_one_a_provider_could_send_is_rejected(hq: Database) -> None:
    """Its fields are checked as a provider's own report is: a count that is no number
    reached the database (PostgreSQL: an error, answered 500, so the site's journal stuck;
    SQLite: stored as it came)."""
    name, account_id = person(hq)
    provider = f"p-{uuid.uuid4().hex[:8]}"
    with hq.session() as session:
        register(session, provider, ipp_url="ipp://x", control_url="", queues=[], printers=[])
    now = datetime.now(UTC)
    good = {"provider": provider, "job_ref": str(uuid.uuid4()), "provider_job_id": 7,
            "queue": "secure", "queue_kind": "hold", "username": name, "printer": "laser",
            "pages": 2, "submitted_at": now.isoformat(),
            "expires_at": (now + timedelta(hours=4)).isoformat()}  # fmt: skip
    bad = {**good, "job_ref": str(uuid.uuid4()), "pages": "many"}
    entries = [{"id": new_id(), "kind": "held-report", "body": body} for body in (bad, good)]
    entries.append(printed(name))
    with hq.session() as session:
        report = journal.apply_entries(session, "north", entries)
    assert [r["status"] for r in report.results] == ["rejected", "applied", "applied"]
    assert "pages" in report.rejected[0]["reason"]
    with hq.read() as session:
        assert held_jobs.find(session, str(good["job_ref"])).pages == 2
        with pytest.raises(NotFound):
            held_jobs.find(session, str(bad["job_ref"]))
        assert session.get(AccountRow, account_id).balance == 980  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("kind", "field", "most"),
    [("printed", "txn_id", 40), ("printed", "job_ref", 80), ("printed", "paper_size", 32),
     ("usage", "usage_id", 40), ("held", "released_to", 128)],
)  # fmt: skip
def test_a_value_longer_than_hq_stores_refuses_the_upload_as_malformed(
    hq: Database, kind: str, field: str, most: int
) -> None:
    """Before, it reached the database: PostgreSQL cut a batch's ids to fit (and an upload
    with another id alike in its first 40 characters then failed) or failed at once — a
    500, and the site would send it again for ever; SQLite stored it as sent."""
    name, account_id = person(hq)
    entry = {
        "printed": printed(name),
        "usage": usage(name, account_id, new_id(), 5),
        "held": {"id": new_id(), "kind": "held", "body": {"job_ref": "j", "status": "held"}},
    }[kind]
    entry["body"][field] = "x" * most  # as long as it may be: not refused for that
    with hq.session() as session:
        journal.apply_entries(session, "north", [entry])
        session.rollback()
    entry["body"][field] = "x" * (most + 1)
    with hq.session() as session, pytest.raises(Malformed, match=f"{field} is longer than {most}"):
        journal.apply_entries(session, "north", [entry])
