"""Work that arrives while the same kind of work is being done waits, and is then done
together with the rest that waited (flat combining, as a database's group commit).

After a region-wide outage every site uploads its journal at once. Applied one by one, each
upload pays a transaction, a commit and the same dozen statements, and waits for the
database's write lock; applied together, they pay them once. A lone request is not delayed:
whoever finds no one working does the work at once, its own and whatever else is waiting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Ticket(Generic[T, R]):
    __slots__ = ("error", "finished", "item", "result")

    def __init__(self, item: T) -> None:
        self.item = item
        self.result: R | None = None
        self.error: BaseException | None = None
        self.finished = False

    def end(self, result: R | None = None, error: BaseException | None = None) -> None:
        self.result, self.error, self.finished = result, error, True

    def outcome(self) -> R:
        if not self.finished:
            raise RuntimeError("not done")  # run() returns only once it is
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]  # R itself may include None


class Combiner(Generic[T, R]):
    """Runs ``together(items)`` on the items of callers that arrived while another call
    worked, in arrival order, from a blocking thread: at most ``most`` items, and items
    whose ``weigh`` adds up to at most ``capacity`` (but always one), so that a group takes
    no longer than a big item alone. When the group fails, each item is run ``alone``
    instead: one bad item fails its own caller only. Counts groups and the items in them
    (``stats``)."""

    def __init__(
        self, most: int = 100, weigh: Callable[[T], int] | None = None, capacity: int = 0
    ) -> None:
        self.most, self.weigh, self.capacity = most, weigh, capacity
        self._working = threading.Lock()  # held by the caller doing the work
        self._waiting = threading.Lock()  # guards the queue
        self._queue: list[_Ticket[T, R]] = []
        self.groups = self.items = self.split = 0

    def run(
        self,
        item: T,
        together: Callable[[list[T]], list[R]],
        alone: Callable[[T], R],
    ) -> R:
        """``item``'s result, computed alone or in a group; its own error is raised here."""
        ticket: _Ticket[T, R] = _Ticket(item)
        with self._waiting:
            self._queue.append(ticket)
        with self._working:
            while not ticket.finished:  # groups in arrival order, until one holds this item
                with self._waiting:
                    taken = self._group_size()
                    group, self._queue = self._queue[:taken], self._queue[taken:]
                self._work(group, together, alone)
        return ticket.outcome()

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

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Calls made while the block runs wait, and are then done together (tests use it
        to make a group; nothing else should need it)."""
        with self._working:
            yield

    def waiting(self) -> int:
        """How many calls wait for their turn."""
        with self._waiting:
            return len(self._queue)

    def stats(self) -> dict[str, int]:
        return {"groups": self.groups, "items": self.items, "groups_split": self.split}

    def _work(
        self,
        group: list[_Ticket[T, R]],
        together: Callable[[list[T]], list[R]],
        alone: Callable[[T], R],
    ) -> None:
        self.groups += 1
        self.items += len(group)
        try:
            if len(group) > 1 and self._together(group, together):
                return
            for ticket in group:
                try:
                    ticket.end(alone(ticket.item))
                except Exception as exc:  # that caller's error, raised in its own thread
                    ticket.end(error=exc)
        finally:
            for ticket in group:  # a BaseException (the server stopping) left these
                if not ticket.finished:
                    ticket.end(error=RuntimeError("not done: the server is stopping"))

    def _together(self, group: list[_Ticket[T, R]], together: Callable[[list[T]], list[R]]) -> bool:
        try:
            results = together([t.item for t in group])
        except Exception:  # one item's fault, say: each goes alone, and fails alone
            self.split += 1
            return False
        for ticket, result in zip(group, results, strict=True):
            ticket.end(result)
        return True
