"""The controllable WAN link with a real HTTP server behind it: outages look like timeouts."""

from __future__ import annotations

import concurrent.futures
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from printwarden.sim.link import Link, LinkState, write_state
from printwarden.sim.processes import stop_process
from support.link import http_server

TIMEOUT = 1.0
SWITCH_SECONDS = 0.2


@pytest.fixture
def target() -> Iterator[tuple[str, int]]:
    with http_server() as address:
        yield address


@pytest.fixture
def link(target: tuple[str, int]) -> Iterator[Link]:
    with Link("127.0.0.1", 0, *target) as running:
        yield running


@pytest.fixture
def client(link: Link) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{link.address}", timeout=TIMEOUT) as http:
        yield http


def link_threads() -> list[threading.Thread]:
    names = ("printwarden-link", "asyncio_")
    return [t for t in threading.enumerate() if t.name.startswith(names)]


def wait_for(condition: Callable[[], bool], seconds: float) -> float:
    """Seconds until ``condition()`` held; fail after ``seconds``."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > seconds:
            pytest.fail(f"condition not met within {seconds} s")
        time.sleep(0.01)
    return time.monotonic() - start


def assert_times_out(http: httpx.Client, path: str = "/") -> None:
    start = time.monotonic()
    with pytest.raises(httpx.TimeoutException):
        http.get(path)
    assert time.monotonic() - start >= TIMEOUT * 0.9


def read_response(sock: socket.socket) -> bytes:
    """One whole HTTP response (head and Content-Length body): under load it arrives in
    several pieces, and a piece left unread would be taken for the connection's answer."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(1024)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")))  # fmt: skip
    while len(body) < length:
        body += sock.recv(1024)
    return head + b"\r\n\r\n" + body


def closed_by_peer(sock: socket.socket, seconds: float = 2.0) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_requests_pass_while_up(link: Link, client: httpx.Client) -> None:
    assert link.state is LinkState.UP
    assert client.get("/hello").text == "ok /hello"
    assert client.get("/again").text == "ok /again"
    assert link.accepted == 1  # keep-alive: one connection


def test_many_concurrent_slow_requests_pass(link: Link) -> None:
    def fetch(n: int) -> str:
        # A connection of its own each, so a late thread cannot reuse a finished one.
        return httpx.get(f"http://{link.address}/{n}?sleep=0.3", timeout=5).text

    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        start = time.monotonic()
        answers = list(pool.map(fetch, range(20)))
        elapsed = time.monotonic() - start
    assert answers == [f"ok /{n}?sleep=0.3" for n in range(20)]
    assert link.accepted == 20
    assert elapsed < 4.0  # in parallel, not one after the other (6 s or more)


def test_down_times_out_new_and_open_connections_then_up_recovers(
    link: Link, client: httpx.Client
) -> None:
    assert client.get("/before").status_code == 200
    link.down()
    assert link.state is LinkState.DOWN
    assert_times_out(client, "/open-connection")  # the keep-alive connection goes silent
    assert link.accepted == 1
    with httpx.Client(base_url=f"http://{link.address}", timeout=TIMEOUT) as fresh:
        assert_times_out(fresh, "/new-connection")  # accepted, then black-holed
    assert link.accepted == 2
    link.up()
    assert client.get("/after").text == "ok /after"
    with httpx.Client(base_url=f"http://{link.address}", timeout=TIMEOUT) as fresh:
        assert fresh.get("/after-new").text == "ok /after-new"


def test_a_cut_cuts_every_route_in_both_directions(target: tuple[str, int]) -> None:
    """Issue 17: the site's connections to HQ and HQ's to the site go down and up together."""
    with http_server() as site:
        link = Link("127.0.0.1", 0, *target)
        back = link.add_route("127.0.0.1", 0, *site)
        with link:
            assert back.port != 0
            to_hq = httpx.Client(base_url=f"http://{link.address}", timeout=TIMEOUT)
            to_site = httpx.Client(base_url=f"http://{back.address}", timeout=TIMEOUT)
            with to_hq, to_site:
                assert to_hq.get("/hq").text == "ok /hq"
                assert to_site.get("/site").text == "ok /site"
                link.down()
                assert_times_out(to_hq, "/hq-during")
                assert_times_out(to_site, "/site-during")
                link.up()
                assert to_hq.get("/hq-after").text == "ok /hq-after"
                assert to_site.get("/site-after").text == "ok /site-after"
            with pytest.raises(RuntimeError, match="before the link starts"):
                link.add_route("127.0.0.1", 0, *site)


