"""A site keeps at most a few long polls open at HQ: a newer one beyond them ends the oldest,
which answers at once (the site asks again), so a stolen site token cannot pile them up."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from printwarden.service.site_polls import MAX_POLLS_PER_SITE
from printwarden.testing.inprocess import InProcessAppServer
from support.site_feed import caught_up_site


def test_a_poll_beyond_the_limit_ends_the_oldest_of_its_site(
    app_server: InProcessAppServer, admin: httpx.Client, unique: Callable[[str], str]
) -> None:
    name = unique("polls-site")
    site, upto = caught_up_site(app_server, admin, name)
    answered: dict[int, float] = {}
    entities: dict[int, int] = {}
    started = time.monotonic()

    def poll(n: int, beats: bool) -> None:
        params = {"since": upto, "wait": 20, "beats": beats}
        found = site.get(f"/sites/{name}/changes", params=params)
        assert found.status_code == 200, found.text
        entities[n] = len(found.json()["entities"])
        answered[n] = time.monotonic() - started

    threads = []
    for n in range(MAX_POLLS_PER_SITE + 1):
        threads.append(threading.Thread(target=poll, args=(n, n % 2 == 1)))
        threads[-1].start()
        time.sleep(0.3)  # in this order
    threads[0].join(timeout=5)
    assert not threads[0].is_alive()  # the oldest answered when the newest came
    assert list(answered) == [0]
    app = app_server.app
    assert app is not None
    polls = app.state.printwarden.site_polls
    assert polls.count(name) == MAX_POLLS_PER_SITE
    assert polls.ended >= 1
    threads.append(threading.Thread(target=poll, args=(9, True)))  # a sixth: ends the second
    threads[-1].start()
    threads[1].join(timeout=5)
    assert not threads[1].is_alive()
    assert sorted(answered) == [0, 1]
    assert entities == {0: 0, 1: 0}  # answered with what they had: nothing new
    assert admin.post("/users", json={"username": unique("wake")}).status_code == 201
    for thread in threads:  # the change answers the rest
        thread.join(timeout=10)
    assert polls.count(name) == 0
