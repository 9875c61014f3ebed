"""The job state machine: its table, and random interleavings of everything that can happen.

The stateful test plays many jobs at once: submissions, any event at any moment (the
engine's steps, cancels, releases, expiries, printer errors, server answers — including
events that make no sense in the job's phase), unexpected failures and crash-restarts of the
whole provider. After each step it checks the promises of the machine, and at the end it
drives every job to its end the way the provider would.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from printwarden.domain.job_states import (
    BEFORE_SENDING,
    CANCELABLE,
    FINAL,
    RESTING,
    TRANSITIONS,
    Event,
    Phase,
    chargeable,
    on_error,
    restart_event,
    retry_delay,
    step,
    submitted,
)

MAX_FAILURES = 3
RESTARTS = (Event.CRASH_RESTART, Event.CRASH_RESTART_RAW)


def test_final_phases_accept_no_event() -> None:
    for phase in FINAL:
        for event in Event:
            assert step(phase, event) is None, (phase, event)


def test_every_phase_can_reach_an_end() -> None:
    ends: set[Phase] = set(FINAL)
    changed = True
    while changed:
        changed = False
        for (phase, _), target in TRANSITIONS.items():
            if target in ends and phase not in ends:
                ends.add(phase)
                changed = True
    assert ends == set(Phase)


def reachable(start: Phase, through: set[Phase]) -> set[Phase]:
    """Phases reachable from ``start`` by any event, not going on from ``through``."""
    seen, todo = {start}, deque([start])
    while todo:
        phase = todo.popleft()
        if phase in through and phase is not start:
            continue
        for (source, _), target in TRANSITIONS.items():
            if source is phase and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_what_reached_the_printer_never_ends_canceled_or_expired() -> None:
    assert reachable(Phase.SENT, set()) == {Phase.SENT, Phase.COMPLETED, Phase.ABORTED}
    # Mid-send, a job is canceled only after going back to the queue (nothing reached the
    # printer) or after a person looked at a job stopped where a resend could print twice.
    ended = reachable(Phase.SENDING, {Phase.QUEUED, Phase.STOPPED})
    assert not ended & {Phase.CANCELED, Phase.EXPIRED}


def test_a_restart_leaves_no_job_in_the_engines_hands_and_none_lost() -> None:
    for phase in set(Phase) - FINAL:
        for event in RESTARTS:
            after = step(phase, event)
            assert after is not None, (phase, event)
            assert after in RESTING | FINAL
    assert step(Phase.SENDING, Event.CRASH_RESTART_RAW) is Phase.STOPPED
    assert step(Phase.SENDING, Event.CRASH_RESTART) is Phase.QUEUED
    assert step(Phase.SENT, Event.CRASH_RESTART_RAW) is Phase.COMPLETED


def test_submission_and_error_rules() -> None:
    assert submitted(document=False, hold=False) is Phase.INCOMING
    assert submitted(document=True, hold=True) is Phase.HELD
    assert submitted(document=True, hold=False) is Phase.QUEUED
    assert on_error(Phase.SENDING, 1, 3) is Event.SEND_UNCERTAIN
    assert on_error(Phase.SENT, 1, 3) is Event.SEND_DONE
    assert on_error(Phase.ANALYSING, 2, 3) is Event.JOB_ERROR
    assert on_error(Phase.ANALYSING, 3, 3) is Event.GIVE_UP
    assert [retry_delay(n, 0.5, 4.0) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert retry_delay(10_000, 1.0, 300.0) == 300.0


@pytest.mark.parametrize("phase", sorted(CANCELABLE))
def test_a_cancel_before_sending_ends_the_job_canceled(phase: Phase) -> None:
    assert step(phase, Event.CANCEL) is Phase.CANCELED


@dataclass
class Job:
    phase: Phase
    raw: bool  # its printer is a raw socket or a file: a resend could print twice
    endings: int = 0
    charges: int = 0
    reached_printer: bool = False  # the printer took it whole (or it printed)
    sends_after_raw_cut: int = 0
    cut_raw: bool = False
    history: list[tuple[Event, Phase]] = field(default_factory=list)


class Lifecycles(RuleBasedStateMachine):
    """Many jobs, and everything that can happen to them, in any order."""

    def __init__(self) -> None:
        super().__init__()
        self.jobs: list[Job] = []
        self.submitted = 0

    # --- what happens ------------------------------------------------------------------

    @rule(document=st.booleans(), hold=st.booleans(), raw=st.booleans())
    def submit(self, document: bool, hold: bool, raw: bool) -> None:
        self.jobs.append(Job(submitted(document=document, hold=hold), raw))
        self.submitted += 1

    @precondition(lambda self: self.jobs)
    @rule(data=st.data(), event=st.sampled_from([e for e in Event if e not in RESTARTS]))
    def happen(self, data: st.DataObject, event: Event) -> None:
        job = data.draw(st.sampled_from(self.jobs))
        self._apply(job, event)

    @precondition(lambda self: self.jobs)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        """A cancel at any moment: before sending it ends the job; after, it is refused."""
        job = data.draw(st.sampled_from(self.jobs))
        before = job.phase
        self._apply(job, Event.CANCEL)
        if before in CANCELABLE:
            assert job.phase is Phase.CANCELED
        else:
            assert job.phase is before

    @precondition(lambda self: self.jobs)
    @rule(data=st.data(), failures=st.integers(1, MAX_FAILURES + 1))
    def fail(self, data: st.DataObject, failures: int) -> None:
        """Something unexpected went wrong in one job; the machine says what follows."""
        job = data.draw(st.sampled_from(self.jobs))
        if job.phase in FINAL:
            return
        self._apply(job, on_error(job.phase, failures, MAX_FAILURES))
        assert job.phase is not Phase.SENDING

    @rule()
    def crash_restart(self) -> None:
        for job in self.jobs:
            if job.phase in FINAL:
                continue
            was_sending = job.phase is Phase.SENDING
            self._apply(job, restart_event(resendable=not job.raw))
            assert job.phase in RESTING | FINAL, "a job left where nobody picks it up"
            if was_sending and job.raw:
                job.cut_raw = True

    def _apply(self, job: Job, event: Event) -> None:
        before = job.phase
        after = step(before, event)
        if after is None:
            return  # refused: nothing changes
        assert before not in FINAL
        job.phase = after
        job.history.append((event, after))
        if after in FINAL:
            job.endings += 1
        if after is Phase.SENDING and job.cut_raw:
            job.sends_after_raw_cut += 1
        if after is Phase.SENT or (after is Phase.COMPLETED and before is not Phase.SENT):
            job.reached_printer = True
        if chargeable(after):
            job.charges += 1

    # --- what must always hold -----------------------------------------------------------

    @invariant()
    def promises(self) -> None:
        assert len(self.jobs) == self.submitted  # no accepted job is ever lost
        for job in self.jobs:
            assert job.endings == (1 if job.phase in FINAL else 0)
            assert job.charges == (1 if job.phase is Phase.COMPLETED else 0)
            if job.phase in (Phase.CANCELED, Phase.EXPIRED):
                assert not job.reached_printer, job.history
            assert job.sends_after_raw_cut == 0, job.history

    def teardown(self) -> None:
        """Drive every job to its end as the provider would: the engine finishes what it
        holds, a person cancels what waits."""
        for job in self.jobs:
            for _ in range(5):
                if job.phase in FINAL:
                    break
                if job.phase in (Phase.SENDING, Phase.SENT):
                    self._apply(job, Event.SEND_DONE)
                else:
                    assert job.phase in RESTING | BEFORE_SENDING
                    self._apply(job, Event.CANCEL)
            assert job.phase in FINAL
            assert job.endings == 1
            assert job.charges == (1 if job.phase is Phase.COMPLETED else 0)
        super().teardown()


Lifecycles.TestCase.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)
test_random_interleavings = Lifecycles.TestCase
