"""The provider's supervised loops and what ``/metrics`` says of them."""

from __future__ import annotations

import itertools
import logging
import threading
import time

import pytest

from printwarden.domain.job_states import Phase
from printwarden.provider import metrics
from printwarden.provider.supervisor import Supervisor


def wait(condition: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.005)
    raise AssertionError("timed out")


def test_a_round_that_raises_is_logged_counted_backed_off_and_the_loop_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    supervisor = Supervisor(backoff_initial=0.05, backoff_max=0.1)
    moments: list[float] = []
    stop = threading.Event()

    def round() -> None:
        moments.append(time.monotonic())
        if len(moments) <= 3:
            raise RuntimeError(f"boom {len(moments)}")
        stop.wait(0.01)

    with caplog.at_level(logging.INFO, logger="printwarden.provider"):
        supervisor.spawn("work", round, stop.set)
        wait(lambda: len(moments) >= 6)
        supervisor.stop()
    assert supervisor.errors["work"] == 3
    assert supervisor.restarts["work"] == 0
    gaps = [later - earlier for earlier, later in itertools.pairwise(moments[:4])]
    assert gaps[0] >= 0.05  # backed off, doubling…
    assert min(gaps[1:]) >= 0.1  # …up to its cap
    failures = [r for r in caplog.records if "the work loop failed" in r.getMessage()]
    assert len(failures) == 3
    assert [r.exc_info is not None for r in failures] == [True, False, False]  # one traceback
    assert "boom 3" in failures[2].getMessage()


# The thread is killed on purpose; pytest would report its SystemExit as a warning.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_loop_that_dies_is_restarted_and_counted() -> None:
    supervisor = Supervisor(check_seconds=0.02)
    rounds: list[int] = []

    def round() -> None:
        rounds.append(1)
        if len(rounds) == 1:
            raise SystemExit  # not an Exception: it ends the thread
        time.sleep(0.01)

    supervisor.spawn("fragile", round)
    supervisor.start()
    wait(lambda: len(rounds) >= 3)
    assert supervisor.restarts["fragile"] == 1
    assert supervisor.alive() == {"fragile": True}
    supervisor.stop()
    assert supervisor.alive() == {"fragile": False}
    assert supervisor.check() == 0  # a stopped supervisor restarts nothing


def test_metrics_render_loops_failures_refusals_and_phases() -> None:
    scrape = metrics.Scrape(
        provider='site "a"',
        loops_up={"dispatch": True, "charge": False},
        loop_errors={"charge": 2},
        loop_restarts={"charge": 1},
        job_failures=4,
        refused={"cancel": 3},
        phases={**dict.fromkeys(Phase, 0), Phase.HELD: 7},
    )
    text = metrics.render(scrape)
    who = 'provider="site \\"a\\""'
    for line in (
        f'printwarden_provider_loop_up{{{who},loop="charge"}} 0',
        f'printwarden_provider_loop_up{{{who},loop="dispatch"}} 1',
        f'printwarden_provider_loop_errors_total{{{who},loop="charge"}} 2',
        f'printwarden_provider_loop_errors_total{{{who},loop="dispatch"}} 0',
        f'printwarden_provider_loop_restarts_total{{{who},loop="charge"}} 1',
        f'printwarden_provider_transitions_refused_total{{{who},event="cancel"}} 3',
        f'printwarden_provider_jobs{{{who},phase="held"}} 7',
        f'printwarden_provider_jobs{{{who},phase="completed"}} 0',
        f"printwarden_provider_job_failures_total{{{who}}} 4",
        "# TYPE printwarden_provider_loop_restarts_total counter",
        "# TYPE printwarden_provider_jobs gauge",
    ):
        assert line in text.splitlines(), line
