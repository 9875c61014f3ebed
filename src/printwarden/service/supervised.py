"""Background loops of a server process that never die quietly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping

RESTART_DELAY = 1.0


async def supervised(
    loop: Callable[[], Awaitable[None]],
    name: str,
    restarts: MutableMapping[str, int],
    log: logging.Logger,
) -> None:
    """Run ``loop`` for ever: an exception is logged, counted in ``restarts["loop_restarts"]``
    and the loop restarted after a pause."""
    while True:
        try:
            await loop()
        except asyncio.CancelledError:
            raise
        except Exception:
            restarts["loop_restarts"] = restarts.get("loop_restarts", 0) + 1
            log.exception("the %s loop failed; restarting it", name)
            await asyncio.sleep(RESTART_DELAY)
