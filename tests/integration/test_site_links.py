"""Links that misbehave: one flapping every second, and two sites offline at once that
reconcile concurrently into one App Server."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from support.seeding import add_user, wait_for
from support.site import World, another_site, site_world

FLAP_SECONDS = float(os.environ.get("PRINTWARDEN_FLAP_SECONDS", "12"))  # make chaos: 60


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with site_world(tmp_path_factory.mktemp("links")) as made:
        yield made


def customer(world: World, balance: int = 1_000) -> tuple[str, str]:
    name, card = f"link-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:10]
    add_user(world.admin, name, balance, restricted=False)
    assert world.admin.patch(f"/users/{name}", json={"cards": [card]}).status_code == 200
    return name, card


def test_a_link_flapping_every_second_neither_thrashes_nor_fails_a_client(world: World) -> None:
    user, _ = customer(world)
    wait_for(world.caught_up, "the site caught up")
    before = world.site.status()["mode_changes"]
    flapping = world.link.flap(1.0, FLAP_SECONDS)
    sent: list[bytes] = []
    deadline = time.monotonic() + FLAP_SECONDS
    while time.monotonic() < deadline:
        data = f"flap {uuid.uuid4().hex}\n"
        world.print_text(user, data)  # must be accepted every time
        sent.append(data.encode())
        time.sleep(0.5)
    flapping.result(timeout=FLAP_SECONDS + 10)
    wait_for(lambda: world.site.status()["mode"] == "online", "the site online", 60)
    wait_for(lambda: set(sent) <= set(world.printed()), "every job printed", 60)
    wait_for(lambda: world.balance(user) == 1_000 - 10 * len(sent), "every job charged once", 60)
    changes = world.site.status()["mode_changes"] - before
    assert changes <= 3, f"{changes} mode changes in {FLAP_SECONDS:.0f} s of flapping"


def test_two_sites_offline_at_once_reconcile_concurrently(world: World, tmp_path: Path) -> None:
    with another_site(world.app, world.admin, tmp_path, "south") as south:
        sites = {"north": world, "south": south}
        users = {name: customer(world) for name in sites}
        for name, place in sites.items():
            wait_for(place.caught_up, f"{name} caught up")
        for place in sites.values():
            place.link.down()
        for name, place in sites.items():
            wait_for(_is(place, "offline"), f"{name} offline")
            user, card = users[name]
            for n in range(3):
                place.print_text(user, f"{name} offline {n}\n")
            _copy(place, card)
        for place in sites.values():
            place.link.up()  # both reconcile at once
        charged = 1_000 - 3 * 10 - 2 * 10
        for name, place in sites.items():
            wait_for(_is(place, "online"), f"{name} online", 60)
            wait_for(lambda: _balances(world, users) == {charged}, "both sites' charges", 60)
        wait_for(lambda: _hq_modes(world) == {"north": "online", "south": "online"}, "HQ's view")


def _balances(world: World, users: dict[str, tuple[str, str]]) -> set[int]:
    return {world.balance(user) for user, _ in users.values()}


def _is(place: World, mode: str) -> Callable[[], bool]:
    return lambda: place.site.status()["mode"] == mode


def _hq_modes(world: World) -> dict[str, str]:
    return {site["name"]: site["mode"] for site in world.admin.get("/sites").json()}


def _copy(world: World, card: str) -> None:
    headers = {"Authorization": f"Bearer {world.device_token}"}
    with httpx.Client(base_url=world.site.api, headers=headers, timeout=30) as device:
        session = device.post("/device/sessions", json={"method": "card", "card_number": card})
        assert session.status_code == 201, session.text
        usage = {"usage_id": str(uuid.uuid4()), "kind": "copy", "pages": 2}
        path = f"/device/sessions/{session.json()['session_id']}/usage"
        assert device.post(path, json=usage).status_code == 200
