"""Chaos: random jobs, copies and top-ups, held jobs released and canceled from HQ, while the
site's link drops and returns (both ways) and the Site Server and the provider are killed
with SIGKILL — then the invariants.

Seeded and bounded: ``PRINTWARDEN_CHAOS_STEPS`` (default 24, CI) and
``PRINTWARDEN_CHAOS_SEED`` (default 1) choose the run; ``make chaos`` runs a long one.

Invariants at the end: every accepted job printed (none lost, none printed twice); a held
job released from HQ (200) printed once, one canceled from HQ (200) never, one refused
(503 "Site offline" while HQ could not reach the site, or any other refusal) at most once
and only if the site itself released it — never because HQ queued the order; every held
job left is released from HQ once the site is back and prints once; every charge in the App
Server's ledger exactly once (prints per user = that user's printed jobs, one copy charge
per accepted copy); every account's balance equals the sum of its ledger; the site's journal
fully applied.
"""

from __future__ import annotations

import functools
import os
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from printwarden.provider.ipp.client import IppClient
from printwarden.store.models import AccountRow, TransactionRow, UserRow
from printwarden.testing.ledger_checks import unbalanced_accounts
from support.provider import QueueSpec
from support.seeding import add_user, top_up, wait_for
from support.site import PRINTER, World, site_world

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
    held: dict[str, Held] = field(default_factory=dict)  # job_ref → a job held at the site


@dataclass
class Held:
    """A job held at the site, and what HQ answered when asked to release or cancel it."""

    user: str
    document: bytes
    released: bool = False  # HQ answered 200 to a release
    canceled: bool = False  # HQ answered 200 to a cancel
    refusals: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    queues = [QueueSpec("secure", "hold", PRINTER)]
    with site_world(tmp_path_factory.mktemp("chaos"), queues=queues) as made:
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


def hold_job(world: World, ledger: Ledger, user: str, step: int) -> None:
    data = f"chaos held {SEED}/{step} {uuid.uuid4().hex}\n"
    try:
        with IppClient(world.provider.uri("secure"), user_name=user, timeout=30) as client:
            job_id = client.print_job(data.encode(), document_format="text/plain",
                                      job_name=data[:40], requesting_user_name=user)  # fmt: skip
            found = client.get_job_attributes(job_id, ["job-uuid"])
    except Exception:  # the provider may be down: not accepted, not expected
        return
    job_ref = str(found.value("job-uuid")).removeprefix("urn:uuid:")
    ledger.held[job_ref] = Held(user, data.encode())


def held_while_online(world: World, ledger: Ledger, users: dict[str, str]) -> None:
    """Two held jobs per user that HQ knows of before the chaos starts, so that HQ has
    jobs at the site to release or cancel during the cuts."""
    for number, user in enumerate(sorted(users) * 2):
        hold_job(world, ledger, user, -1 - number)
    known = lambda: all(_record(world, ref) for ref in ledger.held)  # noqa: E731
    wait_for(known, "HQ knowing the held jobs")
    wait_for(world.caught_up, "the site knowing them too")


def hq_order(world: World, ledger: Ledger, rng: random.Random, action: str) -> None:
    """Release (at the site's printer) or cancel a held job from HQ, as an administrator."""
    waiting = sorted(r for r, h in ledger.held.items() if not (h.released or h.canceled))
    if not waiting:
        return
    job_ref = rng.choice(waiting)
    held = ledger.held[job_ref]
    path = f"/held-jobs/{job_ref}/{action}"
    body = {"printer": PRINTER} if action == "release" else None
    try:
        answer = world.admin.post(path, json=body)
    except httpx.HTTPError as exc:
        held.refusals.append(f"{action}: {type(exc).__name__}")
        return
    print(f"  HQ {action} {job_ref}: {answer.status_code} {answer.text[:160]}")
    assert answer.status_code < 500 or answer.status_code == 503, answer.text
    if answer.status_code == 200:
        held.released, held.canceled = action == "release", action == "cancel"
    else:
        held.refusals.append(f"{action}: {answer.status_code} {answer.json().get('title')}")


def step(world: World, ledger: Ledger, users: dict[str, str], rng: random.Random, n: int) -> None:
    user = rng.choice(sorted(users))
    action = rng.choices(
        ["print", "copy", "top-up", "link", "kill-site", "kill-provider", "hold", "hq-release",
         "hq-cancel"],
        weights=[6, 3, 2, 3, 1, 1, 3, 3, 1],
    )[0]  # fmt: skip
    print(f"step {n}: {action} ({user}; link {world.link.state})")  # shown when the test fails
    if action == "print":
        print_job(world, ledger, user, n)
    elif action == "hold":
        hold_job(world, ledger, user, n)
    elif action in ("hq-release", "hq-cancel"):
        hq_order(world, ledger, rng, action.removeprefix("hq-"))
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
    held_while_online(world, ledger, users)
    for n in range(STEPS):
        step(world, ledger, users, rng, n)
    world.link.up()
    settle(world, ledger)
    release_the_rest(world, ledger)

    printed = Counter(world.printed())
    done: Counter[str] = Counter()
    for job_ref, held in ledger.held.items():
        times = printed[held.document]
        assert times <= 1, f"held job {job_ref} printed {times} times ({held.refusals})"
        assert times == (0 if held.canceled else 1), (job_ref, held)
        done[held.user] += times
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
    wait_for(lambda: all_charged(world, ledger), "every printed job charged", SETTLE_SECONDS)


def all_charged(world: World, ledger: Ledger) -> bool:
    """Every job on paper has its charge at HQ (a direct or held job of the chaos)."""
    printed = set(world.printed())
    counts = charge_counts(world)
    held = Counter(h.user for h in ledger.held.values() if h.document in printed)
    return all(
        counts.get((user, "print"), 0)
        >= sum(1 for d, _ in ledger.jobs.get(user, []) if d in printed) + held[user]
        for user in {*ledger.jobs, *held}
    )


def release_the_rest(world: World, ledger: Ledger) -> None:
    """Once the site is back: HQ releases every held job it did not release or cancel (or
    whose release was refused), each exactly once; then all of them print."""
    for job_ref, held in ledger.held.items():
        if held.released or held.canceled:
            continue
        record = wait_for(functools.partial(_record, world, job_ref), f"HQ's record of {job_ref}")
        if record["status"] == "held":
            answer = world.admin.post(f"/held-jobs/{job_ref}/release", json={"printer": PRINTER})
            assert answer.status_code == 200, (job_ref, answer.text, held.refusals)
            held.released = True
        else:  # the site acted on it itself (see the module docstring)
            held.released = record["status"] in ("releasing", "printed")
            held.canceled = record["status"] == "canceled"
    expected = [h.document for h in ledger.held.values() if not h.canceled]
    wait_for(lambda: all(d in world.printed() for d in expected), "every released held job",
             SETTLE_SECONDS)  # fmt: skip
    wait_for(lambda: all_charged(world, ledger), "every held job charged", SETTLE_SECONDS)


def _record(world: World, job_ref: str) -> dict[str, Any] | None:
    answer = world.admin.get(f"/held-jobs/{job_ref}")
    found: dict[str, Any] | None = answer.json() if answer.status_code == 200 else None
    return found


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
    return unbalanced_accounts(world.app.database_url) == {}
