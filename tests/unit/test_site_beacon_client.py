"""The site's end of the beacon (``site/beacon.py``) against a hand-made HQ on loopback: it
says hello with HQ's ticket, hears beats, ticks back, reports a silence once, and waits
longer after a refusal."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from printwarden.domain import beacon
from printwarden.site.beacon import BeaconClient, parse_address


class FakeHq:
    """Accepts beacons on loopback; ``serve(conn, hello)`` plays HQ's part for each."""

    def __init__(self, serve: Callable[[socket.socket, bytes], None]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.hellos: list[bytes] = []
        self.serve = serve
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):  # the site may go first
                hello = conn.recv(512)
                self.hellos.append(hello)
                self.serve(conn, hello)


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def client(hq: FakeHq, stop: threading.Event) -> tuple[BeaconClient, list[str], list[str]]:
    beats: list[str] = []
    lost: list[str] = []
    found = BeaconClient("http://127.0.0.1:1", "", lambda: beats.append("beat"), lost.append,
                         stop)  # fmt: skip
    found.offer(hq.port, "v1.north.1.2." + "0" * 32)
    threading.Thread(target=found.run, daemon=True).start()
    return found, beats, lost


def wait(condition: Callable[[], bool], seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_it_hears_beats_ticks_back_and_reports_a_silence_once(stop: threading.Event) -> None:
    ticks: list[bytes] = []

    def serve(conn: socket.socket, hello: bytes) -> None:
        conn.sendall(beacon.welcome(0.1))
        conn.settimeout(0.05)
        for _ in range(15):  # 1.5 s of beats, reading the ticks
            conn.sendall(beacon.BEAT)
            with contextlib.suppress(TimeoutError):
                ticks.append(conn.recv(16))
            time.sleep(0.05)
        time.sleep(5)  # then silence

    hq = FakeHq(serve)
    found, beats, lost = client(hq, stop)
    wait(lambda: found.live)
    assert hq.hellos[0] == beacon.hello("v1.north.1.2." + "0" * 32)
    wait(lambda: bool(lost), 5)
    assert len(beats) >= 10
    assert b"".join(ticks).count(beacon.BEAT) >= 1  # one a second
    assert lost == ["beacon: no beat for 0.7 s"]
    assert not found.live
    assert found.stats() == {"live": 0, "held": 1, "lost": 1}


def test_a_refusal_is_no_lost_contact_and_is_tried_again_later(stop: threading.Event) -> None:
    hq = FakeHq(lambda conn, hello: conn.sendall(beacon.refusal("stale ticket")))
    found, beats, lost = client(hq, stop)
    wait(lambda: len(hq.hellos) == 1)
    time.sleep(1.5)
    assert len(hq.hellos) == 1  # not hammered: 5 s before the next try
    assert (beats, lost, found.live) == ([], [], False)


def test_no_offer_no_beacon_and_a_bad_address_is_refused(stop: threading.Event) -> None:
    hq = FakeHq(lambda conn, hello: None)
    found, _, _ = client(hq, stop)
    found.offer(None, None)
    time.sleep(0.8)
    assert len(hq.hellos) <= 1
    assert parse_address("[::1]:8100") == ("::1", 8100)
    with pytest.raises(ValueError, match="HOST:PORT"):
        parse_address("hq.example")
