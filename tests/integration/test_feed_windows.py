"""A change read once for every site (``store/feed_windows.py``): the sites' pages after the
first are built from the kept window, each with the card hashes of its own key, and are
what each site's own read would have given."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from printwarden.store import feed_windows, printers, replication, users
from printwarden.store.changes import last_change_seq
from printwarden.store.db import Database
from printwarden.store.replication import Page
from printwarden.store.site_numbers import SiteNumbers

SECRET = b"feed-windows-test-secret-" + b"x" * 8
SITES = ("north", "south", "east")


def numbers(site: str) -> SiteNumbers:
    return SiteNumbers(SECRET, site, 1)


def head(hq: Database) -> int:
    with hq.read() as session:
        return last_change_seq(session)


def read_page(hq: Database, site: str, since: int) -> Page:
    with hq.snapshot() as session:
        return replication.changes(session, site, since, 5000, numbers=numbers(site))


def forget_windows(monkeypatch: Any) -> None:
    monkeypatch.setattr(feed_windows, "WINDOWS", feed_windows.Windows())
    monkeypatch.setattr(replication, "WINDOWS", feed_windows.WINDOWS)
    monkeypatch.setattr(replication, "CHANGED_KINDS", replication.ChangedKinds())


def add_person(hq: Database, card: str) -> str:
    name = f"fw-{uuid.uuid4().hex[:8]}"
    with hq.session() as session:
        users.create_user(session, SECRET, name, users.UserChanges(cards=[card]))
    return name


def test_each_site_gets_the_kept_change_under_its_own_key(hq: Database, monkeypatch: Any) -> None:
    forget_windows(monkeypatch)
    since = head(hq)
    name = add_person(hq, "card-7731")
    now = head(hq)
    url = str(hq.engine.url)
    assert replication.kept_changes(url, since, now, 5000, numbers("north")) is None  # unread

    first = read_page(hq, "north", since)  # the first poll reads the window
    kept = {site: replication.kept_changes(url, since, now, 5000, numbers(site)) for site in SITES}
    forget_windows(monkeypatch)
    own = {site: read_page(hq, site, since) for site in SITES}  # each site's own read

    for site in SITES:
        page = kept[site]
        assert page is not None  # no query: from the window alone
        assert page == own[site]
    assert kept["north"] == first
    (user,) = [e for e in first.entities if e["entity"] == "user"]
    assert user["row"]["username"] == name
    cards = {site: tuple(next(e["cards"] for e in page.entities if e["entity"] == "user"))
             for site, page in own.items()}  # fmt: skip
    assert len(set(cards.values())) == len(SITES)  # each under its own site's key


def test_a_change_some_sites_do_not_receive_is_read_by_each(hq: Database, monkeypatch: Any) -> None:
    forget_windows(monkeypatch)
    since = head(hq)
    with hq.session() as session:
        printers.save_printer(session, "north-laser", {"site": "north"}, create=True)
    now = head(hq)
    page = read_page(hq, "north", since)
    assert [e["row"]["name"] for e in page.entities if e["entity"] == "printer"] == ["north-laser"]
    url = str(hq.engine.url)
    assert replication.kept_changes(url, since, now, 5000, numbers("south")) is None
    south = read_page(hq, "south", since)
    assert not [e for e in south.entities if e["entity"] == "printer"]
    assert south.upto == now  # caught up all the same


def test_a_large_window_is_not_kept(hq: Database, monkeypatch: Any) -> None:
    forget_windows(monkeypatch)
    monkeypatch.setattr(feed_windows, "MOST_ROWS", 3)
    since = head(hq)
    names = {add_person(hq, f"card-{n}") for n in range(5)}
    now = head(hq)
    page = read_page(hq, "north", since)
    assert {e["row"]["username"] for e in page.entities if e["entity"] == "user"} == names
    assert replication.kept_changes(str(hq.engine.url), since, now, 5000, numbers("south")) is None


def test_a_later_change_is_a_new_window(hq: Database, monkeypatch: Any) -> None:
    forget_windows(monkeypatch)
    since = head(hq)
    name = add_person(hq, "card-1")
    read_page(hq, "north", since)  # kept
    with hq.session() as session:
        row = users.find_user(session, name)
        users.update_user(session, SECRET, row, users.UserChanges(full_name="Changed Again"))
    late = read_page(hq, "south", since)
    assert [e["row"]["full_name"] for e in late.entities if e["entity"] == "user"] == [
        "Changed Again"
    ]
    assert late.upto == head(hq)


def test_the_first_poll_reads_while_the_others_wait_for_it() -> None:
    windows = feed_windows.Windows()
    entered: list[float] = []
    started = time.monotonic()

    def poll(hold: float) -> None:
        with windows.first_reader("db", 10, 11):
            entered.append(time.monotonic() - started)
            time.sleep(hold)

    first = threading.Thread(target=poll, args=(0.5,))
    first.start()
    time.sleep(0.05)
    others = [threading.Thread(target=poll, args=(0.0,)) for _ in range(5)]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(10)
    assert len(entered) == 6
    assert entered[0] < 0.1
    assert min(entered[1:]) >= 0.45  # after the first had read
