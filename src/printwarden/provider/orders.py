"""The provider's side of the doorbell: fetch the server's orders, apply them, report back.

The server records each order — release a held job to a printer with settings, or cancel it —
on its held-job record, then rings ``POST /control/wake``. The ring carries no secret and no
order, so anyone may ring: all a ring can cause is a fetch, with this provider's own token,
from its own configured server (App Server or Site Server). Rings are coalesced: however many
arrive, one fetch runs at a time, and each ring is answered once a fetch that began after it
arrived has finished. A fetch that found no order (or failed) is followed by a pause of
``GAP`` seconds, so rings with nothing behind them — a flood — cost the server at most one
read per ``GAP``; a real order is fetched at once. A fetch also runs at start-up (once
registered) and every ``order_poll_seconds``, should a ring have been lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from printwarden.domain.job_states import Phase
from printwarden.provider.desk import Desk, DeskError, ReleaseOrder
from printwarden.provider.service_client import ServerRefused, ServerUnreachable, ServiceClient
from printwarden.provider.spool import Spool
from printwarden.provider.supervisor import Supervisor

log = logging.getLogger("printwarden.provider")

PAGE = 500  # the server sends at most this many orders at once
MAX_WAITING = 1000  # rings waiting for a fetch; more are answered "busy" at once
GAP = 0.025  # seconds after a fetch that found nothing before the next may start
DONE, REFUSED, MISSING = "done", "refused", "missing"
CANCELED_BY_SERVER = "canceled by the server"


class NotReady(Exception):
    """The provider has not registered with its server yet."""


class OrderDesk:
    """Applies the server's orders to this provider's jobs."""

    def __init__(
        self,
        name: str,
        client: ServiceClient,
        desk: Desk,
        spool: Spool,
        ready: Callable[[], bool],
        submissions: Callable[[], int] = lambda: 0,
    ) -> None:
        self.name, self.client, self.desk, self.spool = name, client, desk, spool
        self.ready, self.submissions = ready, submissions

    def fetch(self) -> int:
        """Fetch, apply and report every pending order, then spool the documents rendered
        for this provider (Web Print); how many there were."""
        if not self.ready():
            raise NotReady("not registered with the server yet")
        return self._orders() + self.submissions()

    def _orders(self) -> int:
        total = 0
        while True:
            orders = self.client.orders(self.name)
            if not orders:
                return total
            self.client.order_results(self.name, [self.apply(order) for order in orders])
            total += len(orders)
            if len(orders) < PAGE:
                return total

    def apply(self, order: dict[str, Any]) -> dict[str, str]:
        """Apply one order; what came of it. Applying an order twice (the report of the first
        time was lost) finds it done."""
        answer = {"order_id": str(order["order_id"]), "job_ref": str(order["job_ref"])}
        job = self.spool.get(int(order["provider_job_id"]))
        if job is None or job.uuid != answer["job_ref"]:
            return {**answer, "outcome": MISSING, "detail": "no such job at this provider"}
        try:
            if order["action"] == "release":
                if job.phase is not Phase.HELD and job.released:
                    return {**answer, "outcome": DONE, "detail": ""}
                self.desk.release(job, ReleaseOrder.from_json(order))
            elif order["action"] == "cancel":
                if job.phase not in (Phase.CANCELED, Phase.EXPIRED):
                    reason = str(order.get("reason") or CANCELED_BY_SERVER)[:200]
                    self.desk.cancel(job, reason)
            else:
                return {**answer, "outcome": REFUSED, "detail": "unknown order"}
        except DeskError as exc:
            return {**answer, "outcome": REFUSED, "detail": exc.message[:256]}
        except Exception as exc:  # this order's failure, not the fetch's: the others apply
            log.exception("job %s: applying the server's %s order failed", job.id, order["action"])
            return {**answer, "outcome": REFUSED, "detail": f"internal error: {type(exc).__name__}"}
        log.info("job %s: %s ordered by the server, done", job.id, order["action"])
        return {**answer, "outcome": DONE, "detail": ""}


Waiter = tuple[asyncio.AbstractEventLoop, "asyncio.Future[str]"]


class Doorbell:
    """Coalesces rings into fetches, one at a time, in a supervised loop of its own."""

    def __init__(
        self, fetch: Callable[[], int], interval: float, supervisor: Supervisor | None = None
    ) -> None:
        self.fetch, self.interval = fetch, interval
        self.supervisor = supervisor or Supervisor()
        self._lock = threading.Lock()
        self._waiting: list[Waiter] = []
        self._due = threading.Event()
        self._stop = self.supervisor.stopping
        self.fetches = 0  # fetches begun since start (a flood of rings moves it little)

    def start(self) -> None:
        self._due.set()  # fetch at start-up
        self.supervisor.spawn("orders", self._round, self._due.set)

    def stop(self) -> None:
        """Stop (with the supervisor) and answer the rings still waiting."""
        self.supervisor.stop()
        self.stopped()

    def stopped(self) -> None:
        """Answer the rings still waiting, once the loop has stopped."""
        with self._lock:
            waiting, self._waiting = self._waiting, []
        _answer(waiting, "the provider is stopping")

    def poke(self) -> None:
        """Fetch soon, with no one waiting for it (e.g. once registered)."""
        self._due.set()

    async def ring(self, timeout: float) -> str:
        """Ask for a fetch and wait until one that began after this ring has finished: ""
        when it succeeded, else why not."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str] = loop.create_future()
        with self._lock:
            if len(self._waiting) >= MAX_WAITING:
                return "busy: too many rings waiting"
            self._waiting.append((loop, future))
        self._due.set()
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return "the server did not answer in time"

    def _round(self) -> None:
        self._due.wait(timeout=self.interval)
        self._due.clear()
        if self._stop.is_set():
            return
        with self._lock:
            waiting, self._waiting = self._waiting, []
        self.fetches += 1
        outcome, found = self._fetch()
        _answer(waiting, outcome)
        if outcome or not found:
            self._stop.wait(GAP)  # rings arriving meanwhile share the next fetch

    def _fetch(self) -> tuple[str, int]:
        """Fetch and apply: why it failed ("" if it did not), and how many orders it found."""
        try:
            count = self.fetch()
        except NotReady as exc:  # registration is under way; it pokes us when done
            return str(exc), 0
        except (ServerUnreachable, ServerRefused) as exc:
            log.info("fetching orders failed (%s); will retry", exc)
            return str(exc), 0
        except Exception as exc:  # the loop must go on: a ring must never find it dead
            log.exception("fetching orders failed unexpectedly")
            return f"internal error: {type(exc).__name__}", 0
        if count:
            log.info("applied %d order(s) of the server", count)
        return "", count


def _answer(waiting: list[Waiter], outcome: str) -> None:
    for loop, future in waiting:
        # A closed event loop (RuntimeError) has no one waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, future, outcome)


def _settle(future: asyncio.Future[str], outcome: str) -> None:
    if not future.done():
        future.set_result(outcome)
