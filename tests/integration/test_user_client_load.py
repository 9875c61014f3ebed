"""A thousand User Clients at once: one App Server process holds 1,000 event streams with
their heartbeats and no error, and so does a Site Server relaying them from HQ; the memory
they take is reported (the numbers to compare are in docs/benchmarks.md)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from printwarden.testing.appserver import AppServer
from printwarden.testing.site import SiteProcess
from printwarden.testing.streams import Seeded, clients_of, seed

STREAMS = 1_000
BEAT = "1"  # seconds: a few heartbeats while the test holds the streams
HOLD_SECONDS = 4.0
LIMIT_MIB = 100  # twice the goal per 1,000 streams: this checks "no leak per stream"
# How long one stream may take to open. A Site Server opens each relayed stream at HQ too,
# and in the full suite both share two cores with three other test workers: a few of the
# thousand took longer than 30 s there (twice in four runs). This test checks that all of
# them open and stay; how fast they open is measured by bench/user_client_events.py.
OPEN_SECONDS = 90.0


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


@pytest.fixture(scope="module")
def hq(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, Seeded]]:
    root = tmp_path_factory.mktemp("load")
    url = f"sqlite:///{root / 'app.db'}"
    seeded = seed(url, root, STREAMS)
    app = AppServer(url, root)
    app.extra_env["PRINTWARDEN_CLIENT__HEARTBEAT_SECONDS"] = BEAT
    app.start()
    try:
        yield app, seeded
    finally:
        app.stop()


def hold(port: int, pid: int, seeded: Seeded, folder: Path) -> float:
    """Hold a stream per token at ``port``; the MiB the process ``pid`` grew by."""
    before = rss_mib(pid)
    with clients_of(port, seeded.client_tokens, folder, 180, OPEN_SECONDS) as clients:
        ready = clients.reply("READY", 120)
        assert ready["alive"] == STREAMS, ready["errors"]
        grown = rss_mib(pid) - before
        time.sleep(HOLD_SECONDS)
        stats = clients.stats()
        final = clients.quit()
    assert not final["errors"], final["errors"]
    assert stats["alive"] == STREAMS
    assert min(stats["heartbeats"]) >= 2
    print(f"{STREAMS} streams: +{grown:.1f} MiB in process {pid}")
    assert grown < LIMIT_MIB
    return grown


def test_one_app_server_process_holds_a_thousand_clients(
    hq: tuple[AppServer, Seeded], tmp_path: Path
) -> None:
    app, seeded = hq
    assert app.process is not None
    hold(app.port, app.process.pid, seeded, tmp_path)


def test_one_site_server_relays_a_thousand_clients(
    hq: tuple[AppServer, Seeded], tmp_path: Path
) -> None:
    app, seeded = hq
    site = SiteProcess(app.url, seeded.site_token, "north", tmp_path / "site")
    # A stream HQ is slow to take (a connect over 1 s, with a thousand at once on two
    # cores) is answered by the site itself: its heartbeats must come as often as HQ's.
    site.extra_env["PRINTWARDEN_CLIENT__HEARTBEAT_SECONDS"] = BEAT
    site.start()
    try:
        assert site.process is not None
        # Its first copy taken (till then a stream HQ is slow to take is answered 503: the
        # site knows no one yet), as a site serving User Clients has.
        head = int(httpx.get(f"{app.api}/health", timeout=10).json()["change_seq"])
        deadline = time.monotonic() + 120
        while int(site.status()["replica_seq"]) < head and time.monotonic() < deadline:
            time.sleep(0.2)
        hold(site.port, site.process.pid, seeded, tmp_path / "clients")
    finally:
        site.stop()
