"""A server's garbage-collector settings (``printwarden.heap``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from printwarden import heap


@pytest.fixture
def restored() -> Iterator[None]:
    """This test process's collector as it was: thresholds, nothing frozen."""
    thresholds = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


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
    heap.settle()
    after = heap.stats()
    assert after["frozen_objects"] == gc.get_freeze_count() > 0
    assert after["young_threshold"] == heap.YOUNG_THRESHOLD
    assert after["collections_gen1"] > before["collections_gen1"]
    assert after["collections_gen2"] > before["collections_gen2"]  # settle's own collection
    assert {f"collected_gen{g}" for g in range(3)} <= after.keys()
