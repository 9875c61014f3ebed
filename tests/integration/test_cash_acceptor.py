"""Cash acceptors: the ccTalk driver against the simulated validator over its pty, and the kiosk
bridge (in a thread and as a process) against a small fake print server that credits each
insertion id once."""

from __future__ import annotations

import json
import logging
import signal
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from printwarden.devices.acceptors import AcceptorError, Insertion
from printwarden.devices.acceptors.cctalk_driver import CcTalkAcceptor
from printwarden.devices.kiosk_bridge import main, run_bridge
from printwarden.sim.cash_acceptor import SimulatedAcceptor
from printwarden.sim.processes import stop_process
from support.seeding import wait_for

TOKEN = "kiosk-device-token"
WAIT = 20.0


@pytest.fixture
def sim() -> Iterator[SimulatedAcceptor]:
    with SimulatedAcceptor(currency="EUR", notes=(500, 1000, 2000, 5000)) as acceptor:
        yield acceptor


@pytest.fixture
def state_file(tmp_path: Path) -> Path:
    return tmp_path / "acceptor-state.json"


@contextmanager
def driver(sim: SimulatedAcceptor, state_file: Path) -> Iterator[CcTalkAcceptor]:
    with CcTalkAcceptor(sim.port, state_file) as acceptor:
        yield acceptor


def ids(insertions: list[Insertion]) -> list[str]:
    return [insertion.event_id for insertion in insertions]


# --- the driver --------------------------------------------------------------------------------


def test_the_driver_reads_the_serial_number_and_starts_inhibited(
    sim: SimulatedAcceptor, state_file: Path
) -> None:
    with driver(sim, state_file) as acceptor:
        assert acceptor.identity() == str(sim.serial)
        assert not sim.accepting
        acceptor.set_accepting(True)
        assert sim.accepting
        acceptor.set_accepting(False)
        assert not sim.accepting
    saved = json.loads(state_file.read_text())
    assert saved == {"serial": str(sim.serial), "cycle": 0, "last_counter": 0}
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600


def test_notes_refused_while_inhibited_are_never_credited(
    sim: SimulatedAcceptor, state_file: Path
) -> None:
    with driver(sim, state_file) as acceptor:
        assert sim.insert(500) is False
        acceptor.set_accepting(True)
        assert sim.insert(700) is False  # a note it does not know
        acceptor.set_accepting(False)
        assert sim.insert(1000) is False
        assert acceptor.poll() == []
    assert sim.stacked == []
    assert sim.counter == 3  # the refusals were events, none of them a credit


def test_notes_are_polled_once_with_stable_ids_until_acknowledged(
    sim: SimulatedAcceptor, state_file: Path
) -> None:
    with driver(sim, state_file) as acceptor:
        acceptor.set_accepting(True)
        assert sim.insert(500)
        assert sim.insert(2000)
        first = acceptor.poll()
        assert [(i.value, i.currency) for i in first] == [(500, "EUR"), (2000, "EUR")]
        assert len(set(ids(first))) == 2
        assert acceptor.poll() == first
        assert sim.insert(5000)
        assert acceptor.poll()[:2] == first
        everything = ids(acceptor.poll())
    with driver(sim, state_file) as again:  # a new bridge, nothing acknowledged
        assert ids(again.poll()) == everything
        for event in everything:
            again.acknowledge(event)
        assert again.poll() == []
    with driver(sim, state_file) as after:
        assert after.poll() == []
    saved = json.loads(state_file.read_text())
    assert saved["last_counter"] == sim.counter == 3


def test_progress_only_moves_past_notes_acknowledged_in_order(
    sim: SimulatedAcceptor, state_file: Path
) -> None:
    with driver(sim, state_file) as acceptor:
        acceptor.set_accepting(True)
        for value in (500, 1000, 2000):
            assert sim.insert(value)
        first, second, third = ids(acceptor.poll())
        acceptor.acknowledge(second)
        assert ids(acceptor.poll()) == [first, third]
    with driver(sim, state_file) as again:
        assert ids(again.poll()) == [first, second, third]  # the server credits second once
        again.acknowledge(first)
    with driver(sim, state_file) as last:
        assert ids(last.poll()) == [second, third]


