"""The release station's input loop, without a server: parsing, timed reads, its loop."""

from __future__ import annotations

import io
import os
import threading
import time

import pytest

from printwarden.devices.client import DeviceClient
from printwarden.devices.release_station import (
    WELCOME,
    Command,
    LineReader,
    ReleaseStation,
    parse_command,
)
from printwarden.sim.ports import free_port


@pytest.mark.parametrize(
    ("line", "command"),
    [
        ("", Command("empty")),
        ("   ", Command("empty")),
        ("0004711", Command("card", text="0004711")),
        ("r 2", Command("release", number=2)),
        ("release 12", Command("release", number=12)),
        ("c 1", Command("cancel", number=1)),
        ("CANCEL 3", Command("cancel", number=3)),
        ("a", Command("all")),
        ("all", Command("all")),
        ("q", Command("logout")),
        ("logout", Command("logout")),
        ("l", Command("list")),
        ("login alice", Command("login", text="alice")),
        ("id 4711", Command("identity", text="4711")),
        ("copy 5", Command("copy", number=5)),
        ("r", Command("unknown", text="r")),
        ("r x", Command("unknown", text="r x")),
        ("a 2", Command("unknown", text="a 2")),
        ("login", Command("unknown", text="login")),
        ("print my job", Command("unknown", text="print my job")),
    ],
)
def test_lines_parse_into_commands(line: str, command: Command) -> None:
    assert parse_command(line) == command


def test_line_reader_times_out_then_reads_then_ends() -> None:
    read_fd, write_fd = os.pipe()
    with os.fdopen(read_fd, "r") as reading, os.fdopen(write_fd, "w") as writing:
        lines = LineReader(reading)
        started = time.monotonic()
        assert lines.read(timeout=0.2) is None
        assert time.monotonic() - started >= 0.2
        writing.write("1001\r\nlogin bob\n")
        writing.flush()
        assert lines.read(timeout=5) == "1001"
        assert lines.read(timeout=5) == "login bob"
        writing.close()
        with pytest.raises(EOFError):
            lines.read(timeout=5)
        with pytest.raises(EOFError):
            lines.read(timeout=5)


def run_station(text: str, idle_seconds: float = 30.0) -> str:
    """Drive a station whose server does not answer; return what it showed."""
    output = io.StringIO()
    with DeviceClient(f"http://127.0.0.1:{free_port()}", "device-token", timeout=2) as client:
        station = ReleaseStation(client, io.StringIO(text), output, idle_seconds)
        finished = threading.Thread(target=station.run)
        finished.start()
        finished.join(timeout=30)
        assert not finished.is_alive(), "the station did not stop at the end of input"
    return output.getvalue()


def test_station_greets_and_stops_at_the_end_of_input() -> None:
    assert run_station("").strip() == WELCOME


def test_station_reports_an_unavailable_server_and_keeps_going() -> None:
    shown = run_station("1001\nlogin alice\nsecret\nid 4711\n1234\n")
    assert shown.count("the server is unavailable") == 3
    assert "password: " in shown
    assert "PIN: " in shown
    assert "secret" not in shown.replace("password: ", "")


def test_station_without_a_session_asks_for_a_card_for_commands() -> None:
    shown = run_station("r 1\nall\n")
    assert shown.count(WELCOME) == 3
    assert "unavailable" not in shown


def test_station_gives_up_a_login_when_the_password_does_not_come() -> None:
    output = io.StringIO()
    read_fd, write_fd = os.pipe()
    with (
        os.fdopen(read_fd, "r") as reading,
        os.fdopen(write_fd, "w") as writing,
        DeviceClient(f"http://127.0.0.1:{free_port()}", "device-token") as client,
    ):
        station = ReleaseStation(client, reading, output, idle_seconds=0.3)
        thread = threading.Thread(target=station.run)
        thread.start()
        writing.write("login alice\n")
        writing.flush()
        time.sleep(1.0)
        writing.close()
        thread.join(timeout=10)
    assert "no answer; cancelled" in output.getvalue()
    assert "unavailable" not in output.getvalue()
