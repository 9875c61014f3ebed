"""Site Servers calling in are recorded without a write each (``service/site_contacts.py``):
a status that says nothing new only notes the time, and the times go down together."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from printwarden.service import site_contacts
from printwarden.service.site_contacts import SiteContacts
from printwarden.store import sites
from printwarden.store.db import Database, utc
from printwarden.store.errors import NotFound


def status(seq: int = 5, **more: Any) -> dict[str, Any]:
    return {"site": "north", "mode": "online", "journal_backlog": 0, "replica_seq": seq,
            "outages": [{"reason": "cut", "duration_seconds": 2.0, "ongoing": False}],
            **more}  # fmt: skip


def contact(hq: Database, name: str) -> datetime | None:
    with hq.read() as session:
        found = sites.find_site(session, name).last_contact
    return utc(found) if found is not None else None


@pytest.fixture
def hq(hq: Database) -> Database:
    with hq.session() as session:
        for name in ("north", "south"):
            sites.create_site(session, name)
    return hq


def test_an_unchanged_status_is_not_written_and_the_times_go_down_together(
    hq: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(site_contacts, "FLUSH_SECONDS", 0.3)
    book = SiteContacts()
    assert book.heard(hq, "north", status()) is False
    book.heard(hq, "south", status())
    assert book.writes == 2  # each site's first status is news
    first = contact(hq, "north")
    assert first is not None
    for _ in range(50):  # fifty heartbeats within the flush period: read only
        book.heard(hq, "north", status())
        book.heard(hq, "south", status())
    assert book.writes == 2
    assert contact(hq, "north") == first
    time.sleep(0.35)
    book.heard(hq, "north", status())  # the first call after the period writes every time
    assert book.writes == 3
    later = contact(hq, "north")
    assert later is not None
    assert later > first
    south = contact(hq, "south")
    assert south is not None
    assert (datetime.now(UTC) - south).total_seconds() < 1


def test_a_status_with_news_is_written_at_once_but_a_longer_outage_is_no_news(
    hq: Database,
) -> None:
    book = SiteContacts()
    book.heard(hq, "north", status())
    longer = status(outages=[{"reason": "cut", "duration_seconds": 9.0, "ongoing": False}])
    book.heard(hq, "north", longer)
    assert book.writes == 1
    book.heard(hq, "north", status(seq=6))
    assert book.writes == 2
    with hq.read() as session:
        assert sites.find_site(session, "north").status["replica_seq"] == 6


def test_the_answer_says_whether_the_site_is_forced_offline_and_unknown_sites_are_refused(
    hq: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(site_contacts, "FLUSH_SECONDS", 60.0)  # no write falls due meanwhile
    book = SiteContacts()
    book.heard(hq, "north", status())
    with hq.session() as session:
        sites.find_site(session, "north").forced_offline = True
    assert book.heard(hq, "north", status()) is False  # no news: as read at the last write
    assert book.heard(hq, "north", status(seq=9)) is True  # news: read again
    with hq.session() as session:
        sites.find_site(session, "north").forced_offline = False
    monkeypatch.setattr(site_contacts, "FLUSH_SECONDS", 0.0)  # the times' write is due
    assert book.heard(hq, "north", status(seq=9)) is False  # no news, but read with the times
    with pytest.raises(NotFound):
        book.heard(hq, "nowhere", status())


def test_a_status_with_no_news_is_answered_without_the_database_until_a_write_is_due(
    hq: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(site_contacts, "FLUSH_SECONDS", 0.3)
    book = SiteContacts()
    assert book.heard_quietly("north", status()) is None  # never heard: the database says
    book.heard(hq, "north", status())
    assert book.heard_quietly("north", status()) is False  # no news, nothing due
    assert book.heard_quietly("north", status(seq=6)) is None  # news: to be written
    time.sleep(0.35)
    assert book.heard_quietly("north", status()) is None  # the noted time is due to be written
    before = contact(hq, "north")
    book.heard(hq, "north", status())
    after = contact(hq, "north")
    assert before is not None
    assert after is not None
    assert after > before
    assert book.heard_quietly("nowhere", status()) is None  # unknown: refused by heard()
