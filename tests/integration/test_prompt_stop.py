"""SIGTERM stops each server at once, even with a site's long poll for changes open (and,
with a beacon, the site's beacon and its quiet poll, which beats only every 20 s).

uvicorn waits for open requests before it stops; without the stop signal reaching the long
polls (``printwarden/serving.py``) an App Server waited out a site's 10 s poll and a Site
Server its own sync thread's.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from printwarden.sim.processes import ChildProcess
from printwarden.testing import forkserver
from support.site import site_world

PROMPT_SECONDS = (
    1.0  # measured 0.2 s (bench/stop_time.py); uvicorn's grace alone is 1 s, the poll 5-10 s
)


def _seconds_to_stop(process: ChildProcess | None) -> float:
    assert process is not None
    assert process.poll() is None
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    return time.monotonic() - started


@pytest.fixture(autouse=True)
def executed() -> Iterator[None]:
    """Exec'd servers: a forked one skips freeing its inherited heap and so exits sooner."""
    with forkserver.executing():
        yield


def _settle() -> None:
    time.sleep(1.5)  # the site has caught up and waits on a long poll


@pytest.mark.parametrize("beacon", [False, True], ids=["http-beats", "beacon"])
def test_the_app_server_stops_at_once_while_a_site_long_polls(tmp_path: Path, beacon: bool) -> None:
    with site_world(tmp_path, beacon=beacon) as world:
        _settle()
        assert world.site.status()["beacon"] is beacon
        assert _seconds_to_stop(world.app.process) < PROMPT_SECONDS


@pytest.mark.parametrize("beacon", [False, True], ids=["http-beats", "beacon"])
def test_a_site_server_and_its_provider_stop_at_once(tmp_path: Path, beacon: bool) -> None:
    with site_world(tmp_path, beacon=beacon) as world:
        _settle()
        assert world.site.status()["beacon"] is beacon
        assert _seconds_to_stop(world.provider.process) < PROMPT_SECONDS
        assert _seconds_to_stop(world.site.process) < PROMPT_SECONDS
