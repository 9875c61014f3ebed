"""A quiet long poll (a site with a beacon, ``quiet=true``): it may wait long and beats
rarely, yet a change for its site answers it at once, and a change for other sites within
``CATCH_UP_SECONDS`` of its start (with the new number), not at the end of its wait."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from printwarden.service.routes import sites as site_routes
from printwarden.testing.inprocess import InProcessAppServer
from support.site_feed import caught_up_site


def quiet_poll(site: httpx.Client, name: str, since: int, found: dict[str, Any]) -> None:
    started = time.monotonic()
    params = {"since": since, "wait": 200, "beats": True, "quiet": True}
    answer = site.get(f"/sites/{name}/changes", params=params, timeout=60)
    found.update(answer.json(), took=time.monotonic() - started, status=answer.status_code)


def test_a_quiet_poll_waits_long_and_answers_a_change_for_its_site_at_once(
    app_server: InProcessAppServer, admin: httpx.Client, unique: Callable[[str], str]
) -> None:
    name = unique("quiet")
    site, upto = caught_up_site(app_server, admin, name)
    found: dict[str, Any] = {}
    poll = threading.Thread(target=quiet_poll, args=(site, name, upto, found))
    poll.start()
    time.sleep(1.0)
    assert poll.is_alive()  # beyond a beating poll's 0.25 s beats: nothing has come
    assert admin.post("/users", json={"username": unique("newcomer")}).status_code == 201
    poll.join(timeout=10)
    assert found["status"] == 200
    assert found["entities"]
    assert 1.0 <= found["took"] < 5


def test_a_change_for_other_sites_answers_within_the_catch_up_time(
    app_server: InProcessAppServer,
    admin: httpx.Client,
    unique: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(site_routes, "CATCH_UP_SECONDS", 2.0)
    name, other = unique("quiet"), unique("other")
    site, upto = caught_up_site(app_server, admin, name)
    assert admin.post("/sites", json={"name": other}).status_code == 201
    found: dict[str, Any] = {}
    poll = threading.Thread(target=quiet_poll, args=(site, name, upto, found))
    poll.start()
    time.sleep(0.5)
    printer = {"name": unique("elsewhere"), "colour": False, "site": other}
    assert admin.post("/printers", json=printer).status_code == 201  # not replicated here
    poll.join(timeout=10)
    assert found["status"] == 200
    assert found["entities"] == []
    assert found["upto"] > upto  # the site learns it is caught up to the new number
    assert 1.8 <= found["took"] < 4  # at 2 s from its start, not at 200 s
