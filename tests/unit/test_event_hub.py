"""The event hub: per-person order, resume after a known id, bounded memory, and waking the
streams that wait."""

from __future__ import annotations

import asyncio
import threading
import time

from printwarden.service.events import EventHub
from printwarden.store.user_events import UserEvent


def test_events_go_to_their_person_in_order_and_resume_after_an_id() -> None:
    hub = EventHub()
    hub.touch(1)
    hub.touch(2)
    hub.publish([UserEvent(1, "a"), UserEvent(2, "b"), UserEvent(1, "c")])
    assert [e.kind for e in hub.since(1, 0)] == ["a", "c"]
    assert [e.kind for e in hub.since(2, 0)] == ["b"]
    first = hub.since(1, 0)[0]
    resumed = hub.resumable(hub.event_id(first.seq))
    assert resumed == first.seq
    assert [e.kind for e in hub.since(1, resumed)] == ["c"]


def test_an_id_from_another_hub_or_the_future_cannot_be_resumed() -> None:
    hub, other = EventHub(), EventHub()
    hub.touch(1)
    hub.publish([UserEvent(1, "a")])
    assert hub.resumable(other.event_id(1)) is None
    assert hub.resumable(hub.event_id(99)) is None
    assert hub.resumable("garbage") is None
    assert hub.resumable(None) is None


def test_only_the_last_events_of_a_person_are_kept() -> None:
    hub = EventHub(kept=3)
    hub.touch(1)
    hub.publish([UserEvent(1, str(n)) for n in range(10)])
    assert [e.kind for e in hub.since(1, 0)] == ["7", "8", "9"]


def test_a_publication_from_another_thread_wakes_the_waiting_stream() -> None:
    async def scenario() -> list[str]:
        hub = EventHub()
        hub.bind(asyncio.get_running_loop())
        flag = hub.subscribe(7)
        assert hub.listeners == 1
        threading.Thread(target=hub.publish, args=([UserEvent(7, "hello")],)).start()
        await asyncio.wait_for(flag.wait(), 5)
        hub.unsubscribe(7, flag)
        assert hub.listeners == 0
        return [e.kind for e in hub.since(7, 0)]

    assert asyncio.run(scenario()) == ["hello"]


def test_one_heartbeat_wakes_every_waiting_stream_and_counts() -> None:
    async def scenario() -> tuple[int, bool, bool]:
        hub = EventHub()
        hub.bind(asyncio.get_running_loop())
        first, second = hub.subscribe(1), hub.subscribe(2)
        hub.beat()
        await asyncio.wait_for(asyncio.gather(first.wait(), second.wait()), 5)
        first.clear()
        hub.wake_all()  # the site changed mode: from any thread, through the loop
        await asyncio.wait_for(first.wait(), 5)
        return hub.beats, first.is_set(), second.is_set()

    assert asyncio.run(scenario()) == (1, True, True)


def test_only_people_with_a_client_have_their_events_kept_and_only_for_a_while() -> None:
    hub = EventHub(resume_seconds=0.2)
    hub.publish([UserEvent(5, "nobody listens")])
    assert hub.since(5, 0) == []
    flag = hub.subscribe(5)
    hub.publish([UserEvent(5, "while open")])
    hub.unsubscribe(5, flag)
    hub.publish([UserEvent(5, "just after")])  # a client reconnecting resumes these
    assert [e.kind for e in hub.since(5, 0)] == ["while open", "just after"]
    time.sleep(0.3)
    hub.forget_departed()
    hub.publish([UserEvent(5, "long after")])
    assert hub.since(5, 0) == []
