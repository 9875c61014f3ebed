"""Group commit of new jobs on the IPP server's event loop.

Every Print-Job or Create-Job answered in one turn of the event loop is spooled by one
transaction — one fsync covers them all — and each request gets ``successful-ok`` only after
that commit. No thread hop for the common case: the commit runs on the loop itself, right
after the requests of that turn (requests arriving meanwhile form the next batch, so
batches grow with the load). A document too big to be kept inline has its own fsyncs, which
run in a worker thread first, off the loop.
"""

from __future__ import annotations

import asyncio

from printwarden.provider.desk import Desk, Submission
from printwarden.provider.spool import DocumentWriter, Job

Pending = tuple[Submission, DocumentWriter | None, "asyncio.Future[Job]"]


class Admissions:
    """Accepts jobs for the IPP handlers, in batches (see the module's docstring)."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self._pending: list[Pending] = []
        self.batches = 0  # transactions so far (a test reads how jobs were grouped)

    async def accept(self, submission: Submission, document: DocumentWriter | None) -> Job:
        """Spool the job durably (with the jobs of the same turn); its job once committed."""
        if document is not None and document.on_disk:
            await asyncio.to_thread(document.commit)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Job] = loop.create_future()
        self._pending.append((submission, document, future))
        if len(self._pending) == 1:
            loop.call_soon(self._commit)
        return await future

    def _commit(self) -> None:
        batch, self._pending = self._pending, []
        self.batches += 1
        try:
            outcomes = self.desk.accept_many([(submission, doc) for submission, doc, _ in batch])
        except Exception as exc:  # not one of them is spooled
            outcomes = [exc] * len(batch)
        for (_, _, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, Exception):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
