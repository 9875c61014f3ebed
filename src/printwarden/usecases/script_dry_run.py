"""A print script's dry run: what it would do to a sample job, with nothing stored.

The API (``POST /scripts/test``), the web page's "Test" button and ``printwarden admin
script test`` all run this.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy.orm import Session

from printwarden.api.scripts import SampleJobIn, ScriptTestIn, ScriptTestOut
from printwarden.scripting import KeyValueStore, ScriptJob, ScriptLimits, ScriptUser, run_print_hook
from printwarden.store import scripts


def with_stored_properties(session: Session, body: ScriptTestIn) -> ScriptTestOut:
    """Dry-run ``body``'s script reading the properties stored for its printer (the run's
    writes are shown, never stored)."""
    store = scripts.SessionStore(session, scripts.Script(body.printer, body.source))
    return dry_run(body.source, body.job, store)


class SampleStore(KeyValueStore, Protocol):
    def written(self) -> dict[str, str]: ...


def dry_run(source: str, sample: SampleJobIn, store: SampleStore) -> ScriptTestOut:
    """What ``source`` does to ``sample``, reading properties from ``store`` (whose writes
    the caller does not keep)."""
    job = ScriptJob(
        pages=sample.pages,
        colour_pages=min(sample.colour_pages, sample.pages),
        copies=sample.copies,
        cost=sample.cost,
        document_name=sample.document_name,
        size=sample.size,
        duplex=sample.duplex,
        grayscale=sample.colour_pages == 0,
        paper_size=sample.paper_size,
        printer=sample.printer,
        is_held=sample.is_held,
        username=sample.username,
        account=sample.account,
    )
    user = ScriptUser(sample.username, tuple(sample.groups), sample.balance, sample.restricted)
    outcome = run_print_hook(source, job, user, store, datetime.now(UTC), ScriptLimits())
    return ScriptTestOut(
        error=outcome.error,
        cancel=outcome.cancel,
        cancel_message=outcome.cancel_message,
        cost=outcome.cost,
        grayscale=outcome.grayscale,
        duplex=outcome.duplex,
        charge_account=outcome.charge_account,
        hold=outcome.hold,
        comment=outcome.comment,
        logs=[list(entry) for entry in outcome.logs],
        properties_set={} if outcome.error else store.written(),
    )
