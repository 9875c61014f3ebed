"""The provider's IPP clock: ``printer-up-time`` counts seconds since the provider started.

RFC 8011 times (``time-at-creation``, ``printer-state-change-time``…) are on this clock, so
an event from before the start (a job spooled before a restart) has a negative time, as the
RFC allows (``integer(MIN:MAX)``); the ``date-time-*`` attributes carry the wall-clock date.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

_started = time.time()


def start(now: float | None = None) -> None:
    """Set the clock's zero: the provider calls it as it starts (until then, import time)."""
    global _started
    _started = time.time() if now is None else now


def started() -> float:
    """The Unix time the provider started."""
    return _started


def up_time(now: float | None = None) -> int:
    """Seconds since the provider started (at least 1: RFC 8011 ``integer(1:MAX)``)."""
    return max(1, int((time.time() if now is None else now) - _started))


def ipp_time(stamp: float) -> int:
    """A Unix timestamp on the ``printer-up-time`` clock."""
    return int(stamp - _started)


def date_time(stamp: float) -> datetime:
    """A Unix timestamp as an IPP ``dateTime``."""
    return datetime.fromtimestamp(stamp, UTC)
