"""The secret-check threads: at most ``max_waiting`` checks wait, the rest are refused at
once (429), and a check that must not be refused (a printed job's PIN) waits its turn."""

from __future__ import annotations

import asyncio
import threading

import pytest

from printwarden.service.secret_checks import SecretChecks
from printwarden.service.throttle import Throttled


def test_checks_beyond_the_bound_are_refused_at_once_and_the_bound_frees_up() -> None:
    asyncio.run(_bounded())


async def _bounded() -> None:
    checks = SecretChecks(workers=1, max_waiting=2)
    gate = threading.Event()
    try:
        running = asyncio.ensure_future(checks.run(gate.wait, 30))
        queued = asyncio.ensure_future(checks.run(lambda: "queued"))
        await asyncio.sleep(0.05)
        with pytest.raises(Throttled) as refused:
            await checks.run(lambda: "refused")
        assert refused.value.kind is None  # the server is busy, not a key throttled
        must = asyncio.ensure_future(checks.run_unrefused(lambda: "charged"))
        await asyncio.sleep(0.05)
        assert not must.done()  # it waits its turn behind the others
        gate.set()
        done = await asyncio.wait_for(asyncio.gather(running, queued, must), 10)
        assert list(done) == [True, "queued", "charged"]
        with pytest.raises(ZeroDivisionError):  # a check that fails frees its place too
            await checks.run(lambda: 1 // 0)
        assert [await checks.run(abs, n) for n in (0, -1, 2)] == [0, 1, 2]
    finally:
        gate.set()
        checks.close()
