"""Work that arrives while the same kind of work is being done waits, and is then done
together with the rest that waited (flat combining, as a database's group commit).

After a region-wide outage every site uploads its journal at once. Applied one by one, each
upload pays a transaction, a commit and the same dozen statements, and waits for the
database's write lock; applied together, they pay them once. A lone request is not delayed:
when nothing is being done, its work starts at once.

Callers wait on the event loop, not in threads: however many uploads wait, the work takes
one worker thread at a time, and the rest of the server (the sites' decisions, say) keeps
the others.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

STOPPING = "not done: the server is stopping"
log = logging.getLogger("printwarden.combining")


class _Ticket(Generic[T, R]):
    __slots__ = ("error", "finished", "future", "item", "result")

    def __init__(self, item: T, future: asyncio.Future[R]) -> None:
        self.item, self.future = item, future
        self.result: R | None = None
        self.error: BaseException | None = None
        self.finished = False

    def end(self, result: R | None = None, error: BaseException | None = None) -> None:
        self.result, self.error, self.finished = result, error, True

    def settle(self) -> None:
        """Hand the outcome to the waiting caller (on the event loop; a caller that went
        away, its request cancelled, gets nothing)."""
        if self.future.done():
            return
        if self.error is not None:
            self.future.set_exception(self.error)
        else:
            self.future.set_result(self.result)  # type: ignore[arg-type]  # R may be None


class Combiner(Generic[T, R]):
    """``await run(item, together, alone)``: the items of callers that arrived while a group
    was being done are done together, ``together(items)`` in a worker thread, in arrival
    order: at most ``most`` items, and items whose ``weigh`` adds up to at most ``capacity``
    (but always one), so that a group takes no longer than a big item alone. When a group
    fails, each item is done ``alone`` instead: one bad item fails its own caller only.
    Callers share one event loop. Counts groups and the items in them (``stats``)."""

    def __init__(
        self, most: int = 100, weigh: Callable[[T], int] | None = None, capacity: int = 0
    ) -> None:
        self.most, self.weigh, self.capacity = most, weigh, capacity
        self._queue: list[_Ticket[T, R]] = []
        self._queue_lock = threading.Lock()  # the loop appends, the worker thread takes
        self._hold = threading.Lock()  # held while paused (tests)
        self._draining: asyncio.Task[None] | None = None  # on the event loop only
        self._current: list[_Ticket[T, R]] = []  # the group the worker thread does
        self.groups = self.items = self.split = 0

    async def run(
        self,
        item: T,
        together: Callable[[list[T]], list[R]],
        alone: Callable[[T], R],
    ) -> R:
        """``item``'s result, done alone or in a group; its own error is raised here."""
        ticket: _Ticket[T, R] = _Ticket(item, asyncio.get_running_loop().create_future())
        with self._queue_lock:
            self._queue.append(ticket)
        if self._draining is None:
            self._draining = asyncio.get_running_loop().create_task(self._drain(together, alone))
        return await ticket.future

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Calls made while the block runs wait, and are then done together (tests use it
        to make a group; nothing else should need it)."""
        with self._hold:
            yield

    def waiting(self) -> int:
        """How many calls wait for their turn."""
        with self._queue_lock:
            return len(self._queue)

    def stats(self) -> dict[str, int]:
        return {"groups": self.groups, "items": self.items, "groups_split": self.split}

    async def _drain(self, together: Callable[[list[T]], list[R]], alone: Callable[[T], R]) -> None:
        """Do groups until none waits (one worker thread at a time)."""
        try:
            while True:
                group = await asyncio.to_thread(self._next_group, together, alone)
                for ticket in group:
                    ticket.settle()
                with self._queue_lock:
                    if not self._queue:
                        self._draining = None
                        return
        except Exception as exc:  # a fault of the combiner's own: said, and every caller told
            log.exception("combined work failed")
            self._end_all(exc)
        except BaseException:  # cancelled, the server stopping: no caller waits for ever
            self._end_all(RuntimeError(STOPPING))
            raise

    def _end_all(self, error: BaseException) -> None:
        """End the group being done and every waiting call with ``error``."""
        self._draining = None
        with self._queue_lock:
            left, self._queue, self._current = self._current + self._queue, [], []
        for ticket in left:
            if not ticket.finished:
                ticket.end(error=error)
            ticket.settle()

    def _next_group(
        self, together: Callable[[list[T]], list[R]], alone: Callable[[T], R]
    ) -> list[_Ticket[T, R]]:
        """In the worker thread: take the next group and do it; its tickets, ended."""
        with self._hold, self._queue_lock:
            taken = self._group_size()
            group, self._queue = self._queue[:taken], self._queue[taken:]
            self._current = group
        self.groups += 1
        self.items += len(group)
        if len(group) > 1 and self._together(group, together):
            return group
        for ticket in group:
            try:
                ticket.end(alone(ticket.item))
            except Exception as exc:  # that caller's error, raised in its own request
                ticket.end(error=exc)
        return group

    def _group_size(self) -> int:
        """How many of the waiting items the next group takes."""
        if self.weigh is None:
            return self.most
        total = 0
        for count, ticket in enumerate(self._queue[: self.most]):
            total += self.weigh(ticket.item)
            if count and total > self.capacity:
                return count
        return self.most

    def _together(self, group: list[_Ticket[T, R]], together: Callable[[list[T]], list[R]]) -> bool:
        try:
            results = together([t.item for t in group])
        except Exception:  # one item's fault, say: each goes alone, and fails alone
            self.split += 1
            return False
        for ticket, result in zip(group, results, strict=True):
            ticket.end(result)
        return True
