"""Request bodies admitted into memory by size, in arrival order (``service/byte_budget``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from printwarden.service.byte_budget import ByteBudget


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), timeout=10))


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


class Holder:
    """A request that holds ``size`` bytes until told to let go."""

    def __init__(self, budget: ByteBudget, size: int, order: list[int]) -> None:
        self.release = asyncio.Event()
        self.task = asyncio.create_task(self._hold(budget, size, order))

    async def _hold(self, budget: ByteBudget, size: int, order: list[int]) -> None:
        async with budget.admit(size):
            order.append(size)
            await self.release.wait()


def test_requests_that_fit_are_admitted_at_once_and_the_rest_wait_unread() -> None:
    async def scenario() -> None:
        budget, order = ByteBudget(100), list[int]()
        first, second = Holder(budget, 60, order), Holder(budget, 40, order)
        third = Holder(budget, 30, order)
        await settle()
        assert order == [60, 40]
        assert (budget.used, budget.queued) == (100, 1)
        first.release.set()
        await settle()
        assert order == [60, 40, 30]
        assert (budget.used, budget.queued) == (70, 0)
        second.release.set()
        third.release.set()
        await asyncio.gather(first.task, second.task, third.task)
        assert budget.stats() == {"admitted": 3, "waited": 1, "waiting": 0, "bytes_admitted": 0}

    run(scenario)


def test_a_big_request_is_not_overtaken_by_small_ones_and_alone_always_fits() -> None:
    async def scenario() -> None:
        budget, order = ByteBudget(100), list[int]()
        small = Holder(budget, 10, order)
        big = Holder(budget, 500, order)  # over the whole budget: it goes alone
        later = Holder(budget, 10, order)  # would fit now, but arrived after the big one
        await settle()
        assert order == [10]
        small.release.set()
        await settle()
        assert order == [10, 500]
        assert budget.queued == 1
        big.release.set()
        await settle()
        assert order == [10, 500, 10]
        later.release.set()
        await asyncio.gather(small.task, big.task, later.task)
        assert budget.used == 0

    run(scenario)


def test_a_request_that_goes_away_while_it_waits_or_once_admitted_holds_nothing() -> None:
    async def scenario() -> None:
        budget, order = ByteBudget(100), list[int]()
        holder = Holder(budget, 100, order)
        gone, next_ = Holder(budget, 50, order), Holder(budget, 50, order)
        await settle()
        gone.task.cancel()
        await settle()
        assert budget.queued == 1  # only the next one still waits
        holder.release.set()
        await settle()
        assert (order, budget.used) == ([100, 50], 50)
        # Admitted, then cancelled before it ran: what it was given comes back.
        late = Holder(budget, 60, order)
        await settle()
        next_.release.set()
        await asyncio.sleep(0)
        late.task.cancel()
        await settle()
        assert (budget.used, budget.queued) == (0, 0)

    run(scenario)
