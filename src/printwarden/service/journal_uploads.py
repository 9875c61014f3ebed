"""Sites' journal uploads applied at HQ: those that arrive together are applied together.

After a region-wide outage every site reconciles at once. Each upload waiting for the
database would pay its own transaction, commit and batch statements; instead the uploads
that wait are applied in one transaction (``usecases.journal.apply_uploads``: one ledger
call, one job insert, one record of outcomes for all of them), each answered with its own
report. Uploads that cannot go together (two naming the same entry, a malformed one) are
applied one by one, each getting its own answer or error (``service/combining.py``).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from printwarden import keys
from printwarden.api.journal import JournalOut
from printwarden.service.problems import Problem
from printwarden.service.state import AppState
from printwarden.store import sites
from printwarden.store.errors import NotFound
from printwarden.usecases import journal


async def apply(state: AppState, site: str, entries: list[dict[str, Any]]) -> bytes:
    """Apply ``site``'s upload; its report as JSON. It waits on the event loop with the
    uploads that arrive meanwhile; one worker thread applies them."""
    upload = journal.Upload(site, entries)
    together, alone = partial(_together, state), partial(_alone, state)
    return await state.journal_uploads.run(upload, together, alone)


def _alone(state: AppState, upload: journal.Upload) -> bytes:
    try:
        return _together(state, [upload])[0]
    except (NotFound, ValueError, TypeError) as exc:  # a body's fields of the wrong kind
        raise Problem(422, "Invalid journal entry", str(exc)) from None


def _together(state: AppState, uploads: list[journal.Upload]) -> list[bytes]:
    """One database transaction for every upload. The answers are serialized from the
    reports as they stand (validating an upload's 5,000 results again cost about 9 ms)."""
    credits = journal.CreditRules(keys.voucher_key(state.secret), state.cash_rules)
    with state.database.session() as session:
        missing = sites.missing_sites(session, list(dict.fromkeys(u.site for u in uploads)))
        if missing:
            raise Problem(404, "Not found", f"no site named {missing[0]!r}")
        reports = journal.apply_uploads(session, uploads, state.currency, credits)
        deficits = journal.deficits_of(session, reports)
    return [_answer(r, d) for r, d in zip(reports, deficits, strict=True)]


def _answer(report: journal.Report, deficits: list[dict[str, Any]]) -> bytes:
    answer = JournalOut.model_construct(
        entries=report.entries,
        applied=report.applied,
        already_applied=report.already_applied,
        amounts=report.amounts,
        unknown_users=report.unknown_users,
        failure_mode_jobs=report.failure_mode_jobs,
        deficits=deficits,
        notes=report.notes,
        rejected=report.rejected,
        results=report.results,
    )
    return answer.model_dump_json().encode()
