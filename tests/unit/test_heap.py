"""A server's garbage-collector settings (``printwarden.heap``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from printwarden import heap


@pytest.fixture
def restored() -> Iterator[None]:
    """This test process's collector as it was: on, its thresholds, nothing frozen."""
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()
        gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored")
@pytest.mark.parametrize("command", heap.SERVERS)
def test_a_server_starts_without_collections_until_it_settles(command: tuple[str, str]) -> None:
    heap.starting(["python -m printwarden", *command, "--port", "8080"])
    assert not gc.isenabled()
    assert heap.stats()["enabled"] == 0
    heap.settle()
    assert gc.isenabled()
    assert heap.stats()["enabled"] == 1


@pytest.mark.usefixtures("restored")
@pytest.mark.parametrize(
    "argv", [["printwarden", "users", "list"], ["printwarden", "app"], ["printwarden"]]
)
def test_other_commands_collect_as_usual(argv: list[str]) -> None:
    """They never settle: a long import or upgrade must not run without collections."""
    heap.starting(argv)
    assert gc.isenabled()


@pytest.mark.usefixtures("restored")
def test_settling_freezes_what_start_up_made_and_collects_young_objects_less_often() -> None:
    survivor = [object() for _ in range(100)]
    assert gc.get_freeze_count() == 0
    heap.settle()
    assert gc.get_freeze_count() >= len(survivor)
    assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, *heap.OLDER_THRESHOLDS)
    assert heap.YOUNG_THRESHOLD > 700  # CPython's default: a full collection every ~70k


@pytest.mark.usefixtures("restored")
def test_stats_report_the_frozen_objects_and_the_collections_by_generation() -> None:
    before = heap.stats()
    gc.collect(1)
    gc.collect(2)
    heap.settle()
    after = heap.stats()
    # (freed objects leave the frozen ones meanwhile: other tests' threads run on)
    assert after["frozen_objects"] > 0
    assert after["young_threshold"] == heap.YOUNG_THRESHOLD
    assert after["collections_gen1"] > before["collections_gen1"]
    assert after["collections_gen2"] > before["collections_gen2"]
    assert {f"collected_gen{g}" for g in range(3)} <= after.keys()
