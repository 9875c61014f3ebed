"""Offline as a strategy: the App Server's authority and a site's, and the rules each gives."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy.orm import Session

from printwarden.domain.offline_policies import SETTING_KEY, OfflinePolicies
from printwarden.service.offline import OfflineMode
from printwarden.store import accounts, jobs, settings, users
from printwarden.store.db import Database
from printwarden.usecases.authority import ONLINE, Hq, Offline, Site

KEY = b"k" * 32


@dataclass
class Sightings:
    """The site's offline switch and the unknown users it journaled."""

    offline: bool = True
    seen: list[tuple[str, str, bool]] = field(default_factory=list)

    def note(self, session: Session | None, username: str, where: str) -> None:
        self.seen.append((username, where, session is not None))

    def site(self) -> Site:
        return Site(OfflineMode(lambda: self.offline, self.note))


@pytest.fixture
def site_db(hq: Database) -> Database:
    """A replica's worth: "alice", the stand-in "unknown", and the "Offline account"."""
    with hq.session() as session:
        users.create_user(session, KEY, "alice", users.UserChanges())
        users.create_user(session, KEY, "unknown", users.UserChanges())
        accounts.create_shared(session, "Offline account", accounts.SharedAccountChanges())
        accounts.create_shared(session, "lab", accounts.SharedAccountChanges())
    return hq


def test_hq_is_always_online() -> None:
    hq = Hq()
    assert hq.at_hq
    assert not hq.offline()
    assert hq.rules(None) is ONLINE  # type: ignore[arg-type]  # reads nothing


def test_a_site_is_online_while_its_link_is(site_db: Database) -> None:
    sightings = Sightings(offline=False)
    site = sightings.site()
    assert not site.at_hq
    assert not site.offline()
    with site_db.read() as session:
        assert site.rules(session) is ONLINE
    sightings.offline = True
    assert site.offline()
    with site_db.read() as session:
        rules = site.rules(session)
    assert isinstance(rules, Offline)
    assert rules.decision_policies().offline == OfflinePolicies()


def test_online_rules_change_nothing(site_db: Database) -> None:
    named = jobs.AccountChoice(name="lab")
    with site_db.read() as session:
        assert ONLINE.resolve_user(session, "ghost", "job at x", writing=False).username == (
            "ghost"
        )
        assert ONLINE.account_choice(session, named) is named
    assert ONLINE.checks_account_pins
    assert ONLINE.account_change_refusal() == ""
    assert ONLINE.decision_policies().offline is None


def test_offline_an_unknown_user_is_the_stand_in_and_is_journaled(site_db: Database) -> None:
    sightings = Sightings()
    with site_db.read() as session:
        rules = sightings.site().rules(session)
        assert rules.resolve_user(session, "alice", "job at x", writing=False).username == ("alice")
        found = rules.resolve_user(session, "ghost", "job at x", writing=True)
    assert found.username == "unknown"
    assert sightings.seen == [("ghost", "job at x", True)]


def test_offline_a_named_account_gives_way_to_the_policys(site_db: Database) -> None:
    with site_db.read() as session:
        rules = Sightings().site().rules(session)
        chosen = rules.account_choice(session, jobs.AccountChoice(name="lab"))
        offline_account = accounts.find_shared(session, "Offline account").id
    assert chosen == jobs.AccountChoice(account_id=offline_account)
    assert not rules.checks_account_pins
    assert "jobs are charged to 'Offline account'" in rules.account_change_refusal()


def test_offline_the_policies_are_read_when_the_request_begins(site_db: Database) -> None:
    allowed = OfflinePolicies(allow_account_change=True)
    with site_db.session() as session:
        settings.put(session, SETTING_KEY, allowed.to_json())
    with site_db.read() as session:
        rules = Sightings().site().rules(session)
    assert rules.account_change_refusal() == ""
