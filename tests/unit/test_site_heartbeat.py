"""When a Site Server sends HQ its status (``site/heartbeat.py``)."""

from __future__ import annotations

from typing import Any

from printwarden.site.heartbeat import (
    BEATS_LIVE_SECONDS,
    LOOK_SECONDS,
    PROBE_SECONDS,
    RECENT_ANSWERS,
    REFRESH_SECONDS,
    TIMEOUT_MAX,
    TIMEOUT_MIN,
    RoundTrips,
    StatusSchedule,
)


def status(**changed: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"mode": "online", "journal_backlog": 0, "replica_seq": 7,
                            "outages": [{"reason": "cut", "duration_seconds": 1.5,
                                         "ongoing": False}]}  # fmt: skip
    return {**base, **changed}


def told(at: float) -> StatusSchedule:
    schedule = StatusSchedule()
    schedule.tried(at)
    schedule.answered(at, status())
    return schedule


def test_the_first_status_is_due_at_once() -> None:
    assert StatusSchedule().due(100.0, status(), online=True, last_beat=100.0)


def test_while_the_poll_beats_an_unchanged_status_waits_for_the_refresh() -> None:
    schedule = told(100.0)
    beat = 100.0 + REFRESH_SECONDS - 0.1
    assert not schedule.due(beat, status(), online=True, last_beat=beat)
    longer = status(outages=[{"reason": "cut", "duration_seconds": 9.0, "ongoing": False}])
    assert not schedule.due(beat, longer, online=True, last_beat=beat)  # only time passed
    later = 100.0 + REFRESH_SECONDS
    assert schedule.due(later, status(), online=True, last_beat=later)


def test_a_changed_status_goes_up_at_once() -> None:
    schedule = told(100.0)
    assert schedule.due(100.1, status(replica_seq=8), online=True, last_beat=100.1)
    assert schedule.due(100.1, status(mode_changes=3), online=True, last_beat=100.1)


def test_without_beats_the_status_is_the_heartbeat_again() -> None:
    schedule = told(100.0)
    silent = 100.0 + max(BEATS_LIVE_SECONDS, PROBE_SECONDS) + 0.01
    assert schedule.due(silent, status(), online=True, last_beat=100.0)
    schedule.tried(silent)
    assert not schedule.due(silent + PROBE_SECONDS / 2, status(), online=True, last_beat=100.0)
    assert schedule.due(silent + PROBE_SECONDS, status(), online=True, last_beat=100.0)


def test_offline_or_with_a_backlog_the_status_goes_up_each_probe() -> None:
    schedule = told(100.0)
    at = 100.0 + PROBE_SECONDS
    assert schedule.due(at, status(mode="offline"), online=False, last_beat=at)
    assert schedule.due(at, status(journal_backlog=2), online=True, last_beat=at)
    schedule.tried(at)
    assert not schedule.due(at + 0.1, status(journal_backlog=2), online=True, last_beat=at)


def test_between_looks_the_status_is_not_built() -> None:
    schedule = told(100.0)
    assert schedule.worth_a_look(100.05, online=True, last_beat=100.05)
    assert not schedule.worth_a_look(100.1, online=True, last_beat=100.1)  # looked just now
    assert schedule.worth_a_look(100.05 + LOOK_SECONDS, online=True, last_beat=100.3)


def test_a_probe_or_refresh_due_by_time_is_looked_at_at_once() -> None:
    schedule = told(100.0)
    assert schedule.worth_a_look(100.0, online=True, last_beat=100.0)
    refresh = 100.0 + REFRESH_SECONDS
    assert schedule.worth_a_look(refresh, online=True, last_beat=refresh)
    probe = refresh + PROBE_SECONDS
    assert schedule.worth_a_look(probe, online=False, last_beat=refresh)  # tried at 100.0
    schedule.tried(probe)
    assert not schedule.worth_a_look(probe + 0.01, online=False, last_beat=refresh)


def test_the_timeout_follows_the_slowest_recent_answer_within_bounds() -> None:
    trips = RoundTrips()
    assert trips.timeout() == TIMEOUT_MAX  # nothing measured yet
    trips.answered(0.004)  # a quick link
    assert trips.timeout() == TIMEOUT_MIN
    trips.answered(0.1)  # an App Server slow under load is given longer
    assert trips.timeout() == 0.4
    trips.answered(2.0)
    assert trips.timeout() == TIMEOUT_MAX
    for _ in range(RECENT_ANSWERS):  # the slow ones age out
        trips.answered(0.01)
    assert trips.timeout() == TIMEOUT_MIN
