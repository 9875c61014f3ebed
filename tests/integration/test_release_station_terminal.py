"""``printwarden release-station`` driven through its stdin like a keyboard-wedge card reader,
against a real App Server, provider and ippeveprinter printers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from support.devices import DeviceRig, device_rig
from support.seeding import WAIT_SECONDS

WELCOME = "Swipe your card"


class Terminal:
    """A release station process: type lines into it, wait for what it shows."""

    def __init__(self, rig: DeviceRig, token: str, idle_seconds: float = 30) -> None:
        command = [
            sys.executable,
            "-m",
            "printwarden",
            "release-station",
            "--server",
            rig.app.url,
            "--idle-seconds",
            str(idle_seconds),
        ]
        env = {**os.environ, "PYTHONIOENCODING": "utf-8", "COLUMNS": "120",
               "PRINTWARDEN_DEVICE_TOKEN": token}  # fmt: skip
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self.shown = ""
        self.seen = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        assert self.process.stdout is not None
        while chunk := os.read(self.process.stdout.fileno(), 4096):
            with self._lock:
                self.shown += chunk.decode("utf-8", errors="replace")

    def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def expect(self, text: str, seconds: float = WAIT_SECONDS) -> str:
        """Wait until ``text`` shows after what was expected before; return what came."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self._lock:
                found = self.shown.find(text, self.seen)
                if found >= 0:
                    came, self.seen = self.shown[self.seen : found + len(text)], found + len(text)
                    return came
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not shown; the station showed:\n{self.shown}")

    def number_of(self, document: str) -> str:
        """The number the last job table gave ``document``."""
        with self._lock:
            rows = re.findall(rf"(\d+)\W+{re.escape(document)}", self.shown)
        assert rows, self.shown
        return str(rows[-1])

    def close(self) -> int:
        """End the input (EOF) and wait for the station to stop."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=WAIT_SECONDS)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeviceRig]:
    with device_rig(tmp_path_factory.mktemp("station")) as world:
        yield world


@pytest.fixture(scope="module")
def token(rig: DeviceRig) -> str:
    return rig.add_device("colour-laser", kind="release-station")[1]


@pytest.fixture
def terminal(rig: DeviceRig, token: str) -> Iterator[Terminal]:
    station = Terminal(rig, token)
    station.expect(WELCOME)
    try:
        yield station
    finally:
        station.kill()


def card() -> str:
    return str(uuid.uuid4().int)[:12]


def test_card_swipe_lists_jobs_and_releases_by_number_and_all(
    rig: DeviceRig, terminal: Terminal
) -> None:
    number = card()
    user = rig.add_user(1000, cards=[number], full_name="Ada Lovelace")
    _, first = rig.hold(user, b"station first\n")
    _, second = rig.hold(user, b"station second\n", "findme")
    terminal.type(number)
    terminal.expect("Hello Ada Lovelace, balance $10.00")
    table = terminal.expect("r N: release")
    assert first in table
    assert second in table
    terminal.type(f"r {terminal.number_of(first)}")
    terminal.expect(f"released {first} ($0.")
    rig.wait_printed("colour-laser", b"station first\n")
    terminal.type("a")
    terminal.expect(f"released {second} ($0.")
    terminal.expect("You have no jobs waiting.")
    rig.wait_printed("colour-laser", b"station second\n")
    terminal.type("q")
    terminal.expect("logged out")
    assert rig.open_sessions(user) == 0
    assert terminal.close() == 0


def test_cancel_by_number_and_a_bad_number(rig: DeviceRig, terminal: Terminal) -> None:
    number = card()
    user = rig.add_user(1000, cards=[number])
    job_id, document = rig.hold(user, b"station cancel\n")
    terminal.type(number)
    terminal.expect(document)
    terminal.type("c 9")
    terminal.expect("no job 9")
    terminal.type(f"cancel {terminal.number_of(document)}")
    terminal.expect(f"canceled {document}")
    terminal.expect("You have no jobs waiting.")
    assert rig.job_status(user, job_id) is None
    assert terminal.close() == 0
    assert b"station cancel\n" not in rig.received("colour-laser")


def test_login_with_password_and_with_identity_number(rig: DeviceRig, terminal: Terminal) -> None:
    identity = card()
    user = rig.add_user(1000, password="station-pass", identity_number=identity, pin="8642")
    terminal.type(f"login {user}")
    terminal.expect("password: ")
    terminal.type("wrong-pass")
    terminal.expect("login refused")
    terminal.type(f"login {user}")
    terminal.expect("password: ")
    terminal.type("station-pass")
    terminal.expect(f"Hello {user}")
    terminal.type("logout")
    terminal.expect("logged out")
    terminal.type(f"id {identity}")
    terminal.expect("PIN: ")
    terminal.type("8642")
    terminal.expect(f"Hello {user}")
    assert terminal.close() == 0
    terminal.expect("logged out")


def test_unknown_card_is_refused_and_a_new_swipe_changes_user(
    rig: DeviceRig, terminal: Terminal
) -> None:
    terminal.type(card())
    terminal.expect("login refused")
    first, second = card(), card()
    rig.add_user(100, cards=[first])
    other = rig.add_user(100, cards=[second])
    terminal.type(first)
    terminal.expect("Hello")
    terminal.type(second)
    terminal.expect("logged out")
    terminal.expect(f"Hello {other}")
    assert terminal.close() == 0


def test_idle_station_logs_out_by_itself(rig: DeviceRig, token: str) -> None:
    number = card()
    user = rig.add_user(1000, cards=[number])
    job_id, document = rig.hold(user, b"idle station\n")
    station = Terminal(rig, token, idle_seconds=1)
    try:
        station.expect(WELCOME)
        station.type(number)
        station.expect(document)
        station.expect("logged out after 1 s without input", seconds=10)
        assert rig.open_sessions(user) == 0
        station.type("a")
        station.expect(WELCOME)
        time.sleep(0.5)
        assert rig.job_status(user, job_id) == "held"
        assert station.close() == 0
    finally:
        station.kill()


def test_end_of_input_logs_out_and_ends(rig: DeviceRig, terminal: Terminal) -> None:
    number = card()
    user = rig.add_user(1000, cards=[number])
    terminal.type(number)
    terminal.expect("Hello")
    assert rig.open_sessions(user) == 1
    assert terminal.close() == 0
    terminal.expect("logged out")
    assert rig.open_sessions(user) == 0
