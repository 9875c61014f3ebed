"""Gateway notifications applied in batches: each request waits for its own answer, and the
requests that arrive together share one database transaction (group commit).

A gateway may send a burst (a busy hour, a replay after its own outage). Each notification
route hands its verified notification to :class:`NotificationApplier` and awaits the
outcome, which it gets only once the transaction holding it has committed. One loop takes
what is waiting (up to ``max_batch``) and applies it with ``usecases.payments.apply_all``;
should a batch fail (a concurrent copy of one of its events committed first at another
worker, say), its notifications are applied one by one, so one bad notification fails
only itself. The loop is supervised: restarted, logged and counted in ``/metrics``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from anyio import to_thread
from sqlalchemy.exc import IntegrityError

from printwarden.domain.payments import Notification
from printwarden.store.db import Database
from printwarden.usecases import payments

log = logging.getLogger("printwarden.payments")
MAX_BATCH = 200


@dataclass
class _Waiting:
    note: Notification
    answer: asyncio.Future[payments.Applied]


@dataclass
class NotificationApplier:
    """Applies notifications for the routes, batch by batch, in one loop."""

    database: Database
    max_batch: int = MAX_BATCH
    counts: dict[str, int] = field(default_factory=dict)
    _queue: asyncio.Queue[_Waiting] | None = None
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        from printwarden.service.supervised import supervised

        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(supervised(self._loop, "payments", self.counts, log))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def stats(self) -> dict[str, int]:
        return dict(self.counts)

    async def apply(self, note: Notification) -> payments.Applied:
        """``note``'s outcome, once the transaction that applied it committed."""
        if self._queue is None:  # not started (a command, a test without the lifespan)
            return await to_thread.run_sync(apply_alone, self.database, note)
        answer: asyncio.Future[payments.Applied] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Waiting(note, answer))
        return await answer

    async def _loop(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._apply(batch)

    async def _apply(self, batch: list[_Waiting]) -> None:
        notes = [waiting.note for waiting in batch]
        done: list[payments.Applied | Exception]
        try:
            done = list(await to_thread.run_sync(apply_batch, self.database, notes))
        except Exception:
            log.warning("a batch of %d notifications failed; applying them one by one",
                        len(notes), exc_info=True)  # fmt: skip
            self._count("split_batches")
            done = [await self._alone(note) for note in notes]
        self._count("batches")
        self._count("applied", len(notes))
        for waiting, outcome in zip(batch, done, strict=True):
            if isinstance(outcome, Exception):
                waiting.answer.set_exception(outcome)
            elif not waiting.answer.done():
                waiting.answer.set_result(outcome)

    async def _alone(self, note: Notification) -> payments.Applied | Exception:
        try:
            return await to_thread.run_sync(apply_alone, self.database, note)
        except Exception as exc:  # this notification's own failure, answered 500
            log.exception("notification %s %s failed", note.gateway, note.event_id)
            self._count("failed")
            return exc

    def _count(self, name: str, by: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + by


def apply_batch(database: Database, notes: list[Notification]) -> list[payments.Applied]:
    with database.session() as session:
        return payments.apply_all(session, notes)


def apply_alone(database: Database, note: Notification) -> payments.Applied:
    """Apply ``note`` in its own transaction; a concurrent copy that lost is a duplicate."""
    try:
        with database.session() as session:
            return payments.apply(session, note)
    except IntegrityError as exc:
        if not payments.is_duplicate(exc):
            raise
        return payments.Applied("duplicate", f"event {note.event_id} was applied just now")
