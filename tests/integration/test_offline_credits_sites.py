"""Top-up cards and cash at offline sites, with real processes: an App Server and two Site
Servers behind links that are cut. Both sites redeem the same card while apart and a kiosk
at one takes a note; back online, HQ credits the card once (the other site's credit taken
back, visibly, and reported) and the note once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from printwarden.devices.client import DeviceClient
from printwarden.testing.seeding import add_user, wait_for
from printwarden.testing.site import World, another_site, site_world

KIOSK = "north-kiosk"


@dataclass
class Sites:
    north: World
    south: World
    kiosk_token: str


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    root = tmp_path_factory.mktemp("credit-sites")
    with ExitStack() as stack:
        north = stack.enter_context(site_world(root))
        south = stack.enter_context(another_site(north.app, north.admin, root, "south"))
        token = north.app.device_token(KIOSK, kind="kiosk", login_methods=["card"])
        yield Sites(north, south, token)


def caught_up(sites: Sites) -> None:
    wait_for(lambda: sites.north.caught_up() and sites.south.caught_up(), "both replicas")


def transactions(world: World, name: str) -> list[dict[str, Any]]:
    account = world.admin.get(f"/users/{name}").json()["account_id"]
    found: list[dict[str, Any]] = world.admin.get(
        "/transactions", params={"account_id": account}
    ).json()
    return found


def _taken_back_reported(world: World) -> bool:
    """Whether a site's last reconciliation report (its heartbeat tells HQ) notes it."""
    for name in ("north", "south"):
        report = world.admin.get(f"/sites/{name}").json()["last_report"] or {}
        if any("taken back" in text for text in report.get("notes", [])):
            return True
    return False


def test_cards_and_cash_work_at_offline_sites_and_hq_credits_each_once(sites: Sites) -> None:
    north, south = sites.north, sites.south
    ann, bob = (f"{who}-{uuid.uuid4().hex[:6]}" for who in ("ann", "bob"))
    cards = {}
    for name in (ann, bob):
        add_user(north.admin, name, 0)
        cards[name] = uuid.uuid4().hex[:12]
        assert north.admin.patch(f"/users/{name}", json={"cards": [cards[name]]}).status_code == 200
    made = north.admin.post("/topup-cards/batches", json={"batch_id": "sites", "value": 500,
                                                          "count": 1})  # fmt: skip
    code = made.json()["codes"][0]
    caught_up(sites)
    with ExitStack() as outages:
        outages.enter_context(north.outage())
        outages.enter_context(south.outage())
        with DeviceClient(north.site.url, north.device_token, timeout=10) as device:
            session = device.login_card(cards[ann])
            assert device.redeem(session, code) == 500
        with DeviceClient(south.site.url, south.device_token, timeout=10) as device:
            session = device.login_card(cards[bob])
            assert device.redeem(session, code) == 500  # the south replica knows nothing else
        with DeviceClient(north.site.url, sites.kiosk_token, timeout=10) as kiosk:
            session = kiosk.login_card(cards[ann])
        note = {"insertion_id": "A-0-1", "amount": 1000, "currency": "USD",
                "session_id": session.session_id}  # fmt: skip
        headers = {"Authorization": f"Bearer {sites.kiosk_token}"}
        for _ in range(2):  # the bridge sends it again: credited once
            answer = httpx.post(f"{north.site.api}/device/kiosk/insertions", json=note,
                                headers=headers, timeout=10)  # fmt: skip
            assert answer.status_code in (200, 201), answer.text
    caught_up(sites)
    balances = {name: north.balance(name) for name in (ann, bob)}
    assert sum(balances.values()) == 500 + 1000
    kinds = sorted(t["kind"] for name in (ann, bob) for t in transactions(north, name))
    assert kinds.count("top-up") == 3  # the card twice (once taken back) and the note
    assert kinds.count("adjustment") == 1
    wait_for(lambda: _taken_back_reported(north), "the taken-back credit in a site's report")
    box = north.admin.get(f"/kiosks/{KIOSK}/cash-box").json()
    assert (box["insertions"], box["recorded"]) == (1, 1000)
