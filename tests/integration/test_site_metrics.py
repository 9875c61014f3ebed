"""``GET /metrics`` of a real Site Server, scraped across a link cut."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import httpx
import pytest

from printwarden import heap
from support.seeding import wait_for
from support.site import World, site_world

SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")
LABEL = re.compile(r'(\w+)="([^"]*)"')


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with site_world(tmp_path_factory.mktemp("site-metrics")) as made:
        yield made


def scrape(world: World) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """``{(name, labels without site): value}``, checking the format on the way."""
    response = httpx.get(f"{world.site.url}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = {}
    for line in response.text.splitlines():
        if line.startswith("# "):
            assert line.split()[1] in ("HELP", "TYPE"), line
            continue
        found = SAMPLE.match(line)
        assert found is not None, line
        labels = dict(LABEL.findall(found["labels"] or ""))
        assert labels.pop("site") == world.site.site
        key = (found["name"], frozenset(labels.items()))
        samples[key] = float(found["value"])
    return samples


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str,
          **labels: str) -> float:  # fmt: skip
    return samples.get((name, frozenset(labels.items())), 0.0)


def mode(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> str:
    on = [m for m in ("online", "offline", "reconciling")
          if value(samples, "printwarden_site_mode", mode=m) == 1]  # fmt: skip
    assert len(on) == 1
    return on[0]


def test_the_mode_gauge_and_counters_follow_an_outage(world: World) -> None:
    age_metric = "printwarden_site_last_contact_age_seconds"  # NaN until the first contact

    def contacted() -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
        samples = scrape(world)
        return None if math.isnan(value(samples, age_metric)) else samples

    before = wait_for(contacted, "the site's first contact with HQ")
    assert mode(before) == "online"
    assert value(before, "printwarden_site_journal_backlog") == 0
    assert 0 <= value(before, age_metric) < 3
    # Web Print's loops at the site: none died (a restart would be counted here).
    assert value(before, "printwarden_web_print", counter="loop_restarts") == 0
    assert value(before, "printwarden_web_print", counter="rendered") == 0
    # The User Clients' loops (question timeouts, the streams' heartbeat) and their streams.
    assert value(before, "printwarden_user_client", counter="loop_restarts") == 0
    assert value(before, "printwarden_user_client", counter="streams") == 0
    changes = "printwarden_site_mode_changes_total"

    with world.outage():
        during = scrape(world)
        assert mode(during) == "offline"
        outages = "printwarden_site_outages_total"
        assert value(during, outages) == value(before, outages) + 1
        went = value(during, changes, **{"from": "online", "to": "offline"})
        assert went == value(before, changes, **{"from": "online", "to": "offline"}) + 1
        age = value(during, "printwarden_site_last_contact_age_seconds")
        assert not math.isnan(age)
        assert age >= 0.5  # no beat nor answer since the cut (0.7 s of silence is a cut)

    after = scrape(world)
    assert mode(after) == "online"
    reconciled = "printwarden_site_reconciliations_total"
    assert value(after, reconciled) == value(before, reconciled) + 1
    back = value(after, changes, **{"from": "reconciling", "to": "online"})
    assert back == value(before, changes, **{"from": "reconciling", "to": "online"}) + 1
    assert value(after, "printwarden_site_last_contact_age_seconds") < 3
    assert value(after, "printwarden_site_replica_seq") > 0


def test_the_servers_froze_what_start_up_made_out_of_the_collectors_sight(world: World) -> None:
    """Both processes settled their heaps before serving (``printwarden.heap``): with
    CPython's defaults a site's first sync of 100,000 users spent a quarter of its time
    in full collections walking it."""
    site = scrape(world)
    assert value(site, "printwarden_heap", counter="enabled") == 1
    assert value(site, "printwarden_heap", counter="frozen_objects") > 50_000
    assert value(site, "printwarden_heap", counter="young_threshold") == heap.YOUNG_THRESHOLD
    text = httpx.get(f"{world.app.url}/metrics", timeout=5).text
    frozen = re.search(r'^printwarden_heap\{counter="frozen_objects"\} (\d+)$', text, re.M)
    assert frozen is not None, text
    assert int(frozen[1]) > 50_000
    assert 'printwarden_heap{counter="enabled"} 1\n' in text
