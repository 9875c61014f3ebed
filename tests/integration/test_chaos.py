"""Chaos: random jobs, copies and top-ups while the site's link drops and returns and the Site
Server and the provider are killed with SIGKILL — then the invariants.

Seeded and bounded: ``PRINTWARDEN_CHAOS_STEPS`` (default 24, CI) and
``PRINTWARDEN_CHAOS_SEED`` (default 1) choose the run; ``make chaos`` runs a long one.

Invariants at the end: every accepted job printed (none lost, none printed twice); every
charge in the App Server's ledger exactly once (prints per user = that user's printed jobs,
one copy charge per accepted copy); every account's balance equals the sum of its ledger;
the site's journal fully applied.
"""

from __future__ import annotations

import os
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import func, select

from printwarden.store.models import AccountRow, TransactionRow, UserRow
from support.seeding import add_user, top_up, wait_for
from support.site import World, site_world

STEPS = int(os.environ.get("PRINTWARDEN_CHAOS_STEPS", "24"))
SEED = int(os.environ.get("PRINTWARDEN_CHAOS_SEED", "1"))
USERS = 4
SETTLE_SECONDS = 120.0
STOPPED, ABORTED, COMPLETED = 6, 8, 9
FINAL = frozenset({STOPPED, ABORTED, COMPLETED})


@dataclass
class Ledger:
    """What the chaos did, to check against what the system recorded."""

    jobs: dict[str, list[tuple[bytes, int]]] = field(default_factory=dict)  # user → accepted
    copies: Counter[str] = field(default_factory=Counter)  # user → copy reports accepted
    top_ups: Counter[str] = field(default_factory=Counter)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with site_world(tmp_path_factory.mktemp("chaos")) as made:
        yield made


def people(world: World) -> dict[str, str]:
    """Unrestricted users (nothing is refused for credit) with cards: name → card."""
    found = {}
    for _ in range(USERS):
        name, card = f"chaos-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:10]
        add_user(world.admin, name, 0, restricted=False)
        assert world.admin.patch(f"/users/{name}", json={"cards": [card]}).status_code == 200
        found[name] = card
    wait_for(world.caught_up, "the users at the site")
    return found


def print_job(world: World, ledger: Ledger, user: str, step: int) -> None:
    data = f"chaos {SEED}/{step} {uuid.uuid4().hex}\n"
    try:
        job_id = world.print_text(user, data)
    except Exception:  # the provider may be down: not accepted, not expected
        return
    ledger.jobs.setdefault(user, []).append((data.encode(), job_id))


def copy(world: World, ledger: Ledger, user: str, card: str) -> None:
    headers = {"Authorization": f"Bearer {world.device_token}"}
    try:
        with httpx.Client(base_url=world.site.api, headers=headers, timeout=10) as device:
            session = device.post("/device/sessions", json={"method": "card", "card_number": card})
            if session.status_code != 201:
                return
            usage = {"usage_id": str(uuid.uuid4()), "kind": "copy", "pages": 1}
            path = f"/device/sessions/{session.json()['session_id']}/usage"
            if device.post(path, json=usage).status_code == 200:
                ledger.copies[user] += 1
    except httpx.HTTPError:
        return  # the Site Server may be down: not accepted


def step(world: World, ledger: Ledger, users: dict[str, str], rng: random.Random, n: int) -> None:
    user = rng.choice(sorted(users))
    action = rng.choices(
        ["print", "copy", "top-up", "link", "kill-site", "kill-provider"],
        weights=[6, 3, 2, 3, 1, 1],
    )[0]
    print(f"step {n}: {action} ({user})")  # shown when the test fails
    if action == "print":
        print_job(world, ledger, user, n)
    elif action == "copy":
        copy(world, ledger, user, users[user])
    elif action == "top-up":
        account = world.admin.get(f"/users/{user}").json()["account_id"]
        top_up(world.admin, account, 100)
        ledger.top_ups[user] += 1
    elif action == "link":
        if world.link.state == "up":
            world.link.down()
        else:
            world.link.up()
    elif action == "kill-site":
        world.site.kill9()
        world.site.start()
    else:
        world.provider.kill9()
        world.provider.start()


def test_nothing_is_lost_and_nothing_is_charged_twice(world: World) -> None:
    rng = random.Random(SEED)
    users = people(world)
    ledger = Ledger()
    for n in range(STEPS):
        step(world, ledger, users, rng, n)
    world.link.up()
    settle(world, ledger)

    printed = Counter(world.printed())
    done: Counter[str] = Counter()
    for user, jobs in ledger.jobs.items():
        for document, job_id in jobs:
            assert printed[document] <= 1, f"{document!r} printed {printed[document]} times"
            if printed[document]:
                done[user] += 1
            else:  # not lost: stopped with its reason (a send cut by SIGKILL is not resent)
                state, message = world.job_state(job_id)
                assert state in (STOPPED, ABORTED), (document, state, message)
                assert message, (document, state)
    counts = charge_counts(world)
    for user in users:
        assert counts.get((user, "print"), 0) == done[user], user
        assert counts.get((user, "copy"), 0) == ledger.copies[user], user
        assert counts.get((user, "top-up"), 0) == ledger.top_ups[user], user
    assert balances_match_ledgers(world)
    assert world.site.status()["journal_backlog"] == 0


def settle(world: World, ledger: Ledger) -> None:
    """Link up, site online with an empty journal, every accepted job printed and charged."""
    print(f"settling: link {world.link.state}, site {world.site.status()}")
    wait_for(lambda: world.site.status()["mode"] == "online", "the site online", SETTLE_SECONDS)
    wait_for(lambda: world.site.status()["journal_backlog"] == 0, "the journal applied")
    jobs = [job_id for accepted in ledger.jobs.values() for _, job_id in accepted]
    wait_for(lambda: all(world.job_state(j)[0] in FINAL for j in jobs), "every job finished",
             SETTLE_SECONDS)  # fmt: skip
    printed = set(world.printed())

    def all_charged() -> bool:
        counts = charge_counts(world)
        return all(
            counts.get((user, "print"), 0) >= sum(1 for d, _ in accepted if d in printed)
            for user, accepted in ledger.jobs.items()
        )

    wait_for(all_charged, "every printed job charged", SETTLE_SECONDS)


def charge_counts(world: World) -> Counter[tuple[str, str]]:
    database = world.app.database()
    try:
        with database.read() as session:
            rows = session.execute(
                select(UserRow.username, TransactionRow.kind, func.count())
                .join(AccountRow, AccountRow.id == TransactionRow.account_id)
                .join(UserRow, UserRow.id == AccountRow.owner_id)
                .group_by(UserRow.username, TransactionRow.kind)
            ).all()
    finally:
        database.dispose()
    return Counter({(user, kind): count for user, kind, count in rows})


def balances_match_ledgers(world: World) -> bool:
    database = world.app.database()
    try:
        with database.read() as session:
            sums = dict(
                session.execute(
                    select(TransactionRow.account_id, func.sum(TransactionRow.amount)).group_by(
                        TransactionRow.account_id
                    )
                ).all()
            )
            balances = dict(session.execute(select(AccountRow.id, AccountRow.balance)).all())
    finally:
        database.dispose()
    return all(balances[account] == (sums.get(account) or 0) for account in balances)
