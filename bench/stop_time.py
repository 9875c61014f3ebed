"""Seconds from SIGTERM to exit for each server, with a site's long poll open at HQ.

    .venv/bin/python bench/stop_time.py              # 5 rounds
    .venv/bin/python bench/stop_time.py --rounds 3

Each round starts an App Server, a Site Server behind a link and a Print Provider at the site
(``printwarden.testing.site.site_world``), lets the site settle on its long poll for changes,
then stops the provider, the Site Server and the App Server one at a time with SIGTERM and
times each until its process is gone. Goal (issue 18): every server under 0.5 s. The anchor
is what uvicorn alone would do: wait out the open long poll (10 s at HQ).
"""

from __future__ import annotations

import argparse
import signal
import statistics
import tempfile
import time
from pathlib import Path

from harness import print_machine
from printwarden.sim.processes import ChildProcess
from printwarden.testing.site import site_world

GOAL_SECONDS = 0.5
SETTLE_SECONDS = 1.5  # the site has caught up and waits on a long poll
WAIT_SECONDS = 30.0


def seconds_to_stop(process: ChildProcess | None) -> float:
    """SIGTERM ``process`` and time it until it has exited."""
    if process is None or process.poll() is not None:
        raise RuntimeError("the server is not running")
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=WAIT_SECONDS)
    return time.monotonic() - started


def one_round() -> dict[str, float]:
    """The stop times of one world's provider, Site Server and App Server."""
    with tempfile.TemporaryDirectory(prefix="pw-stop-") as root, site_world(Path(root)) as world:
        time.sleep(SETTLE_SECONDS)
        return {
            "provider": seconds_to_stop(world.provider.process),
            "site server": seconds_to_stop(world.site.process),
            "app server": seconds_to_stop(world.app.process),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print_machine()
    rounds = [one_round() for _ in range(args.rounds)]
    print(f"{'server':<12} {'median s':>9} {'max s':>7}  goal < {GOAL_SECONDS} s")
    for name in rounds[0]:
        times = [found[name] for found in rounds]
        verdict = "met" if max(times) < GOAL_SECONDS else "MISSED"
        print(f"{name:<12} {statistics.median(times):>9.3f} {max(times):>7.3f}  {verdict}")


if __name__ == "__main__":
    main()
