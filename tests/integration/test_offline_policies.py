"""Each Offline Policy end to end: set at HQ, replicated, applied by the Site Server during a
real link cut, and reconciled into the HQ ledger and the reconciliation report."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from printwarden.provider.ipp.client import IppError
from support.seeding import add_user, wait_for
from support.site import SITE, World, site_world

COMPLETED, CANCELED = 9, 7


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with site_world(tmp_path_factory.mktemp("policies")) as made:
        yield made


def set_policies(world: World, **changes: Any) -> None:
    current = world.admin.get("/offline-policies").json()
    answer = world.admin.put("/offline-policies", json={**current, **changes})
    assert answer.status_code == 200, answer.text
    wait_for(world.caught_up, "the policies at the site")


def person(world: World, balance: int, *, restricted: bool = True) -> str:
    name = f"p-{uuid.uuid4().hex[:8]}"
    add_user(world.admin, name, balance, restricted=restricted)
    wait_for(world.caught_up, "the user at the site")
    return name


def finished(world: World, job_id: int) -> tuple[int, str]:
    state: tuple[int, str] = wait_for(
        lambda: (found := world.job_state(job_id))[0] in (COMPLETED, CANCELED) and found,
        f"job {job_id} finished",
    )
    return state


def last_report(world: World) -> dict[str, Any]:
    report: dict[str, Any] = world.site.status()["last_report"]
    return report


def test_last_known_balance_includes_what_was_charged_offline(world: World) -> None:
    set_policies(world, credit="last-known-balance", unauthenticated="assign")
    user = person(world, 15)
    with world.outage():
        first = finished(world, world.print_text(user, "one page\n"))
        second = finished(world, world.print_text(user, "one page more\n"))
    assert first[0] == COMPLETED
    assert second[0] == CANCELED
    assert "insufficient credit" in second[1]
    wait_for(lambda: world.balance(user) == 5, "the one offline charge at HQ")


def test_overdraw_lets_a_restricted_user_go_below_zero_and_the_report_says_so(
    world: World,
) -> None:
    set_policies(world, credit="allow-overdraw", overdraw=20)
    user = person(world, 5)
    with world.outage():
        done = finished(world, world.print_text(user, "page one\n\fpage two\n"))
    assert done[0] == COMPLETED
    wait_for(lambda: world.balance(user) == -15, "the overdrawn balance at HQ")
    assert {"account": user, "balance": -15} in last_report(world)["deficits"]


def test_allow_all_treats_restricted_accounts_as_unrestricted(world: World) -> None:
    set_policies(world, credit="allow-all")
    user = person(world, 0)
    with world.outage():
        assert finished(world, world.print_text(user, "free for now\n"))[0] == COMPLETED
    wait_for(lambda: world.balance(user) == -10, "the charge at HQ")


def test_deny_restricted_stops_restricted_users_but_not_unrestricted_ones(world: World) -> None:
    set_policies(world, credit="deny-restricted")
    student, staff = person(world, 1_000), person(world, 0, restricted=False)
    with world.outage():
        denied = finished(world, world.print_text(student, "no\n"))
        allowed = finished(world, world.print_text(staff, "yes\n"))
    assert denied[0] == CANCELED
    assert "restricted accounts cannot print while the server is offline" in denied[1]
    assert allowed[0] == COMPLETED
    wait_for(lambda: world.balance(staff) == -10, "staff charged at HQ")
    assert world.balance(student) == 1_000


def test_an_unknown_user_is_charged_to_the_configured_user(world: World) -> None:
    fallback = person(world, 0, restricted=False)
    set_policies(world, credit="last-known-balance", unauthenticated="assign",
                 unauthenticated_user=fallback)  # fmt: skip
    stranger = f"stranger-{uuid.uuid4().hex[:6]}"
    with world.outage():
        assert finished(world, world.print_text(stranger, "who am I\n"))[0] == COMPLETED
    wait_for(lambda: world.balance(fallback) == -10, "the fallback user charged")
    assert last_report(world)["unknown_users"].count(stranger) == 1  # seen twice, listed once

    # The stranger gets an account at HQ: the administrator moves the job to them.
    assert world.admin.post("/jobs/reattribute", json={"username": stranger}).status_code == 404
    add_user(world.admin, stranger, 100)
    moved = world.admin.post("/jobs/reattribute", json={"username": stranger})
    assert moved.status_code == 200, moved.text
    assert (len(moved.json()["jobs"]), moved.json()["amount"]) == (1, 10)
    assert (world.balance(fallback), world.balance(stranger)) == (0, 90)
    again = world.admin.post("/jobs/reattribute", json={"username": stranger}).json()
    assert (again["jobs"], again["amount"]) == ([], 0)
    assert (world.balance(fallback), world.balance(stranger)) == (0, 90)
    account = world.admin.get(f"/users/{stranger}").json()["account_id"]
    found = world.admin.get("/transactions", params={"account_id": account}).json()
    items = found["items"] if isinstance(found, dict) else found
    charges = [t["reference"] for t in items if t["kind"] == "print"]
    assert charges == [f"job:{moved.json()['jobs'][0]}"]


def test_an_unknown_users_job_prints_untracked_or_is_canceled_by_policy(world: World) -> None:
    stranger = f"stranger-{uuid.uuid4().hex[:6]}"
    set_policies(world, unauthenticated="untracked")
    with world.outage():
        printed = finished(world, world.print_text(stranger, "untracked\n"))
    assert printed[0] == COMPLETED
    assert b"untracked\n" in world.printed()
    set_policies(world, unauthenticated="cancel")
    with world.outage(), pytest.raises(IppError) as refused:
        world.print_text(stranger, "canceled\n")  # refused at submission: no job is made
    assert refused.value.status == 0x0403
    assert "site is offline: refused (policy)" in refused.value.message
    assert b"canceled\n" not in world.printed()
    transactions = world.admin.get("/transactions", params={"origin": f"site:{SITE}"}).json()
    items = transactions["items"] if isinstance(transactions, dict) else transactions
    assert all(stranger not in str(t) for t in items)


def test_password_logins_offline_follow_the_policy_while_cards_still_work(world: World) -> None:
    user, card = f"pw-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:10]
    add_user(world.admin, user, 100, password="offline-pass-1")
    assert world.admin.patch(f"/users/{user}", json={"cards": [card]}).status_code == 200

    def login(**body: str) -> int:
        with httpx.Client(base_url=world.site.api, timeout=30) as device:
            answer = device.post(
                "/device/sessions",
                json=body,
                headers={"Authorization": f"Bearer {world.device_token}"},
            )
        return answer.status_code

    set_policies(world, password="deny")
    with world.outage():
        assert login(method="password", username=user, password="offline-pass-1") == 401
        assert login(method="card", card_number=card) == 201
    set_policies(world, password="cache")
    with world.outage():  # the replica holds no password hash from HQ: nothing cached yet
        assert login(method="password", username=user, password="offline-pass-1") == 401
    assert login(method="password", username=user, password="offline-pass-1") == 201  # online
    with world.outage():  # the site kept a hash of the password HQ accepted through it
        assert login(method="password", username=user, password="offline-pass-1") == 201
        assert login(method="password", username=user, password="not-it") == 401


def test_account_selection_offline_only_where_the_config_key_allows_it(world: World) -> None:
    user, card = f"acct-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:10]
    add_user(world.admin, user, 100)
    assert world.admin.patch(f"/users/{user}", json={"cards": [card]}).status_code == 200
    project = f"Project-{uuid.uuid4().hex[:6]}"
    body = {"name": project, "users": [user], "restricted": False}
    assert world.admin.post("/accounts", json=body).status_code == 201

    def select() -> httpx.Response:
        headers = {"Authorization": f"Bearer {world.device_token}"}
        with httpx.Client(base_url=world.site.api, headers=headers, timeout=30) as device:
            session = device.post("/device/sessions", json={"method": "card", "card_number": card})
            assert session.status_code == 201, session.text
            sid = session.json()["session_id"]
            return device.put(f"/device/sessions/{sid}/account", json={"account": project})

    set_policies(world, allow_account_change=False, offline_account="Offline account")
    with world.outage():
        refused = select()
    assert refused.status_code == 403
    assert "'Offline account'" in refused.json()["detail"]
    set_policies(world, allow_account_change=True)
    with world.outage():
        assert select().status_code == 200
