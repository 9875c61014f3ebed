"""Flat combining: a lone call runs at once; calls that arrive while a group is being done
are done together, by one worker thread, in arrival order; a group that fails is done one
by one, each caller getting its own error; a caller never waits for ever."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import pytest

from printwarden.service.combining import STOPPING, Combiner

LIMIT = 10.0  # seconds any wait here may take


def doubled_together(
    groups: list[list[int]], threads: set[int] | None = None
) -> Callable[[list[int]], list[int]]:
    def together(items: list[int]) -> list[int]:
        groups.append(list(items))
        if threads is not None:
            threads.add(threading.get_ident())
        if 13 in items:
            raise ValueError("13 spoils a group")
        return [2 * item for item in items]

    return together


def doubled_alone(item: int) -> int:
    if item == 13:
        raise ValueError("13 is refused")
    return 2 * item


async def queued(
    combiner: Combiner[int, int],
    items: list[int],
    together: Callable[[list[int]], list[int]],
    alone: Callable[[int], int] = doubled_alone,
) -> list[object]:
    """Each item's call made while the combiner is paused, so that they all queue, in
    order; then let go. Each item's result or error."""

    async def call(item: int) -> object:
        try:
            return await combiner.run(item, together, alone)
        except (ValueError, RuntimeError) as exc:
            return exc

    with combiner.paused():
        calls = []
        for item in items:
            calls.append(asyncio.create_task(call(item)))
            await asyncio.sleep(0)  # it queues now: arrival order is creation order
        async with asyncio.timeout(LIMIT):
            while combiner.waiting() < len(items):
                await asyncio.sleep(0.001)
    async with asyncio.timeout(LIMIT):
        return list(await asyncio.gather(*calls))


def test_a_lone_call_runs_at_once_alone() -> None:
    combiner: Combiner[int, int] = Combiner()
    groups: list[list[int]] = []
    assert asyncio.run(combiner.run(4, doubled_together(groups), doubled_alone)) == 8
    assert groups == []  # a group of one is done alone
    assert combiner.stats() == {"groups": 1, "items": 1, "groups_split": 0}


def test_calls_that_wait_are_done_together_in_arrival_order_by_one_thread() -> None:
    combiner: Combiner[int, int] = Combiner()
    groups: list[list[int]] = []
    threads: set[int] = set()
    outcomes = asyncio.run(queued(combiner, list(range(1, 9)), doubled_together(groups, threads)))
    assert outcomes == [2 * item for item in range(1, 9)]
    assert groups == [list(range(1, 9))]
    assert len(threads) == 1
    assert threading.get_ident() not in threads  # not the event loop's
    assert combiner.stats() == {"groups": 1, "items": 8, "groups_split": 0}


def test_a_group_is_at_most_most_items() -> None:
    combiner: Combiner[int, int] = Combiner(most=3)
    groups: list[list[int]] = []
    outcomes = asyncio.run(queued(combiner, list(range(1, 8)), doubled_together(groups)))
    assert outcomes == [2 * item for item in range(1, 8)]
    assert groups == [[1, 2, 3], [4, 5, 6]]  # and the seventh alone
    assert combiner.stats() == {"groups": 3, "items": 7, "groups_split": 0}


def test_a_group_weighs_at_most_its_capacity_but_takes_at_least_one_item() -> None:
    """Journal uploads are weighed by their entries: a group is at most one full upload."""
    combiner: Combiner[int, int] = Combiner(weigh=lambda item: item, capacity=10)
    groups: list[list[int]] = []
    outcomes = asyncio.run(queued(combiner, [6, 3, 4, 20, 1], doubled_together(groups)))
    assert outcomes == [12, 6, 8, 40, 2]
    assert groups == [[6, 3]]  # 6 + 3 + 4 > 10; 4 + 20 > 10; 20 + 1 > 10; then 1 alone
    assert combiner.stats() == {"groups": 4, "items": 5, "groups_split": 0}


def test_a_group_that_fails_is_done_one_by_one_and_only_the_bad_call_fails() -> None:
    combiner: Combiner[int, int] = Combiner()
    outcomes = asyncio.run(queued(combiner, [1, 13, 2], doubled_together([])))
    assert outcomes[0] == 2
    assert outcomes[2] == 4
    assert isinstance(outcomes[1], ValueError)
    assert str(outcomes[1]) == "13 is refused"
    assert combiner.stats()["groups_split"] == 1


def test_calls_arriving_while_a_group_is_done_make_the_next_group() -> None:
    combiner: Combiner[int, int] = Combiner()
    groups: list[list[int]] = []
    started, go_on = threading.Event(), threading.Event()

    def slow_alone(item: int) -> int:
        started.set()
        assert go_on.wait(LIMIT)
        return 2 * item

    async def main() -> list[int]:
        first = asyncio.create_task(combiner.run(1, doubled_together(groups), slow_alone))
        async with asyncio.timeout(LIMIT):
            while not started.is_set():
                await asyncio.sleep(0.001)
        later = [asyncio.create_task(combiner.run(i, doubled_together(groups), slow_alone))
                 for i in (2, 3, 4)]  # fmt: skip
        await asyncio.sleep(0.01)
        go_on.set()
        async with asyncio.timeout(LIMIT):
            return list(await asyncio.gather(first, *later))

    assert asyncio.run(main()) == [2, 4, 6, 8]
    assert groups == [[2, 3, 4]]  # the first alone at once, the rest together


def test_a_call_whose_group_was_interrupted_gets_an_error_not_a_hang() -> None:
    combiner: Combiner[int, int] = Combiner()

    class Stop(BaseException):
        """What no ``except Exception`` catches (as the server's shutdown)."""

    def stopping(items: list[int]) -> list[int]:
        raise Stop

    outcomes = asyncio.run(queued(combiner, [1, 2], stopping))
    assert [str(o) for o in outcomes] == [STOPPING, STOPPING]
    assert all(isinstance(o, RuntimeError) for o in outcomes)


def test_a_fault_of_the_combiner_fails_its_callers_is_logged_and_work_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def weigh(item: int) -> int:
        if item == 13:
            raise ValueError("cannot weigh 13")
        return 1

    combiner: Combiner[int, int] = Combiner(weigh=weigh, capacity=10)
    with pytest.raises(ValueError, match="cannot weigh"):
        asyncio.run(combiner.run(13, doubled_together([]), doubled_alone))
    assert "combined work failed" in caplog.text
    assert asyncio.run(combiner.run(4, doubled_together([]), doubled_alone)) == 8


@pytest.mark.parametrize("item", [0, 13])
def test_a_lone_call_gets_its_own_result_or_error(item: int) -> None:
    combiner: Combiner[int, int] = Combiner()
    if item == 13:
        with pytest.raises(ValueError, match="refused"):
            asyncio.run(combiner.run(item, doubled_together([]), doubled_alone))
    else:
        assert asyncio.run(combiner.run(item, doubled_together([]), doubled_alone)) == 0
