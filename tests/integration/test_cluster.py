"""Three App Server processes on one PostgreSQL behind HAProxy (``testing/cluster.py``): the
API and authorization suites pass through the load balancer unchanged; ``kill -9`` of one
process under load fails no client request and loses no answered charge; the leader of the
scheduled work dies and another runs it, once, within 10 s."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from printwarden.domain.accounts import Role
from printwarden.testing.cluster import Cluster
from printwarden.testing.cluster_load import LOAD_SECONDS, Load, seed
from printwarden.testing.ledger_checks import transaction_ids, unbalanced_accounts
from printwarden.testing.seeding import add_user, wait_for
from support.databases import throwaway_postgres

ROOT = Path(__file__).resolve().parents[2]
# The suites that run through the load balancer (conftest.py's app_server, CLUSTER_ENV).
SUITES = ["test_api_smoke.py", "test_api_accounts.py", "test_api_users.py", "test_api_jobs.py",
          "test_api_timestamps.py", "test_api_bad_input.py", "test_api_fuzz_findings.py",
          "test_authz_matrix.py", "test_scope_matrix.py"]  # fmt: skip


@pytest.fixture(scope="module")
def cluster(pg_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    with throwaway_postgres(pg_server) as url:
        running = Cluster(url, tmp_path_factory.mktemp("cluster"), size=3)
        try:
            running.start()
            yield running
        finally:
            running.stop()


def test_the_api_and_authorization_suites_pass_through_the_load_balancer() -> None:
    env = {**os.environ, "PRINTWARDEN_TEST_CLUSTER": "3"}
    paths = [str(ROOT / "tests" / "integration" / name) for name in SUITES]
    command = [sys.executable, "-m", "pytest", "-q", "-n0", "-p", "no:randomly",
               "-p", "no:cacheprovider", *paths]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout
    assert " failed" not in done.stdout


def _leader(cluster: Cluster) -> int:
    """The index of the process that leads the scheduled work (exactly one must)."""
    leading = []
    for index, server in enumerate(cluster.servers):
        if server.process is None or server.process.poll() is not None:
            continue
        text = httpx.get(f"{server.url}/metrics", timeout=5).text
        if 'printwarden_leadership{counter="leading"} 1' in text:
            leading.append(index)
    assert len(leading) <= 1, f"several leaders: {leading}"
    return leading[0] if leading else -1


def test_kill_9_of_one_process_under_load_fails_no_request_and_loses_no_charge(
    cluster: Cluster,
) -> None:
    token, printer, users = seed(cluster, "kill")
    victim = (_leader(cluster) + 1) % cluster.size  # not the leader: its own test is below
    with Load(cluster, token, printer, users) as load:
        time.sleep(LOAD_SECONDS / 3)
        before = len(load.answered)
        cluster.kill(victim)
        time.sleep(2 * LOAD_SECONDS / 3)
    assert load.failures == []
    assert before > 0
    assert len(load.answered) > before
    missing = set(load.answered) - transaction_ids(cluster.database_url)
    assert missing == set(), f"{len(missing)} answered charges are not in the ledger"
    assert unbalanced_accounts(cluster.database_url) == {}
    cluster.restart(victim)
    wait_for(lambda: cluster.healthy() == cluster.size, "the restarted process", 15)


def test_the_leader_dies_and_another_runs_the_scheduled_work_once_within_10_s(
    cluster: Cluster,
) -> None:
    leader = _leader(cluster)
    assert leader >= 0
    with cluster.client(cluster.token(Role.ADMIN, "leader-admin")) as admin:
        account = add_user(admin, "topped")
        assert admin.post("/groups", json={"name": "daily"}).status_code == 201
        assert admin.patch("/users/topped", json={"groups": ["daily"]}).status_code == 200
        cluster.kill(leader)  # before it runs the new rule (it runs top-ups every 60 s)
        killed = time.monotonic()
        rules = {"rules": [{"group": "daily", "amount": 500, "period": "day"}]}
        assert admin.put("/topups", json=rules).status_code == 200, "the rule is saved"
        wait_for(lambda: admin.get("/users/topped").json()["balance"] == 500, "the top-up", 10)
        took = time.monotonic() - killed
        assert took < 10.0
        new_leader = wait_for(lambda: _leader(cluster) + 1, "a new leader", 10) - 1
        assert new_leader != leader
        time.sleep(2)
        entries = admin.get("/transactions", params={"account_id": account}).json()
        assert [e["amount"] for e in entries] == [500]  # once, by one leader
    cluster.restart(leader)
    wait_for(lambda: cluster.healthy() == cluster.size, "the restarted process", 15)
    assert _leader(cluster) == new_leader  # the restarted one waits its turn
