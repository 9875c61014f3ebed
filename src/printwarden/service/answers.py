"""Answering a held job's question from the API or the portal: the shared account's PIN
checked first (throttled, outside any transaction), then the use case
(``usecases/questions.py``) applies the answer once."""

from __future__ import annotations

from fastapi.concurrency import run_in_threadpool

from printwarden.api.questions import AnswerIn
from printwarden.domain.questions import Answerer, Outcome
from printwarden.service import logins
from printwarden.service.problems import Problem
from printwarden.service.state import AppState
from printwarden.store import accounts, jobs
from printwarden.store.errors import NotFound
from printwarden.store.tokens import Caller
from printwarden.usecases import questions, release


async def answer(
    state: AppState, caller: Caller, job: str, body: AnswerIn, by: Answerer
) -> Outcome:
    """Check the PIN (outside any transaction, throttled), then apply the answer."""
    choice = jobs.AccountChoice()
    if body.action == "print" and body.account:
        choice = await _pinned_choice(state, body.account, body.pin, caller.username or "")
    given = questions.Answer(body.action, choice, by, body.comment)
    assert caller.user_id is not None  # a person's token: never an administrator's release
    releaser = release.Releaser(caller.username or "", caller.user_id)
    return await release.in_thread(state, questions.answer, job, releaser, given)


async def _pinned_choice(state: AppState, name: str, pin: str, username: str) -> jobs.AccountChoice:
    """The shared account ``name``, its PIN checked here (online or offline: the replica
    holds the PIN's hash); whether the user may charge it is the use case's to check."""
    account = await run_in_threadpool(_shared_account, state, name)
    if account is None:
        raise Problem(422, "Invalid request", f"no shared account named {name!r}")
    if not await logins.account_pin(state, account, pin, logins.person_client(username)):
        raise Problem(422, "Invalid request", f"wrong or missing PIN for account {name!r}")
    return jobs.AccountChoice(account_id=account.id)


def _shared_account(state: AppState, name: str) -> logins.PinnedAccount | None:
    with state.database.read() as session:
        try:
            row = accounts.find_shared(session, name)
        except NotFound:
            return None
        return logins.PinnedAccount(row.id, row.name, row.pin_hash)