def test_a_link_process_carries_its_routes(target: tuple[str, int], tmp_path: Path) -> None:
    control = tmp_path / "link.state"
    with http_server() as site:
        command = [sys.executable, "-m", "printwarden.sim.link", "--listen", "127.0.0.1:0",
                   "--target", f"{target[0]}:{target[1]}", "--control", str(control),
                   "--route", f"127.0.0.1:0={site[0]}:{site[1]}"]  # fmt: skip
        with (tmp_path / "link.log").open("wb") as log:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log)
        try:
            assert process.stdout is not None
            assert select.select([process.stdout], [], [], 10)[0], "the link did not start"
            first = process.stdout.readline().decode().split()
            second = process.stdout.readline().decode().split()
            assert second[0] == "listening", second
            assert second[-1] == f"{site[0]}:{site[1]}", second
            with httpx.Client(base_url=f"http://{second[1]}", timeout=TIMEOUT) as http:
                assert http.get("/site").text == "ok /site"
                write_state(control, "down")
                time.sleep(SWITCH_SECONDS)
                assert_times_out(http, "/down")
            assert first[0] == "listening"
            process.terminate()
            assert process.wait(timeout=5) == 0
        finally:
            stop_process(process)
            if process.stdout is not None:
                process.stdout.close()


def test_idle_connection_survives_an_outage(link: Link, client: httpx.Client) -> None:
    assert client.get("/before").status_code == 200
    link.down()
    time.sleep(0.1)
    link.up()
    assert client.get("/after").text == "ok /after"
    assert link.accepted == 1  # the same connection, as on a real link