def test_ids_stay_unique_across_the_counter_wrap(sim: SimulatedAcceptor, state_file: Path) -> None:
    seen: list[Insertion] = []
    with driver(sim, state_file) as acceptor:
        acceptor.set_accepting(True)
        for batch in range(75):  # 300 notes, more than one turn of the counter
            for _ in range(4):
                assert sim.insert(1000)
            for insertion in acceptor.poll():
                seen.append(insertion)
                acceptor.acknowledge(insertion.event_id)
            if batch == 40:  # a restart in the middle
                acceptor.close()
                acceptor.open()
                acceptor.set_accepting(True)
    assert len(seen) == 300
    assert len(set(ids(seen))) == 300
    assert sum(i.value for i in seen) == sum(sim.stacked) == 300_000
    assert ids(seen)[254:256] == [f"{sim.serial}-0-255", f"{sim.serial}-1-1"]
    assert json.loads(state_file.read_text())["cycle"] == 1


def test_a_reset_acceptor_starts_a_new_cycle_and_is_enabled_again(
    sim: SimulatedAcceptor, state_file: Path
) -> None:
    with driver(sim, state_file) as acceptor:
        acceptor.set_accepting(True)
        assert sim.insert(500)
        before = acceptor.poll()
        acceptor.acknowledge(before[0].event_id)
        sim.power_cycle()
        assert not sim.accepting
        assert acceptor.poll() == []  # counter 0 seen: a reset
        acceptor.set_accepting(True)
        assert sim.accepting
        assert sim.insert(500)
        after = acceptor.poll()
    assert ids(before) == [f"{sim.serial}-0-1"]
    assert ids(after) == [f"{sim.serial}-1-1"]


def test_the_driver_skips_the_echo_of_a_one_wire_bus(state_file: Path) -> None:
    with SimulatedAcceptor(echo=True) as sim, driver(sim, state_file) as acceptor:
        assert acceptor.identity() == str(sim.serial)
        acceptor.set_accepting(True)
        assert sim.insert(1000)
        assert [i.value for i in acceptor.poll()] == [1000]


def test_an_acceptor_that_never_answers_fails_to_open(state_file: Path) -> None:
    """``loop://`` hands the driver back its own frames: echo, and no reply."""
    silent = CcTalkAcceptor("loop://", state_file, timeout=0.1, retries=1)
    with pytest.raises(AcceptorError, match="no reply"):
        silent.open()
    silent.close()
    assert not state_file.exists()


# --- a fake print server -----------------------------------------------------------------------


