"""What HQ's beacon asks before it rings a watching site (``routes/sites.beacon_news``),
against a real App Server's database: a change the site receives, news of its forced mode
and of a re-key ring it; another site's printer moves its number only (a catch-up)."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from printwarden.domain.beacon import Watch
from printwarden.service.beacon import News
from printwarden.service.routes.sites import beacon_news
from printwarden.testing.inprocess import InProcessAppServer
from support.site_feed import caught_up, caught_up_site


def test_a_watch_is_news_only_for_what_its_site_would_be_answered(
    app_server: InProcessAppServer, admin: httpx.Client, unique: Callable[[str], str]
) -> None:
    name, other = unique("watched"), unique("other")
    site, upto = caught_up_site(app_server, admin, name)
    assert admin.post("/sites", json={"name": other}).status_code == 201
    app = app_server.app
    assert app is not None
    news = beacon_news(app.state.printwarden)

    def ask(since: int, forced: bool = False, generation: int = 1) -> News:
        [found] = news([(name, Watch(since, forced), generation)])
        return found

    assert ask(upto) == News(False, False)  # caught up: nothing
    printer = {"name": unique("elsewhere"), "colour": False, "site": other}
    assert admin.post("/printers", json=printer).status_code == 201
    assert ask(upto) == News(False, True)  # another site's: a catch-up, no ring now
    assert admin.post("/users", json={"username": unique("newcomer")}).status_code == 201
    assert ask(upto) == News(True, True)  # every site receives users
    assert ask(upto) == News(True, True)  # the second time from the kept window
    now = caught_up(site, name)
    assert ask(now) == News(False, False)
    assert ask(now, forced=True) == News(True, False)  # the site believes it is forced
    assert ask(now, generation=0) == News(True, False)  # re-keyed since its ticket
    [gone] = news([(unique("no-such-site"), Watch(now, False), 1)])
    assert gone == News(True, True)  # rung: it finds out when it asks
