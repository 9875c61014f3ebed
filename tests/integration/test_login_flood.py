"""A flood of bad logins does not take the App Server down (a real process, on SQLite, where
the flood used to hold the write lock through every argon2 check: "database is locked").

1,000 wrong logins from 16 clients (each from its own loopback address) while two other
users go on reading their balance and an admin goes on topping up: no 5xx, every other
request succeeds, and their p99 stays within a generous bound of what it was before the
flood. ``bench/login_flood.py`` measures the same thing and reports the ratio.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from printwarden.domain.accounts import Role
from support.appserver import AppServer

ATTEMPTS, CLIENTS = 1000, 16
TIME_LIMIT = 240.0  # seconds for the whole flood, even on a busy machine
# Fewer free failures per client than the default, so the flood ends within the limit even
# where argon2 runs slowly; the server under test is otherwise as configured by default.
ENV = {"PRINTWARDEN_LOGIN__CLIENT_FREE_FAILURES": "8"}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    root: Path = tmp_path_factory.mktemp("flood")
    server = AppServer(f"sqlite:///{root / 'app.db'}", root, extra_env=ENV)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


class OtherUsers:
    """People reading their balance and an admin topping up, timed, until stopped."""

    def __init__(self, app: AppServer) -> None:
        self.app = app
        self.admin = app.token(Role.ADMIN, f"boss-{uuid.uuid4().hex[:6]}")
        self.people = [app.token(Role.USER, f"p{n}-{uuid.uuid4().hex[:6]}") for n in range(2)]
        with httpx.Client(base_url=app.api, timeout=30) as client:
            me = client.get("/me", headers=self.bearer(self.people[0])).json()
        self.account = int(me["account_id"])  # topped up by the admin
        self.samples: dict[str, list[float]] = collections.defaultdict(list)
        self.statuses: dict[str, collections.Counter[int]] = collections.defaultdict(
            collections.Counter
        )
        self.phase = "normal"
        self.stop = threading.Event()

    @staticmethod
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def run(self, person: str) -> None:
        with httpx.Client(base_url=self.app.api, timeout=60) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                start = time.perf_counter()
                if n % 2:
                    answer = client.get("/me", headers=self.bearer(person))
                else:
                    body = {"txn_id": str(uuid.uuid4()), "amount": 1}
                    answer = client.post(f"/accounts/by-id/{self.account}/top-up", json=body,
                                         headers=self.bearer(self.admin))  # fmt: skip
                self.samples[self.phase].append(time.perf_counter() - start)
                self.statuses[self.phase][answer.status_code] += 1
                time.sleep(0.01)


def flood(app: AppServer, targets: list[str]) -> collections.Counter[int]:
    counts: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()
    left = iter(range(ATTEMPTS))
    deadline = time.monotonic() + TIME_LIMIT

    def client(n: int) -> None:
        transport = httpx.HTTPTransport(local_address=f"127.0.2.{n + 1}")
        with httpx.Client(base_url=app.api, transport=transport, timeout=60) as http:
            for attempt in left:
                assert time.monotonic() < deadline, "the flood took too long"
                name = targets[attempt % len(targets)] if attempt % 2 else f"nobody-{attempt}"
                body = {"username": name, "password": f"guess-{attempt}"}
                status = http.post("/auth/login", json=body).status_code
                with lock:
                    counts[status] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts


def test_a_login_flood_leaves_other_users_served(app: AppServer) -> None:
    targets = [f"target-{n}-{uuid.uuid4().hex[:6]}" for n in range(10)]
    with httpx.Client(base_url=app.api, timeout=30) as client:
        others = OtherUsers(app)
        for name in targets:
            body = {"username": name, "password": "the real one"}
            created = client.post("/users", json=body, headers=others.bearer(others.admin))
            assert created.status_code == 201, created.text
    workers = [threading.Thread(target=others.run, args=(p,)) for p in others.people]
    for worker in workers:
        worker.start()
    try:
        time.sleep(5)
        others.phase = "flood"
        counts = flood(app, targets)
    finally:
        others.stop.set()
        for worker in workers:
            worker.join()
    assert sum(counts.values()) == ATTEMPTS
    assert set(counts) <= {401, 429}, counts  # no 5xx
    assert counts[429] > 0
    for phase in ("normal", "flood"):
        assert set(others.statuses[phase]) == {200}, others.statuses[phase]
    normal, flooded = p99(others.samples["normal"]), p99(others.samples["flood"])
    # Generous: the bench (bench/login_flood.py) reports the real ratio; this catches a
    # server that stalls (the old one answered 500 "database is locked" for seconds).
    assert flooded < 5 * normal + 0.25, (flooded, normal)
