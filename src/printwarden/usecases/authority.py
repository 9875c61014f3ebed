"""Who answers for users, accounts and policies here: the App Server, or a Site Server's
local app (its replica, under the Offline Policies while the site is offline).

One authority is injected into the app (``AppState.authority``): :class:`Hq` at the App
Server, :class:`Site` at a Site Server's local app. A use case asks it once per request for
the :class:`Rules` that apply now (:data:`ONLINE`, or :class:`Offline` with the policies
read then) and follows them: it never asks whether it is offline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from printwarden.config import DirectoryConfig
from printwarden.directory.source import check_password
from printwarden.domain.decide import Policies
from printwarden.domain.offline_policies import OfflinePolicies
from printwarden.service import offline
from printwarden.service.offline import OfflineMode, Substitution
from printwarden.store import jobs
from printwarden.store.models import UserRow
from printwarden.usecases.job_accounts import offline_choice


class Rules(Protocol):
    """What applies to one request, read once at its start."""

    @property
    def offline(self) -> bool:
        """The site answers alone now (what a refusal may say)."""
        ...

    @property
    def checks_account_pins(self) -> bool:
        """A named shared account's PIN is checked (offline the policy's account applies)."""
        ...

    def decision_policies(self) -> Policies:
        """The rules a job's decision follows (the currency is the caller's)."""
        ...

    def resolve_user(
        self, session: Session, username: str, where: str, *, writing: bool
    ) -> Substitution:
        """Who a job of ``username`` is decided and charged as (``None``: not tracked).
        ``writing``: ``session`` holds the write transaction a sighting is journaled in."""
        ...

    def account_choice(self, session: Session, choice: jobs.AccountChoice) -> jobs.AccountChoice:
        """The account a job that names ``choice`` is charged to."""
        ...

    def check_password(self, directory: DirectoryConfig, user: UserRow, password: str) -> bool:
        """The one password check of every login; call it outside any transaction."""
        ...

    def account_change_refusal(self) -> str:
        """Why a device may not change the applied account now ("": it may)."""
        ...


@dataclass(frozen=True, slots=True)
class Online:
    """The App Server's own rules: every user and account as recorded, the configured
    directory for passwords."""

    offline: bool = False
    checks_account_pins: bool = True

    def decision_policies(self) -> Policies:
        return Policies()

    def resolve_user(
        self, session: Session, username: str, where: str, *, writing: bool
    ) -> Substitution:
        return Substitution(username)

    def account_choice(self, session: Session, choice: jobs.AccountChoice) -> jobs.AccountChoice:
        return choice

    def check_password(self, directory: DirectoryConfig, user: UserRow, password: str) -> bool:
        return check_password(directory, user, password)

    def account_change_refusal(self) -> str:
        return ""


ONLINE = Online()


@dataclass(frozen=True, slots=True)
class Offline:
    """A site answering alone, under the Offline Policies ``chosen`` when the request began."""

    mode: OfflineMode
    chosen: OfflinePolicies
    offline: bool = True
    checks_account_pins: bool = False

    def decision_policies(self) -> Policies:
        return Policies(offline=self.chosen)

    def resolve_user(
        self, session: Session, username: str, where: str, *, writing: bool
    ) -> Substitution:
        if offline.known(session, username):
            return Substitution(username)
        return offline.substitute(self.mode, session, username, where, writing=writing)

    def account_choice(self, session: Session, choice: jobs.AccountChoice) -> jobs.AccountChoice:
        return offline_choice(session, choice)

    def check_password(self, directory: DirectoryConfig, user: UserRow, password: str) -> bool:
        return offline.password_ok(self.mode, self.chosen, directory, user, password)

    def account_change_refusal(self) -> str:
        if self.chosen.allow_account_change:
            return ""
        return (
            f"account selection is off while the site is offline; jobs are charged to "
            f"{self.chosen.offline_account!r} (Offline Policy)"
        )


class Authority(Protocol):
    """Where users, accounts and policies are answered for: HQ or a site."""

    @property
    def at_hq(self) -> bool:
        """The App Server itself, whose records are the truth: it binds provider tokens,
        makes print URLs and notes their use, runs scheduled top-ups, and rings a site's
        providers through that site."""
        ...

    def offline(self) -> bool:
        """The site answers alone now (never at HQ)."""
        ...

    def rules(self, session: Session) -> Rules:
        """The rules that apply now; read once per request and follow them."""
        ...

    def note_unknown_user(self, session: Session | None, username: str, where: str) -> None:
        """Journal a user seen here whom the replica does not know (HQ knows everyone)."""
        ...


@dataclass(frozen=True, slots=True)
class Hq:
    """The App Server: always online, its own rules."""

    at_hq: bool = True

    def offline(self) -> bool:
        return False

    def rules(self, session: Session) -> Rules:
        return ONLINE

    def note_unknown_user(self, session: Session | None, username: str, where: str) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Site:
    """A Site Server's local app: HQ's rules while the site is online (the gateway forwards
    nearly everything then), the Offline Policies while it answers alone."""

    mode: OfflineMode
    at_hq: bool = False

    def offline(self) -> bool:
        return self.mode.active()

    def rules(self, session: Session) -> Rules:
        if not self.mode.active():
            return ONLINE
        return Offline(self.mode, offline.policies(session))

    def note_unknown_user(self, session: Session | None, username: str, where: str) -> None:
        self.mode.note_unknown_user(session, username, where)
