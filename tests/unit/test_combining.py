"""Flat combining: a lone call runs at once; calls that arrive while another works are done
together; a group that fails is done one by one, each caller getting its own error."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from printwarden.service.combining import Combiner, _Ticket

LIMIT = 10.0  # seconds any wait here may take


def doubled_together(groups: list[list[int]]) -> Callable[[list[int]], list[int]]:
    def together(items: list[int]) -> list[int]:
        groups.append(list(items))
        if 13 in items:
            raise ValueError("13 spoils a group")
        return [2 * item for item in items]

    return together


def doubled_alone(item: int) -> int:
    if item == 13:
        raise ValueError("13 is refused")
    return 2 * item


def in_threads(combiner: Combiner[int, int], items: list[int],
               together: Callable[[list[int]], list[int]]) -> dict[int, object]:  # fmt: skip
    """Run each item's call in its own thread while the combiner is paused, so that they
    all queue; then let them go. Each item's result or error."""
    outcomes: dict[int, object] = {}

    def call(item: int) -> None:
        try:
            outcomes[item] = combiner.run(item, together, doubled_alone)
        except ValueError as exc:
            outcomes[item] = exc

    threads = [threading.Thread(target=call, args=(item,)) for item in items]
    with combiner.paused():
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + LIMIT
        while combiner.waiting() < len(items):
            assert time.monotonic() < deadline, "the calls did not queue"
            time.sleep(0.001)
    for thread in threads:
        thread.join(LIMIT)
    return outcomes


def test_a_lone_call_runs_at_once_alone() -> None:
    combiner: Combiner[int, int] = Combiner()
    groups: list[list[int]] = []
    assert combiner.run(4, doubled_together(groups), doubled_alone) == 8
    assert groups == []  # a group of one is done alone
    assert combiner.stats() == {"groups": 1, "items": 1, "groups_split": 0}


def test_calls_that_wait_are_done_together_in_arrival_order() -> None:
    combiner: Combiner[int, int] = Combiner()
    groups: list[list[int]] = []
    outcomes = in_threads(combiner, list(range(1, 9)), doubled_together(groups))
    assert outcomes == {item: 2 * item for item in range(1, 9)}
    assert len(groups) == 1
    assert sorted(groups[0]) == list(range(1, 9))
    assert combiner.stats() == {"groups": 1, "items": 8, "groups_split": 0}


def test_a_group_is_at_most_most_items() -> None:
    combiner: Combiner[int, int] = Combiner(most=3)
    groups: list[list[int]] = []
    outcomes = in_threads(combiner, list(range(1, 8)), doubled_together(groups))
    assert outcomes == {item: 2 * item for item in range(1, 8)}
    assert [len(group) for group in groups] == [3, 3]  # and the seventh alone
    assert combiner.stats() == {"groups": 3, "items": 7, "groups_split": 0}


def test_a_group_that_fails_is_done_one_by_one_and_only_the_bad_call_fails() -> None:
    combiner: Combiner[int, int] = Combiner()
    groups: list[list[int]] = []
    outcomes = in_threads(combiner, [1, 13, 2], doubled_together(groups))
    assert outcomes[1] == 2
    assert outcomes[2] == 4
    assert isinstance(outcomes[13], ValueError)
    assert str(outcomes[13]) == "13 is refused"
    assert combiner.stats()["groups_split"] == 1


def test_a_caller_that_finds_others_ahead_does_theirs_then_its_own() -> None:
    """Another caller's item queued ahead (that caller not yet at the lock): with groups of
    one, whoever works first does that item, then its own (it once returned before its own
    was done, with None)."""
    combiner: Combiner[int, int] = Combiner(most=1)
    ahead = _Ticket[int, int](21)
    combiner._queue.append(ahead)  # as run() queues it, before it takes the lock
    assert combiner.run(4, doubled_together([]), doubled_alone) == 8
    assert ahead.finished
    assert ahead.outcome() == 42


def test_a_group_weighs_at_most_its_capacity_but_takes_at_least_one_item() -> None:
    """Journal uploads are weighed by their entries: a group is at most one full upload."""
    combiner: Combiner[int, int] = Combiner(weigh=lambda item: item, capacity=10)
    ahead = [_Ticket[int, int](weight) for weight in (6, 3, 4, 20)]
    combiner._queue.extend(ahead)  # callers queued, not yet at the lock
    groups: list[list[int]] = []
    assert combiner.run(1, doubled_together(groups), doubled_alone) == 2
    assert groups == [[6, 3]]  # 6 + 3 + 4 > 10; 4 + 20 > 10; 20 alone; then 1 alone
    assert [t.outcome() for t in ahead] == [12, 6, 8, 40]
    assert combiner.stats() == {"groups": 4, "items": 5, "groups_split": 0}


def test_a_call_whose_group_was_interrupted_gets_an_error_not_a_hang() -> None:
    combiner: Combiner[int, int] = Combiner()

    def stopping(items: list[int]) -> list[int]:
        raise KeyboardInterrupt

    outcomes: dict[int, object] = {}

    def call(item: int) -> None:
        try:
            outcomes[item] = combiner.run(item, stopping, doubled_alone)
        except BaseException as exc:
            outcomes[item] = exc

    threads = [threading.Thread(target=call, args=(item,)) for item in (1, 2)]
    with combiner.paused():
        for thread in threads:
            thread.start()
        while combiner.waiting() < 2:
            time.sleep(0.001)
    for thread in threads:
        thread.join(LIMIT)
    kinds = sorted(type(o).__name__ for o in outcomes.values())
    assert kinds == ["KeyboardInterrupt", "RuntimeError"]


@pytest.mark.parametrize("item", [0, 13])
def test_a_lone_call_gets_its_own_result_or_error(item: int) -> None:
    combiner: Combiner[int, int] = Combiner()
    if item == 13:
        with pytest.raises(ValueError, match="refused"):
            combiner.run(item, doubled_together([]), doubled_alone)
    else:
        assert combiner.run(item, doubled_together([]), doubled_alone) == 0
