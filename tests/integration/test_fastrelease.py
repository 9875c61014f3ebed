"""Fast Release end to end: ``printwarden fastrelease serve`` in front of a real App Server,
provider and ippeveprinter printers; readers simulated by ``printwarden cardreader simulate``
connecting from their own loopback addresses (127.0.0.x)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from printwarden.sim.ports import free_port
from printwarden.testing import processes
from support.devices import DeviceRig, device_rig
from support.seeding import wait_for

ELATEC_READER = "127.0.0.2"  # at the colour printer
RFIDEAS_READER = "127.0.0.3"  # at the lobby printer, sends hexadecimal
BAD_TOKEN_READER = "127.0.0.4"
UNKNOWN_READER = "127.0.0.9"


@dataclass
class Listener:
    rig: DeviceRig
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    def read_cards(self, source: str, *cards: str, preset: str = "elatec") -> None:
        """Send card reads as the reader at ``source``; returns once the listener hung up."""
        result = self.rig.cli(
            "cardreader",
            "simulate",
            "--port",
            str(self.port),
            "--source",
            source,
            "--preset",
            preset,
            *cards,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    def wait_log(self, text: str) -> None:
        wait_for(lambda: text in self.log.read_text(), f"{text!r} in the listener's log")

    def log_text(self) -> str:
        return self.log.read_text()


def card() -> str:
    return str(uuid.uuid4().int)[:12]


@pytest.fixture(scope="module")
def listener(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Listener]:
    root = tmp_path_factory.mktemp("fastrelease")
    with device_rig(root) as rig:
        _, colour_token = rig.add_device("colour-laser", kind="card-reader")
        _, lobby_token = rig.add_device("lobby-laser", kind="card-reader")
        port = free_port()
        config = root / "readers.toml"
        config.write_text(
            f'[listener]\nhost = "127.0.0.1"\nport = {port}\n'
            f'[[readers]]\nname = "colour"\naddress = "{ELATEC_READER}"\n'
            f'token = "{colour_token}"\npreset = "elatec"\n'
            f'[[readers]]\naddress = "{RFIDEAS_READER}"\ntoken = "{lobby_token}"\n'
            f'preset = "rfideas-hex"\n'
            f'[[readers]]\naddress = "{BAD_TOKEN_READER}"\ntoken = "not-a-device-token"\n'
        )
        log = root / "fastrelease.log"
        command = [
            sys.executable,
            "-m",
            "printwarden",
            "fastrelease",
            "serve",
            "--server",
            rig.app.url,
            "--config",
            str(config),
        ]
        with log.open("wb") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        try:
            processes.wait_ready(
                process, lambda: "listening on" in log.read_text(), "fastrelease", log
            )
            yield Listener(rig, port, log, process)
        finally:
            processes.stop(process)


def test_a_card_read_prints_the_users_jobs_at_the_readers_printer(listener: Listener) -> None:
    rig, number = listener.rig, card()
    user = rig.add_user(1000, cards=[number])
    held_id, _ = rig.hold(user, b"fast release held\n", "secure")
    findme_id, _ = rig.hold(user, b"fast release find me\n", "findme")
    listener.read_cards(ELATEC_READER, number)
    rig.wait_printed("colour-laser", b"fast release held\n")
    rig.wait_printed("colour-laser", b"fast release find me\n")
    assert b"fast release held\n" not in rig.received("lobby-laser")
    listener.wait_log(f"reader colour ({ELATEC_READER}): {user}: released 2 jobs")
    assert rig.job_status(user, held_id) in ("releasing", None)
    assert rig.job_status(user, findme_id) in ("releasing", None)
    assert rig.open_sessions(user) == 0
    wait_for(lambda: rig.balance(user) < 1000, "the charge")


def test_a_reader_sending_hexadecimal_releases_at_its_own_printer(listener: Listener) -> None:
    rig, number = listener.rig, card()
    user = rig.add_user(1000, cards=[number])
    rig.hold(user, b"hex reader\n", "secure")
    listener.read_cards(RFIDEAS_READER, f"{int(number):X}", preset="rfideas")
    rig.wait_printed("lobby-laser", b"hex reader\n")
    listener.wait_log(f"reader {RFIDEAS_READER}: {user}: released 1 job")


def test_an_unknown_reader_is_hung_up_on_without_side_effects(listener: Listener) -> None:
    rig, number = listener.rig, card()
    user = rig.add_user(1000, cards=[number])
    job_id, _ = rig.hold(user, b"unknown reader\n", "secure")
    listener.read_cards(UNKNOWN_READER, number)
    listener.wait_log(f"connection from unknown reader {UNKNOWN_READER} closed")
    time.sleep(1.0)
    assert rig.job_status(user, job_id) == "held"
    assert b"unknown reader\n" not in rig.received("lobby-laser")
    assert b"unknown reader\n" not in rig.received("colour-laser")
    assert rig.balance(user) == 1000


def test_unknown_cards_and_noise_are_logged_and_the_next_read_still_works(
    listener: Listener,
) -> None:
    rig, number, stranger = listener.rig, card(), card()
    user = rig.add_user(1000, cards=[number])
    rig.hold(user, b"after the noise\n", "secure")
    other = rig.add_user(1000, cards=[card()])
    other_id, _ = rig.hold(other, b"not touched\n", "secure")
    listener.read_cards(ELATEC_READER, stranger, "bad card", number)
    listener.wait_log(f"card …{stranger[-4:]} refused")
    listener.wait_log("ignored a read")
    rig.wait_printed("colour-laser", b"after the noise\n")
    assert rig.job_status(other, other_id) == "held"


def test_the_listener_keeps_serving_after_a_reader_is_refused(listener: Listener) -> None:
    rig, number = listener.rig, card()
    user = rig.add_user(1000, cards=[number])
    job_id, _ = rig.hold(user, b"bad token first\n", "secure")
    listener.read_cards(BAD_TOKEN_READER, number)
    listener.wait_log(f"reader {BAD_TOKEN_READER}: card …{number[-4:]} refused")
    assert rig.job_status(user, job_id) == "held"
    listener.read_cards(ELATEC_READER, number)
    rig.wait_printed("colour-laser", b"bad token first\n")
    assert listener.process.poll() is None
