"""PostgreSQL fails over while jobs are charged: two App Server processes behind HAProxy on a
primary with a synchronous streaming standby (``testing/pg_pair.py``, Debian's PostgreSQL);
the primary is killed (``kill -9``) and the standby promoted. Every charge a client was
answered for is in the new primary, the ledger identity holds, and the App Servers find the
new primary by themselves (the URL names both hosts, ``target_session_attrs=read-write``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from printwarden.testing.cluster import Cluster
from printwarden.testing.cluster_load import Load, seed
from printwarden.testing.ledger_checks import transaction_ids, unbalanced_accounts
from printwarden.testing.pg_pair import PgPair
from printwarden.testing.seeding import wait_for

PROMOTE_AFTER = 1.0  # seconds from the primary's death to the promotion (an operator's tool)
BACK_WITHIN = 10.0  # the scale-out issue's goal: death → the first charge accepted again
LOAD_SECONDS = 12.0


@pytest.fixture
def pair() -> Iterator[PgPair]:
    databases = PgPair()
    databases.start()
    try:
        yield databases
    finally:
        databases.stop()


@pytest.fixture
def cluster(pair: PgPair, tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(pair.url, tmp_path, size=2)
    try:
        running.start()
        yield running
    finally:
        running.stop()


def test_a_promoted_standby_has_every_answered_charge_and_the_servers_find_it(
    pair: PgPair, cluster: Cluster
) -> None:
    token, printer, users = seed(cluster, "failover")
    with Load(cluster, token, printer, users, seconds=LOAD_SECONDS) as load:
        wait_for(lambda: len(load.answered) >= 50, "charges before the failover", 15)
        pair.kill_primary()
        died = time.monotonic()
        time.sleep(PROMOTE_AFTER)
        pair.promote()
        promoted = died + PROMOTE_AFTER
        wait_for(lambda: load.answered_at[-1] > promoted, "a charge accepted again", 30)
        back = next(at for at in load.answered_at if at > promoted) - died
        time.sleep(2)  # more charges on the new primary
    answered = set(load.answered)
    missing = answered - transaction_ids(pair.url)
    assert missing == set(), f"{len(missing)} of {len(answered)} answered charges were lost"
    assert unbalanced_accounts(pair.url) == {}
    assert back <= BACK_WITHIN, f"the first charge after the primary died came {back:.1f} s later"
    for server in cluster.servers:  # each process reached the new primary by itself
        assert httpx.get(f"{server.url}/api/v1/health", timeout=5).status_code == 200