class FakePrintServer:
    """The kiosk part of the device API: credits each insertion id once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.accepting = True
        self.currency = "EUR"
        self.post_status: int | None = None  # answer every POST with this, crediting nothing
        self.hold_first_post = False  # credit the first POST, answer it once released
        self.released = threading.Event()
        self.credits: dict[str, int] = {}
        self.posts: list[str] = []
        self.refused = 0  # requests with a wrong token
        self.port = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._server = _Server(("127.0.0.1", self.port), self)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self.released.set()
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def kiosk(self) -> dict[str, Any]:
        with self.lock:
            return {
                "accepting": self.accepting,
                "session": {"id": "s-1"} if self.accepting else None,
                "currency": self.currency,
            }

    def insertion(self, body: dict[str, Any]) -> int:
        with self.lock:
            self.posts.append(body["insertion_id"])
            if self.post_status is not None:
                return self.post_status
            if body["insertion_id"] in self.credits:
                return 200
            self.credits[body["insertion_id"]] = body["amount"]
            hold, self.hold_first_post = self.hold_first_post, False
        if hold:
            self.released.wait(WAIT)
        return 201


class _Server(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], fake: FakePrintServer) -> None:
        super().__init__(address, _Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-answer is expected here."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _authorized(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {TOKEN}":
            return True
        with self.server.fake.lock:
            self.server.fake.refused += 1
        self._answer(401, {"title": "Unauthorized"})
        return False

    def do_GET(self) -> None:
        if self._authorized() and self.path == "/api/v1/device/kiosk":
            self._answer(200, self.server.fake.kiosk())
        elif self.path != "/api/v1/device/kiosk":
            self._answer(404, {"title": "Not Found"})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self._authorized() and self.path == "/api/v1/device/kiosk/insertions":
            self._answer(self.server.fake.insertion(body), {})


@pytest.fixture
def server() -> Iterator[FakePrintServer]:
    fake = FakePrintServer()
    fake.start()
    yield fake
    fake.stop()


@contextmanager
def bridge_thread(
    server: FakePrintServer, sim: SimulatedAcceptor, state_file: Path, token: str = TOKEN
) -> Iterator[None]:
    stop = threading.Event()
    acceptor = CcTalkAcceptor(sim.port, state_file)
    thread = threading.Thread(
        target=run_bridge,
        args=(server.url, token, acceptor, stop, 0.05),
        kwargs={"currency": "EUR", "max_backoff": 0.4},
        daemon=True,
    )
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(WAIT)
        assert not thread.is_alive()


def credited(server: FakePrintServer) -> dict[str, int]:
    with server.lock:
        return dict(server.credits)


def posted(server: FakePrintServer) -> list[str]:
    with server.lock:
        return list(server.posts)


# --- the bridge --------------------------------------------------------------------------------


def test_the_bridge_credits_a_note_once_and_follows_the_server(
    server: FakePrintServer, sim: SimulatedAcceptor, state_file: Path
) -> None:
    with bridge_thread(server, sim, state_file):
        wait_for(lambda: sim.accepting, "the acceptor enabled", WAIT)
        assert sim.insert(2000)
        wait_for(lambda: credited(server), "a credit", WAIT)
        wait_for(lambda: json.loads(state_file.read_text())["last_counter"] == 1, "ack", WAIT)
        with server.lock:
            server.accepting = False
        wait_for(lambda: not sim.accepting, "the acceptor inhibited", WAIT)
        assert sim.insert(500) is False
        with server.lock:
            server.accepting = True
        wait_for(lambda: sim.accepting, "the acceptor enabled again", WAIT)
    assert not sim.accepting  # inhibited as the bridge stopped
    assert credited(server) == {f"{sim.serial}-0-1": 2000}
    assert posted(server) == [f"{sim.serial}-0-1"]


@pytest.mark.parametrize("status", [409, 422, 503])
def test_an_insertion_the_server_does_not_take_is_kept_and_the_acceptor_inhibited(
    server: FakePrintServer, sim: SimulatedAcceptor, state_file: Path, status: int
) -> None:
    with bridge_thread(server, sim, state_file):
        wait_for(lambda: sim.accepting, "the acceptor enabled", WAIT)
        with server.lock:
            server.post_status = status
        assert sim.insert(1000)
        wait_for(lambda: len(posted(server)) >= 2, "the insertion retried", WAIT)
        wait_for(lambda: not sim.accepting, "the acceptor inhibited while it waits", WAIT)
        with server.lock:
            server.post_status = None
        wait_for(lambda: credited(server), "the insertion credited", WAIT)
        wait_for(lambda: sim.accepting, "the acceptor enabled again", WAIT)
    assert credited(server) == {f"{sim.serial}-0-1": 1000}
    assert set(posted(server)) == {f"{sim.serial}-0-1"}


def test_the_bridge_delivers_what_it_kept_while_the_server_was_unreachable(
    server: FakePrintServer, sim: SimulatedAcceptor, state_file: Path
) -> None:
    with bridge_thread(server, sim, state_file):
        wait_for(lambda: sim.accepting, "the acceptor enabled", WAIT)
        with server.lock:
            server.post_status = 503
        assert sim.insert(5000)
        wait_for(lambda: posted(server), "a first attempt", WAIT)
        server.stop()
        wait_for(lambda: not sim.accepting, "the acceptor inhibited", WAIT)
        threading.Event().wait(1.0)  # a while without any server: network errors
        assert sim.insert(500) is False  # no money taken meanwhile
        server.post_status = None
        server.start()
        wait_for(lambda: credited(server), "the insertion credited", WAIT)
        wait_for(lambda: sim.accepting, "the acceptor enabled again", WAIT)
    assert credited(server) == {f"{sim.serial}-0-1": 5000}
    assert sim.stacked == [5000]


def test_a_bridge_with_a_wrong_token_never_takes_money(
    server: FakePrintServer, sim: SimulatedAcceptor, state_file: Path
) -> None:
    with bridge_thread(server, sim, state_file, token="wrong"):
        wait_for(lambda: server.refused >= 3, "three refused rounds", WAIT)
        assert not sim.accepting
        assert sim.insert(500) is False
    assert credited(server) == {}


def test_a_reset_acceptor_is_enabled_again_and_its_notes_get_new_ids(
    server: FakePrintServer, sim: SimulatedAcceptor, state_file: Path
) -> None:
    with bridge_thread(server, sim, state_file):
        wait_for(lambda: sim.accepting, "the acceptor enabled", WAIT)
        assert sim.insert(500)
        wait_for(lambda: len(credited(server)) == 1, "the first credit", WAIT)
        sim.power_cycle()
        wait_for(lambda: sim.accepting, "the acceptor enabled after its reset", WAIT)
        assert sim.insert(500)
        wait_for(lambda: len(credited(server)) == 2, "the second credit", WAIT)
    assert credited(server) == {f"{sim.serial}-0-1": 500, f"{sim.serial}-1-1": 500}


def test_the_bridge_outlives_a_missing_acceptor(
    server: FakePrintServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stop = threading.Event()
    acceptor = CcTalkAcceptor(str(tmp_path / "no-such-tty"), tmp_path / "state.json")
    thread = threading.Thread(
        target=run_bridge, args=(server.url, TOKEN, acceptor, stop, 0.02), daemon=True
    )
    with caplog.at_level(logging.ERROR, "printwarden.devices.kiosk_bridge"):
        thread.start()
        wait_for(lambda: len(caplog.records) >= 3, "three failed rounds", WAIT)
        assert thread.is_alive()
        stop.set()
        thread.join(WAIT)
    assert not thread.is_alive()
    assert "no-such-tty" in caplog.records[0].getMessage()


# --- the bridge as a process -------------------------------------------------------------------


def token_file(tmp_path: Path, mode: int = 0o600, text: str = TOKEN) -> Path:
    path = tmp_path / "token"
    path.write_text(text + "\n")
    path.chmod(mode)
    return path


@contextmanager
def bridge_process(
    server: FakePrintServer, sim: SimulatedAcceptor, state_file: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    command = [
        sys.executable, "-m", "printwarden.devices.kiosk_bridge",
        "--server", server.url, "--token-file", str(token_file(state_file.parent)),
        "--port", sim.port, "--state-file", str(state_file), "--poll-interval", "0.05",
    ]  # fmt: skip
    with log.open("ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=output)
    try:
        yield process
    finally:
        stop_process(process)


def test_a_bridge_killed_before_acknowledging_sends_the_same_id_again(
    server: FakePrintServer, sim: SimulatedAcceptor, state_file: Path, tmp_path: Path
) -> None:
    log = tmp_path / "bridge.log"
    server.hold_first_post = True  # credited, but answered too late for the first bridge
    with bridge_process(server, sim, state_file, log) as first:
        wait_for(lambda: sim.accepting, "the acceptor enabled", WAIT)
        assert sim.insert(1000)
        wait_for(lambda: credited(server), "the first bridge's POST", WAIT)
        first.send_signal(signal.SIGKILL)
        assert first.wait(WAIT) == -signal.SIGKILL
    assert json.loads(state_file.read_text())["last_counter"] == 0  # never acknowledged
    server.released.set()
    with bridge_process(server, sim, state_file, log) as second:
        wait_for(lambda: len(posted(server)) == 2, "the second bridge's POST", WAIT)
        wait_for(
            lambda: json.loads(state_file.read_text())["last_counter"] == sim.counter,
            "the acknowledgement saved",
            WAIT,
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(WAIT) == 0
    event = f"{sim.serial}-0-1"
    assert posted(server) == [event, event], log.read_text()
    assert credited(server) == {event: 1000}
    assert not sim.accepting  # the stopped bridge inhibited it


def test_the_bridge_refuses_a_token_file_others_can_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--server", "http://127.0.0.1:9", "--port", "loop://"]
    common += ["--state-file", str(tmp_path / "state.json")]
    shared = token_file(tmp_path, 0o640)
    assert main([*common, "--token-file", str(shared)]) == 2
    assert f"chmod 600 {shared}" in capsys.readouterr().err
    empty = token_file(tmp_path, 0o600, text="")
    assert main([*common, "--token-file", str(empty)]) == 2
    assert "is empty" in capsys.readouterr().err
    assert main([*common, "--token-file", str(tmp_path / "missing")]) == 2
    assert "cannot read the token file" in capsys.readouterr().err
    assert not (tmp_path / "state.json").exists()


def test_the_simulator_runs_as_a_process_with_a_control_socket(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "printwarden.sim.cash_acceptor", "--control", "127.0.0.1:0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        pty_line, control_line = process.stdout.readline(), process.stdout.readline()
        port_path = pty_line.removeprefix("pty ").strip()
        host, _, port = control_line.removeprefix("control ").strip().rpartition(":")
        with (
            socket.create_connection((host, int(port)), timeout=WAIT) as control,
            control.makefile("rw") as lines,
            CcTalkAcceptor(port_path, tmp_path / "state.json") as acceptor,
        ):

            def ask(line: str) -> str:
                lines.write(line + "\n")
                lines.flush()
                return lines.readline().strip()

            assert ask("insert 500") == "refused"
            acceptor.set_accepting(True)
            assert ask("status").startswith("accepting yes counter 1")
            assert ask("insert 2000") == "credited"
            assert [i.value for i in acceptor.poll()] == [2000]
            assert ask("dance").startswith("error")
    finally:
        stop_process(process)
        if process.stdout is not None:
            process.stdout.close()
