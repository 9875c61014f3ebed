"""The pay station in a real browser against a real App Server, with a simulated note
acceptor (ccTalk on a pseudo-terminal) and the real bridge process between them.

A person swipes a card on the kiosk page, inserts notes and watches the balance rise; the
bridge is killed with SIGKILL after a note went in and before it acknowledged it, and after a
restart that note is credited exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from printwarden.domain.accounts import Role
from printwarden.files import write_private
from printwarden.sim.cash_acceptor import SimulatedAcceptor
from support.appserver import AppServer
from support.seeding import wait_for

KIOSK = "lobby-kiosk"
TIMEOUT_MS = 15_000


@dataclass
class World:
    app: AppServer
    admin: httpx.Client
    token: str
    acceptor: SimulatedAcceptor
    root: Path
    bridge: subprocess.Popen[bytes] | None = None

    def start_bridge(self) -> None:
        token_file = write_private(self.root / "kiosk.token", self.token + "\n")
        command = [sys.executable, "-m", "printwarden.devices.kiosk_bridge",
                   "--server", self.app.url, "--token-file", str(token_file),
                   "--port", self.acceptor.port, "--state-file", str(self.root / "state.json"),
                   "--currency", "USD", "--poll-interval", "0.1"]  # fmt: skip
        with (self.root / "bridge.log").open("ab") as log:
            self.bridge = subprocess.Popen(command, stdout=log, stderr=log)

    def kill_bridge(self) -> None:
        assert self.bridge is not None
        os.kill(self.bridge.pid, signal.SIGKILL)
        self.bridge.wait(timeout=10)
        self.bridge = None

    def balance(self, username: str) -> int:
        found: int = self.admin.get(f"/users/{username}").json()["balance"]
        return found


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("kiosk")
    app = AppServer(f"sqlite:///{root / 'app.db'}", root)
    app.start()
    try:
        token = app.device_token(KIOSK, kind="kiosk", login_methods=["card", "password"])
        headers = {"Authorization": f"Bearer {app.token(Role.ADMIN, 'kiosk-admin')}"}
        with (
            httpx.Client(base_url=app.api, headers=headers, timeout=30) as admin,
            SimulatedAcceptor(currency="USD", notes=(500, 1000, 2000)) as acceptor,
        ):
            found = World(app, admin, token, acceptor, root)
            found.start_bridge()
            try:
                yield found
            finally:
                if found.bridge is not None:
                    found.kill_bridge()
    finally:
        app.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    errors: list[str] = []
    tab = context.new_page()
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield tab
    finally:
        context.close()
    assert errors == []


def freeze_while_accepting(world: World) -> None:
    """Stop the bridge (SIGSTOP) at a moment the acceptor takes notes: a loaded machine can
    have it inhibit the acceptor for a round (a slow answer), so try until it holds."""
    assert world.bridge is not None
    for _ in range(20):
        wait_for(lambda: world.acceptor.accepting, "the acceptor taking notes")
        os.kill(world.bridge.pid, signal.SIGSTOP)
        time.sleep(0.3)  # a command already on the line reaches the acceptor
        if world.acceptor.accepting:
            return
        os.kill(world.bridge.pid, signal.SIGCONT)
    raise AssertionError("the acceptor never stayed enabled with the bridge stopped")


def test_cash_raises_the_balance_once_even_across_a_killed_bridge(world: World, page: Page) -> None:
    username, card = f"payer-{uuid.uuid4().hex[:6]}", str(uuid.uuid4().int)[:12]
    created = world.admin.post("/users", json={"username": username, "cards": [card]})
    assert created.status_code == 201, created.text
    page.goto(f"{world.app.url}/kiosk/{KIOSK}#token={world.token}")
    expect(page.get_by_role("heading", name="Swipe your card to add credit")).to_be_visible()
    page.keyboard.type(card)
    page.keyboard.press("Enter")
    expect(page.locator("#balance")).to_have_text("0.00 USD")
    wait_for(lambda: world.acceptor.accepting, "the acceptor enabled while someone is logged in")
    assert world.acceptor.insert(500)
    expect(page.locator("#balance")).to_have_text("5.00 USD")
    expect(page.locator("#added")).to_have_text("Added 5.00 USD")
    # A note goes in while the bridge is frozen, then the bridge dies before it could
    # deliver or acknowledge it; the acceptor still holds the event.
    freeze_while_accepting(world)
    assert world.acceptor.insert(1000)
    world.kill_bridge()
    assert world.balance(username) == 500
    world.start_bridge()
    expect(page.locator("#balance")).to_have_text("15.00 USD")
    wait_for(lambda: world.balance(username) == 1500, "the note credited after the restart")
    # And once only: another restart sends nothing again.
    world.kill_bridge()
    world.start_bridge()
    wait_for(lambda: world.acceptor.accepting, "the restarted bridge accepting again")
    assert world.balance(username) == 1500
    box = world.admin.get(f"/kiosks/{KIOSK}/cash-box").json()
    assert (box["insertions"], box["recorded"]) == (2, 1500)
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("heading", name="Swipe your card to add credit")).to_be_visible()
    wait_for(lambda: not world.acceptor.accepting, "the acceptor inhibited once nobody is there")