def test_connections_that_lost_data_close_when_the_link_comes_back(
    link: Link, client: httpx.Client
) -> None:
    assert client.get("/before").status_code == 200
    with (
        socket.create_connection(("127.0.0.1", link.port), timeout=2) as talked,
        socket.create_connection(("127.0.0.1", link.port), timeout=2) as idle,
    ):
        talked.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(talked).endswith(b"ok /")
        link.down()
        talked.sendall(b"GET /lost HTTP/1.1\r\nHost: x\r\n\r\n")
        with socket.create_connection(("127.0.0.1", link.port), timeout=2) as during:
            during.sendall(b"GET /lost HTTP/1.1\r\nHost: x\r\n\r\n")
            assert not closed_by_peer(during, 0.2)  # nothing comes back, nothing closes
            assert not closed_by_peer(talked, 0.01)
            wait_for(lambda: link.connections == 4 and link.silenced == 2, 1.0)
            link.up()
            assert closed_by_peer(during)
            assert closed_by_peer(talked)
        idle.sendall(b"GET /idle HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(idle).startswith(b"HTTP/1.1 200 OK")
    assert client.get("/after").status_code == 200


def test_latency_is_added_each_way(target: tuple[str, int]) -> None:
    with (
        Link("127.0.0.1", 0, *target, latency_ms=100) as link,
        httpx.Client(base_url=f"http://{link.address}", timeout=5) as http,
    ):
        http.get("/warm-up")
        start = time.monotonic()
        http.get("/")
        assert 0.2 <= time.monotonic() - start < 1.0
        link.latency_ms = 0
        start = time.monotonic()
        http.get("/")
        assert time.monotonic() - start < 0.1


def test_flap_alternates_then_leaves_the_link_up(link: Link) -> None:
    seen: list[LinkState] = []
    done = link.flap(0.1, 0.55)
    while not done.done():
        if not seen or seen[-1] is not link.state:
            seen.append(link.state)
        time.sleep(0.005)
    done.result()
    assert seen[:4] == [LinkState.DOWN, LinkState.UP, LinkState.DOWN, LinkState.UP]
    assert link.state is LinkState.UP


def test_explicit_state_cancels_a_flap(link: Link) -> None:
    flapping = link.flap(0.05, 10.0)
    link.down()
    with pytest.raises(concurrent.futures.CancelledError):
        flapping.result(timeout=1)
    time.sleep(0.15)
    assert link.state is LinkState.DOWN


def test_control_file_switches_the_link(target: tuple[str, int], tmp_path: Path) -> None:
    control = tmp_path / "link.state"
    write_state(control, "down")
    with Link("127.0.0.1", 0, *target, control=control) as link:
        assert link.state is LinkState.DOWN  # from the start
        write_state(control, "up")
        assert wait_for(lambda: link.state is LinkState.UP, SWITCH_SECONDS) < SWITCH_SECONDS
        write_state(control, "down")
        assert wait_for(lambda: link.state is LinkState.DOWN, SWITCH_SECONDS) < SWITCH_SECONDS
        control.write_text("garbage")
        time.sleep(0.15)
        assert link.state is LinkState.DOWN  # unreadable content is ignored
        control.unlink()
        assert wait_for(lambda: link.state is LinkState.UP, SWITCH_SECONDS) < SWITCH_SECONDS


def test_control_file_drives_a_link_process(target: tuple[str, int], tmp_path: Path) -> None:
    control = tmp_path / "link.state"
    command = [sys.executable, "-m", "printwarden.sim.link", "--listen", "127.0.0.1:0"]
    command += ["--target", f"{target[0]}:{target[1]}", "--control", str(control)]
    with (tmp_path / "link.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log)
    try:
        assert process.stdout is not None
        assert select.select([process.stdout], [], [], 10)[0], "the link did not start"
        words = process.stdout.readline().decode().split()
        assert (words[0], words[-1]) == ("listening", "up"), words
        with httpx.Client(base_url=f"http://{words[1]}", timeout=TIMEOUT) as http:
            assert http.get("/up").status_code == 200
            write_state(control, "down")
            time.sleep(SWITCH_SECONDS)
            assert_times_out(http, "/down")
            write_state(control, "up")
            time.sleep(SWITCH_SECONDS)
            assert http.get("/up-again").status_code == 200
        process.terminate()
        assert process.wait(timeout=5) == 0
    finally:
        stop_process(process)
        if process.stdout is not None:
            process.stdout.close()
    assert "link 127.0.0.1" in (tmp_path / "link.log").read_text()


def test_unreachable_target_closes_the_client_connection(tmp_path: Path) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with (
        Link("127.0.0.1", 0, "127.0.0.1", port) as link,
        socket.create_connection(("127.0.0.1", link.port), timeout=2) as sock,
    ):
        assert closed_by_peer(sock)  # the App Server is down, not the link: no hang


def test_stop_closes_everything(target: tuple[str, int]) -> None:
    link = Link("127.0.0.1", 0, *target)
    link.start()
    with (
        httpx.Client(base_url=f"http://{link.address}", timeout=TIMEOUT) as http,
        socket.create_connection(("127.0.0.1", link.port), timeout=2) as forwarded,
    ):
        assert http.get("/").status_code == 200
        link.down()
        with socket.create_connection(("127.0.0.1", link.port), timeout=2) as silent:
            silent.sendall(b"GET / HTTP/1.1\r\n\r\n")
            wait_for(lambda: link.connections == 3, 1.0)
            assert link_threads()
            link.stop()
            assert closed_by_peer(silent)
            assert closed_by_peer(forwarded)
        assert link.connections == 0
        assert not link_threads()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", link.port), timeout=2).close()
        link.stop()  # idempotent


def test_busy_port_fails_to_start_without_leaking(link: Link, target: tuple[str, int]) -> None:
    other = Link("127.0.0.1", link.port, *target)
    with pytest.raises(OSError, match="address already in use"):
        other.start()
    assert len(link_threads()) == 1
    other.stop()
