"""A Site Server with a beacon (``site/beacon.py``, ``service/beacon.py``), real processes
through a link: its long poll goes quiet, changes still arrive at once, a cut is seen
within a second, and it comes back on its own."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from support.seeding import add_user, wait_for
from support.site import World, site_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with site_world(tmp_path_factory.mktemp("beacon"), beacon=True) as made:
        wait_for(lambda: made.site.status()["beacon"], "the site's beacon", 30)
        yield made


def hq_counter(world: World, service: str, counter: str) -> int:
    text = httpx.get(f"{world.app.url}/metrics", headers=world.admin.headers).text
    line = f'printwarden_{service}{{counter="{counter}"}} '
    return int(next(row for row in text.splitlines() if row.startswith(line)).split()[-1])


def held(world: World) -> bool:
    return bool(world.site.status()["mode"] == "online" and world.site.status()["beacon"])


def test_with_a_beacon_the_long_poll_is_quiet_and_hq_sees_the_site(world: World) -> None:
    wait_for(lambda: hq_counter(world, "quiet_beats", "beating_polls") == 1, "a quiet poll")
    assert hq_counter(world, "beats", "beating_polls") == 0  # none beats 4 times a second
    assert hq_counter(world, "beacon", "beacons") == 1
    site = world.admin.get("/sites/north").json()
    assert site["reachable"] is True
    assert site["mode"] == "online"


def test_a_change_reaches_the_site_at_once_through_the_quiet_poll(world: World) -> None:
    wait_for(world.caught_up, "the site caught up")
    name = f"beacon-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    add_user(world.admin, name, 500, restricted=False)
    wait_for(world.caught_up, "the change at the site", 10)
    assert time.monotonic() - started < 3


def test_a_cut_is_seen_within_a_second_and_the_site_comes_back(world: World) -> None:
    wait_for(lambda: held(world), "the site online with its beacon")
    world.link.down()
    cut = time.monotonic()
    try:
        while world.site.status()["mode"] == "online" and time.monotonic() - cut < 5:
            time.sleep(0.01)
        took = time.monotonic() - cut
        assert took < 1.5, f"offline {took:.2f} s after the cut"
        assert world.site.status()["beacon"] is False
        wait_for(lambda: not world.admin.get("/sites/north").json()["reachable"],
                 "HQ sees the site unreachable", 15)  # fmt: skip
    finally:
        world.link.up()
    wait_for(lambda: held(world), "the site back online with its beacon", 30)
    reason = world.admin.get("/sites/north").json()["outages"][-1]["reason"]
    assert reason.startswith(("beacon", "heartbeat")), reason  # whichever failed first
