"""One request at a time per key (``service/one_at_a_time.py``)."""

from __future__ import annotations

import asyncio

from printwarden.service.one_at_a_time import OneAtATime


def test_a_second_holder_of_a_key_waits_for_the_first_and_other_keys_go_along() -> None:
    async def scenario() -> None:
        turns, log = OneAtATime(), list[str]()

        async def hold(key: str, name: str, release: asyncio.Event) -> None:
            async with turns.turn(key):
                log.append(f"{name} in")
                await release.wait()
            log.append(f"{name} out")

        first, second, other = asyncio.Event(), asyncio.Event(), asyncio.Event()
        tasks = [asyncio.create_task(hold("north", "a", first)),
                 asyncio.create_task(hold("north", "b", second)),
                 asyncio.create_task(hold("south", "c", other))]  # fmt: skip
        await asyncio.sleep(0.01)
        assert log == ["a in", "c in"]
        assert len(turns) == 2
        other.set()
        second.set()  # b may go as soon as a is done, not before
        await asyncio.sleep(0.01)
        assert log == ["a in", "c in", "c out"]
        first.set()
        await asyncio.gather(*tasks)
        assert log == ["a in", "c in", "c out", "a out", "b in", "b out"]
        assert len(turns) == 0  # keys no one holds are forgotten

    asyncio.run(asyncio.wait_for(scenario(), timeout=10))


def test_a_waiter_that_goes_away_leaves_no_key_behind() -> None:
    async def scenario() -> None:
        turns, release = OneAtATime(), asyncio.Event()

        async def hold() -> None:
            async with turns.turn("north"):
                await release.wait()

        holder, waiter = asyncio.create_task(hold()), asyncio.create_task(hold())
        await asyncio.sleep(0.01)
        waiter.cancel()
        release.set()
        await holder
        await asyncio.gather(waiter, return_exceptions=True)
        assert len(turns) == 0

    asyncio.run(asyncio.wait_for(scenario(), timeout=10))
