"""The life of subscriptions and their events (``provider/subscriptions.py``): made,
numbered, pulled, kept ippget-event-life seconds, renewed, ended with their job, canceled,
kept across a restart — on a clock the tests move."""

from __future__ import annotations

import pytest

from printwarden.provider import subscriptions as subs
from printwarden.provider.subscriptions import Request, SubscriptionRefused, SubscriptionStore

PULL = Request(pull_method="ippget")
JOBS = Request(pull_method="ippget", events=("job-state-changed",))


def store() -> SubscriptionStore:
    return SubscriptionStore(event_life=60, max_events=5)


def job_ends(s: SubscriptionStore, job_id: int, at: float) -> None:
    s.occur(("job-state-changed", "job-completed"), queue="q", text="done", now=at,
            job_id=job_id, final=True)  # fmt: skip


def test_a_printer_subscription_gets_the_events_it_asked_for_numbered_from_one() -> None:
    s = store()
    made = s.subscribe(JOBS, owner="alice", queue="q", now=0)
    assert made.events == ("job-state-changed",)
    assert made.lease == subs.LEASE_DEFAULT
    s.occur(("job-created", "job-state-changed"), queue="q", text="new", now=1, job_id=7)
    s.occur(("printer-state-changed",), queue="q", text="paused", now=2)  # not asked for
    s.occur(("job-state-changed",), queue="other", text="elsewhere", now=3, job_id=8)
    job_ends(s, 7, 4)
    pulled = s.pull({made.id: 1}, now=5)
    assert [(e.sequence, e.subscribed, e.job_id) for _, e in pulled.events] == [
        (1, "job-state-changed", 7),
        (2, "job-state-changed", 7),
    ]
    assert not pulled.complete  # a printer subscription goes on
    assert [e.sequence for _, e in s.pull({made.id: 2}, now=5).events] == [2]


def test_the_most_specific_keyword_asked_for_names_the_event() -> None:
    s = store()
    both = s.subscribe(Request(pull_method="ippget", events=("job-completed", "job-state-changed")),
                       owner="a", queue="q", now=0)  # fmt: skip
    job_ends(s, 1, 1)
    assert [e.subscribed for _, e in s.pull({both.id: 1}, now=1).events] == ["job-completed"]
    default = s.subscribe(PULL, owner="a", queue="q", now=0)
    assert default.events == subs.DEFAULT_EVENTS


def test_events_live_ippget_event_life_seconds_and_at_most_max_events() -> None:
    s = store()
    made = s.subscribe(JOBS, owner="a", queue="q", now=0)
    for at in range(8):
        s.occur(("job-state-changed",), queue="q", text=str(at), now=at, job_id=1)
    kept = [e.sequence for _, e in s.pull({made.id: 1}, now=8).events]
    assert kept == [4, 5, 6, 7, 8]  # the five newest
    assert [e.sequence for _, e in s.pull({made.id: 1}, now=66).events] == [7, 8]
    assert s.pull({made.id: 1}, now=100).events == []


def test_a_job_subscription_ends_with_its_job_then_goes_once_its_events_expired() -> None:
    s = store()
    made = s.subscribe(JOBS, owner="a", queue="q", now=0, job_id=3)
    s.occur(("job-state-changed",), queue="q", text="other job", now=1, job_id=4)
    job_ends(s, 3, 2)
    s.occur(("job-state-changed",), queue="q", text="after the end", now=3, job_id=3)
    pulled = s.pull({made.id: 1}, now=10)
    assert [e.text for _, e in pulled.events] == ["done"]
    assert pulled.complete  # successful-ok-events-complete
    assert s.get(made.id, now=61) is not None
    assert s.get(made.id, now=63) is None


def test_leases_expire_and_renewing_extends_them_but_not_a_jobs() -> None:
    s = store()
    made = s.subscribe(Request(pull_method="ippget", lease=100), owner="a", queue="q", now=0)
    assert made.expires == 100
    s.renew(made.id, 300, now=50)
    assert s.get(made.id, now=349) is not None
    assert s.get(made.id, now=351) is None
    forever = s.subscribe(Request(pull_method="ippget", lease=0), owner="a", queue="q", now=0)
    assert s.get(forever.id, now=10**9) is not None
    job = s.subscribe(JOBS, owner="a", queue="q", now=0, job_id=1)
    with pytest.raises(SubscriptionRefused) as refused:
        s.renew(job.id, 60, now=1)
    assert refused.value.status == subs.NOT_POSSIBLE
    with pytest.raises(KeyError):
        s.renew(12345, 60, now=1)


def test_cancel_forgets_a_subscription_and_pulling_it_finds_nothing() -> None:
    s = store()
    made = s.subscribe(PULL, owner="a", queue="q", now=0)
    assert s.cancel(made.id)
    assert not s.cancel(made.id)
    pulled = s.pull({made.id: 1}, now=1)
    assert pulled.missing == [made.id]
    assert not pulled.complete


@pytest.mark.parametrize(
    ("request_", "job", "status"),
    [
        (Request(recipient_uri="mailto:a@example.com"), False, subs.URI_SCHEME),
        (Request(), False, subs.BAD_REQUEST),
        (Request(pull_method="ippget", lease=60), True, subs.BAD_REQUEST),
        (Request(pull_method="ippget", events=("printer-stopped",)), True, subs.NOT_SUPPORTED),
        (Request(pull_method="ippget", events=("no-such-event",)), False, subs.NOT_SUPPORTED),
        (Request(pull_method="ippget", user_data=b"x" * 64), False, subs.VALUE_TOO_LONG),
    ],
)
def test_what_cannot_be_honoured_is_refused_with_its_status(
    request_: Request, job: bool, status: int
) -> None:
    with pytest.raises(SubscriptionRefused) as refused:
        subs.checked(request_, job=job)
    assert refused.value.status == status


def test_unsupported_events_are_dropped_and_long_leases_shortened() -> None:
    asked = Request(pull_method="ippget", events=("job-completed", "no-such"), lease=10**9)
    honoured = subs.checked(asked, job=False)
    assert honoured.events == ("job-completed",)
    assert honoured.lease == subs.LEASE_MAX


def test_subscriptions_survive_a_restart_without_their_events() -> None:
    s = store()
    made = s.subscribe(JOBS, owner="alice", queue="q", now=0)
    s.occur(("job-state-changed",), queue="q", text="x", now=1, job_id=1)
    assert s.dirty
    kept = s.snapshot()
    assert not s.dirty
    again = store()
    again.restore(kept, now=2)
    back = again.get(made.id, now=2)
    assert back is not None
    assert back.owner == "alice"
    assert back.sequence == 1
    assert again.pull({made.id: 1}, now=2).events == []
    again.occur(("job-state-changed",), queue="q", text="y", now=3, job_id=1)
    assert [e.sequence for _, e in again.pull({made.id: 1}, now=3).events] == [2]
    assert again.subscribe(PULL, owner="b", queue="q", now=3).id == made.id + 1
