"""A charging load through an App Server cluster (``testing/cluster.py``): threads
reporting printed jobs, each with its own transaction id, and what they were answered."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx

from printwarden.domain.accounts import Role
from printwarden.testing.cluster import Cluster
from printwarden.testing.seeding import add_printer, add_user

LOAD_SECONDS = 6.0
LOAD_THREADS = 6
JOB = {"pages": 1, "colour_pages": 0, "copies": 1}


class Load:
    """Threads charging printed jobs through the load balancer, each with its own id."""

    def __init__(
        self,
        cluster: Cluster,
        provider: str,
        printer: str,
        users: list[str],
        seconds: float = LOAD_SECONDS,
    ) -> None:
        self.cluster, self.provider, self.printer, self.users = cluster, provider, printer, users
        self.seconds = seconds
        self.answered_at: list[float] = []  # when each answer came (monotonic)
        self.answered: list[str] = []  # transaction ids a client got 200 for
        self.failures: list[str] = []
        self.slowest = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,)) for n in range(LOAD_THREADS)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _run(self, n: int) -> None:
        deadline = time.monotonic() + 3 * self.seconds  # bounded even if never stopped
        with self.cluster.client(self.provider) as client:
            for count in range(2_000):
                if self._stop.is_set() or time.monotonic() > deadline:
                    return
                self._charge(client, self.users[(n + count) % len(self.users)])

    def _charge(self, client: httpx.Client, username: str) -> None:
        txn = str(uuid.uuid4())
        body: dict[str, Any] = {"username": username, "printer": self.printer, "txn_id": txn,
                                "job_ref": f"job-{txn}", **JOB}  # fmt: skip
        started = time.monotonic()
        try:
            answer = client.post("/jobs/printed", json=body)
        except httpx.HTTPError as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        else:
            outcome = "" if answer.status_code == 200 else f"{answer.status_code} {answer.text}"
        with self._lock:
            self.slowest = max(self.slowest, time.monotonic() - started)
            if outcome:
                self.failures.append(outcome)
            else:
                self.answered.append(txn)
                self.answered_at.append(time.monotonic())


def seed(cluster: Cluster, tag: str) -> tuple[str, str, list[str]]:
    """A printer, a provider token registered as serving it, and users with credit."""
    printer, provider_name = f"{tag}-printer", f"{tag}-provider"
    token = cluster.token(Role.PROVIDER, scope=f"provider:{provider_name}")
    users = [f"{tag}-user{n}" for n in range(12)]
    with cluster.client(cluster.token(Role.ADMIN, f"{tag}-admin")) as admin:
        add_printer(admin, printer, colour=False)
        for name in users:
            add_user(admin, name, 1_000_000)
    with cluster.client(token) as provider:
        body = {"name": provider_name, "ipp_url": "ipp://127.0.0.1/ipp/print",
                "printers": [{"name": printer}]}  # fmt: skip
        assert provider.post("/providers/register", json=body).status_code == 200
    return token, printer, users
