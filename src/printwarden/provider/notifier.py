"""Events from what really happens: job transitions (the spool's), a queue's state and
configuration, the provider starting — into the subscriptions (:mod:`.subscriptions`).

Subscriptions are kept in ``subscriptions.json`` (0600) so that a recipient's subscription
survives a restart of the provider; their events do not (they live ``ippget-event-life``
seconds): after a restart each queue's printer subscriptions get ``printer-restarted``. A
supervised loop forgets expired events and leases and keeps the subscriptions when they
changed (at most a second late: a crash may renumber the last second's events).
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from printwarden.domain.job_states import Phase
from printwarden.files import write_private
from printwarden.provider.printer_states import STOPPED, PrinterState
from printwarden.provider.spool import IPP_STATE, TERMINAL_STATES, Job
from printwarden.provider.subscriptions import SubscriptionStore
from printwarden.provider.supervisor import Supervisor

log = logging.getLogger("printwarden.provider")
STATE_FILE = "subscriptions.json"
SWEEP_SECONDS = 1.0
JOB_STATE_NAMES = {3: "pending", 4: "pending-held", 5: "processing", 6: "processing-stopped",
                   7: "canceled", 8: "aborted", 9: "completed"}  # fmt: skip
PRINTER_STATE_NAMES = {3: "idle", 4: "processing", 5: "stopped"}


class Notifier:
    """Turns what happens into events of the provider's subscriptions."""

    def __init__(
        self,
        store: SubscriptionStore,
        directory: Path | None = None,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.store = store
        self.path = directory / STATE_FILE if directory is not None else None
        self.supervisor = supervisor or Supervisor()
        self._load()

    # --- jobs --------------------------------------------------------------------------

    def job_created(self, job: Job) -> None:
        """A job was accepted (after the subscriptions its request asked for)."""
        self.store.occur(
            ("job-created", "job-state-changed"),
            queue=job.queue,
            text=f"Job {job.id} created.",
            now=time.time(),
            job_id=job.id,
            values=_job_values(job),
        )

    def job_moved(self, job: Job, before: Phase) -> None:
        """A spool transition: news when the job's IPP state or reasons changed."""
        state_before, reasons_before = IPP_STATE[before]
        if (job.state, job.reasons) == (state_before, reasons_before):
            return
        keywords = ["job-state-changed"]
        final = job.state in TERMINAL_STATES
        if final:
            keywords.append("job-completed")
        if job.state == 6:
            keywords.append("job-stopped")
        name = JOB_STATE_NAMES.get(job.state, str(job.state))
        detail = f": {job.message}" if job.message else ""
        self.store.occur(
            keywords,
            queue=job.queue,
            text=f"Job {job.id} is {name}{detail}."[:255],
            now=time.time(),
            job_id=job.id,
            values=_job_values(job),
            final=final,
        )

    def job_configured(self, job: Job, text: str) -> None:
        """Set-Job-Attributes (or a promotion) changed the job."""
        self.store.occur(
            ("job-config-changed",), queue=job.queue, text=text[:255], now=time.time(),
            job_id=job.id, values=_job_values(job),
        )  # fmt: skip

    # --- queues --------------------------------------------------------------------------

    def printer_moved(self, queue: str, before: PrinterState, after: PrinterState) -> None:
        """A queue's printer-state, reasons or accepting changed."""
        keywords = ["printer-state-changed"]
        if after.state == STOPPED and before.state != STOPPED:
            keywords.append("printer-stopped")
        if "shutdown" in after.reasons and "shutdown" not in before.reasons:
            keywords.append("printer-shutdown")
        name = PRINTER_STATE_NAMES.get(after.state, str(after.state))
        detail = f": {after.message}" if after.message else ""
        self.store.occur(
            keywords,
            queue=queue,
            text=f"Printer {queue} is {name}{detail}."[:255],
            now=time.time(),
            values=_printer_values(after),
        )

    def printer_configured(self, queue: str, text: str, state: PrinterState) -> None:
        self.store.occur(("printer-config-changed",), queue=queue, text=text[:255],
                         now=time.time(), values=_printer_values(state))  # fmt: skip

    def queue_reordered(self, queue: str, text: str, state: PrinterState) -> None:
        self.store.occur(("printer-queue-order-changed",), queue=queue, text=text[:255],
                         now=time.time(), values=_printer_values(state))  # fmt: skip

    def restarted(self, queue: str, state: PrinterState, text: str = "") -> None:
        self.store.occur(("printer-restarted",), queue=queue,
                         text=text or f"Printer {queue} restarted.", now=time.time(),
                         values=_printer_values(state))  # fmt: skip

    # --- upkeep --------------------------------------------------------------------------

    def start(self) -> None:
        self.supervisor.spawn("subscriptions", self._round)

    def _round(self) -> None:
        if self.supervisor.stopping.wait(SWEEP_SECONDS):
            return
        self.store.sweep(time.time())
        if self.store.dirty:
            self.save()

    def save(self) -> None:
        if self.path is None:
            return
        text = json.dumps(self.store.snapshot())
        temporary = self.path.with_name(f".{self.path.name}.tmp")
        try:
            write_private(temporary, text)
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("could not keep the subscriptions in %s: %s", self.path, exc)

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            kept = json.loads(self.path.read_text(encoding="utf-8"))
            self.store.restore(kept, time.time())
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            log.warning("ignoring %s (%s): subscriptions start afresh", self.path, exc)


def _job_values(job: Job) -> dict[str, object]:
    values: dict[str, object] = {
        "job-state": job.state,
        "job-state-reasons": job.reasons.split(","),
        "job-name": job.name or f"job-{job.id}",
    }
    pages = job.analysis.get("pages")
    if job.phase is Phase.COMPLETED and isinstance(pages, int):
        values["job-impressions-completed"] = pages
    return values


def _printer_values(state: PrinterState) -> dict[str, object]:
    return {
        "printer-state": state.state,
        "printer-state-reasons": list(state.reasons),
        "printer-is-accepting-jobs": state.accepting,
    }
