"""When a Site Server sends HQ its status (``POST /sites/{name}/status``).

While the site hears HQ's beats — on its beacon (``site/beacon.py``) or else on its long
poll — they are its heartbeat: the status goes up only when it changed (mode, backlog,
replica number, report) or every :data:`REFRESH_SECONDS` (HQ's view of a quiet site;
:data:`BEACON_REFRESH_SECONDS` while a beacon holds, which HQ sees). When no beat came for
:data:`BEATS_LIVE_SECONDS` (a cut, a poll between two waits, a site still syncing) or the site
is not online, the status is the heartbeat again and goes up every :data:`PROBE_SECONDS`:
its answer or failure is what takes the site offline and brings it back. So it does while
the journal holds entries (each answer starts their upload). Its timeout follows the
measured round trips (:class:`RoundTrips`), as the scale-out issue asked, not a fixed one.

HQ needs to know within seconds which sites it reaches (it refuses to release a job held at
a site it cannot reach, rather than queue it): hence, without a beacon, a status each second
even from a quiet site, and HQ writes only what changed (``service/site_contacts.py``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from printwarden.domain.site_status import essentials

PROBE_SECONDS = 0.5  # the heartbeat's period while it is the link's only sign
REFRESH_SECONDS = 1.0  # the longest a quiet site waits between two (HQ's view of reachability)
# With a beacon, HQ sees the site reachable while it holds (``service/beacon.py``): the
# status goes up when it changes, and this often anyway (it renews the beacon's ticket).
BEACON_REFRESH_SECONDS = 300.0
BEATS_LIVE_SECONDS = 0.4  # a beat heard this recently: the long poll hears HQ (beats: 0.25 s)
LOOK_SECONDS = 0.25  # between two looks at the status (it reads the journal and the replica)
# A status's timeout: this many times the slowest of the last answers, within these bounds.
TIMEOUT_FACTOR, TIMEOUT_MIN, TIMEOUT_MAX = 4.0, 0.25, 0.75
RECENT_ANSWERS = 10


@dataclass(slots=True)
class StatusSchedule:
    """What was last told to HQ and when (monotonic seconds)."""

    told: dict[str, Any] | None = None
    told_at: float = float("-inf")
    tried_at: float = float("-inf")
    looked_at: float = float("-inf")
    refresh: float = REFRESH_SECONDS  # the longest between two while the link beats

    def worth_a_look(self, now: float, online: bool, last_beat: float) -> bool:
        """Whether to build the status now and ask :meth:`due`: at once when a probe or a
        refresh is due by time, otherwise every :data:`LOOK_SECONDS` for a change."""
        probing = not online or now - last_beat > BEATS_LIVE_SECONDS
        by_time = (
            now - self.tried_at >= PROBE_SECONDS if probing else now - self.told_at >= self.refresh
        )
        if by_time or now - self.looked_at >= LOOK_SECONDS:
            self.looked_at = now
            return True
        return False

    def due(self, now: float, status: Mapping[str, Any], online: bool, last_beat: float) -> bool:
        """Whether to send ``status`` now."""
        probing = not online or now - last_beat > BEATS_LIVE_SECONDS
        if probing or status.get("journal_backlog"):  # the answer starts the upload
            return now - self.tried_at >= PROBE_SECONDS
        return now - self.told_at >= self.refresh or essentials(status) != self.told

    def tried(self, now: float) -> None:
        self.tried_at = now

    def answered(self, now: float, status: Mapping[str, Any]) -> None:
        self.told, self.told_at = essentials(status), now


@dataclass(slots=True)
class RoundTrips:
    """How long HQ took to answer the last statuses, and so how long to wait for the next:
    :data:`TIMEOUT_FACTOR` times the slowest of them, between :data:`TIMEOUT_MIN` and
    :data:`TIMEOUT_MAX` (before any answer: the most). On a quick link a cut is then seen
    sooner; an App Server slow under load is given longer before it counts as gone."""

    recent: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT_ANSWERS))

    def answered(self, seconds: float) -> None:
        self.recent.append(seconds)

    def timeout(self) -> float:
        if not self.recent:
            return TIMEOUT_MAX
        return min(TIMEOUT_MAX, max(TIMEOUT_MIN, TIMEOUT_FACTOR * max(self.recent)))
