"""Which account a job is charged to, before the store resolves it: a released job's
account chosen at its release, and offline the Offline Policy's account."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from printwarden.domain.costs import JobUsage
from printwarden.service import offline
from printwarden.store import accounts, held_jobs, jobs
from printwarden.store.errors import NotFound
from printwarden.usecases.errors import Invalid


@dataclass(frozen=True, slots=True)
class Counts:
    """What a job prints, as reported; :meth:`usage` checks it (``Invalid`` if it cannot
    be), when the use case comes to it."""

    pages: int | None
    colour_pages: int = 0
    copies: int = 1
    duplex: bool = False
    paper_size: str = "A4"

    def usage(self) -> JobUsage:
        try:
            return JobUsage(
                pages=self.pages,
                colour_pages=self.colour_pages,
                copies=self.copies,
                duplex=self.duplex,
                paper_size=self.paper_size,
            )
        except ValueError as exc:
            raise Invalid(str(exc)) from None


def offline_choice(session: Session, choice: jobs.AccountChoice) -> jobs.AccountChoice:
    """Offline, a job that names an account (selected interactively) is charged to the
    Offline Policy's account instead, when that shared account exists."""
    if choice.personal or choice.account_id is not None:
        return choice
    account = offline.policies(session).offline_account
    try:
        found = accounts.find_shared(session, account)
    except NotFound:
        return jobs.AccountChoice()
    return jobs.AccountChoice(account_id=found.id)


def released_choice(
    session: Session, job_ref: str, named: jobs.AccountChoice
) -> jobs.AccountChoice:
    """A released held job is charged to the account chosen (and checked) at its release;
    any other job to the account it names (``named``, its PIN checked beforehand)."""
    return chosen(held_jobs.release_of(session, job_ref) if job_ref else None, named)


def chosen(released: held_jobs.Released | None, named: jobs.AccountChoice) -> jobs.AccountChoice:
    """The account chosen at a release (``released``), else the one the job names."""
    if released is None or released.account_id is None:
        return named
    return jobs.AccountChoice(account_id=released.account_id)
