"""The Site Server's mode machine: hysteresis, outages, forced offline."""

from __future__ import annotations

from printwarden.domain.site_mode import ModeMachine, SiteMode


def test_one_failure_is_not_an_outage_two_in_a_row_are() -> None:
    machine = ModeMachine()
    assert machine.failure(0.0) is SiteMode.ONLINE
    assert machine.success(0.5) is SiteMode.ONLINE
    assert machine.failure(1.0) is SiteMode.ONLINE
    assert machine.failure(1.5, "timeout") is SiteMode.OFFLINE
    assert machine.outages[-1].reason == "timeout"
    assert machine.changes == 1


def test_coming_back_needs_successes_in_a_row_over_the_settle_time() -> None:
    machine = ModeMachine(successes_to_return=3, settle_seconds=2.0)
    machine.failure(0.0)
    machine.failure(0.5)
    for moment in (1.0, 1.5, 2.0):
        assert machine.success(moment) is SiteMode.OFFLINE  # 3 in a row, but only 1 s
    assert machine.success(3.0) is SiteMode.RECONCILING
    assert machine.reconciled(3.5) is SiteMode.ONLINE
    assert machine.outages[-1].ended == 3.5
    assert machine.outages[-1].duration(99.0) == 3.0


def test_a_link_flapping_every_second_does_not_thrash() -> None:
    machine = ModeMachine()
    moment = 0.0
    for _ in range(60):  # a minute: half a second up, half a second down
        machine.success(moment)
        machine.failure(moment + 0.5)
        machine.failure(moment + 0.75)
        moment += 1.0
    assert machine.mode is SiteMode.OFFLINE
    assert machine.changes == 1  # went offline once and stayed


def test_a_failure_while_reconciling_goes_back_offline() -> None:
    machine = ModeMachine(settle_seconds=0.0)
    machine.failure(0.0)
    machine.failure(0.1)
    for moment in (1.0, 1.1, 1.2):
        machine.success(moment)
    assert machine.mode is SiteMode.RECONCILING
    assert machine.failure(1.3) is SiteMode.OFFLINE


def test_forced_offline_holds_until_released() -> None:
    machine = ModeMachine(settle_seconds=0.0)
    assert machine.force(True, 0.0) is SiteMode.OFFLINE
    assert "administrator" in machine.outages[-1].reason
    for moment in (1.0, 2.0, 3.0, 4.0):
        assert machine.success(moment) is SiteMode.OFFLINE
    machine.force(False, 5.0)
    for moment in (6.0, 7.0, 8.0):
        machine.success(moment)
    assert machine.mode is SiteMode.RECONCILING


def test_a_site_restarted_with_a_journal_starts_offline_and_reconciles_first() -> None:
    machine = ModeMachine(settle_seconds=0.0)
    assert machine.start_offline(0.0, "restarted with an unsent journal") is SiteMode.OFFLINE
    for moment in (1.0, 1.1, 1.2):
        machine.success(moment)
    assert machine.mode is SiteMode.RECONCILING
