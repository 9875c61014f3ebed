"""What the IPP server needs besides the spool and the desk to be an IPP/2.2 printer per
queue: the operator's state of each queue, each queue's printer state, event
subscriptions, and who may operate the queues — wired to what feeds them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from printwarden.domain.job_states import WORKING
from printwarden.provider.config import ProviderConfig
from printwarden.provider.notifier import Notifier
from printwarden.provider.printer_states import PrinterStates
from printwarden.provider.printer_watch import PrinterWatch
from printwarden.provider.queue_admin import QueueStates
from printwarden.provider.spool import Spool
from printwarden.provider.subscriptions import SubscriptionStore
from printwarden.provider.supervisor import Supervisor


@dataclass
class QueueServices:
    """The queues' operator state, printer states, subscriptions and operators."""

    admin: QueueStates
    states: PrinterStates
    notifier: Notifier
    operators: frozenset[str]

    @classmethod
    def create(
        cls,
        config: ProviderConfig,
        spool: Spool,
        printers: PrinterWatch,
        *,
        directory: Path | None = None,
        supervisor: Supervisor | None = None,
    ) -> QueueServices:
        """Everything wired: job transitions, operator changes and what printers say of
        their state become events; ``directory`` keeps operator state and subscriptions."""
        admin = QueueStates([q.name for q in config.queues], directory)
        states = PrinterStates(config, admin, spool.working, printers.status)
        notifier = Notifier(SubscriptionStore(), directory, supervisor)
        spool.on_transition(notifier.job_moved)
        spool.on_transition(
            lambda job, before: (
                states.refresh(job.queue) if (before in WORKING) != (job.phase in WORKING) else None
            )
        )
        admin.on_change(lambda queue, _, __: states.refresh(queue))
        states.on_change(notifier.printer_moved)
        printers.on_status(states.printer_changed)
        made = cls(admin, states, notifier, frozenset(config.operators))
        printers.on_change(made.printers_changed)
        return made

    def printers_changed(self) -> None:
        """A printer's capabilities changed: every queue's description may have."""
        for queue in self.states.config.queues:
            self.admin.describe(queue.name, {})
            state, _ = self.states.current(queue.name)
            self.notifier.printer_configured(
                queue.name, f"{queue.name}: what its printer can do changed.", state
            )

    def start(self) -> None:
        """Tell each queue's subscribers it (re)started, and keep the subscriptions."""
        for queue in self.states.config.queues:
            state, _ = self.states.current(queue.name)
            self.notifier.restarted(queue.name, state)
        self.notifier.start()

    def close(self) -> None:
        self.notifier.save()
