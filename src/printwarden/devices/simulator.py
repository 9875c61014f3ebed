"""A simulated device (MFD or release station) acting through the device API.

``printwarden device simulate … ACTION`` logs in (card, identity number + PIN, or username +
password), optionally selects an account, runs one action and always logs out. Results go to
stdout, one line each; refusals and errors to stderr. Exit status: 0 done, 1 refused or failed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console

from printwarden.devices.client import (
    DeviceApiError,
    DeviceApiUnavailable,
    DeviceClient,
    HeldJob,
    Session,
)
from printwarden.devices.release_station import Command, jobs_table, money, parse_command
from printwarden.devices.scan_client import DeviceScans, ScanState
from printwarden.domain.money import Currency
from printwarden.domain.wording import count
from printwarden.scanning.sample_pages import generate_page

Action = Callable[["Simulator", Session], int]
INTERACTIVE_HELP = "r N release, a all, c N cancel, copy N, q quit "


@dataclass(frozen=True, slots=True)
class Credentials:
    """How the simulated person logs in: exactly one of card, identity + PIN, username."""

    card: str = ""
    identity: str = ""
    pin: str = ""
    username: str = ""
    password: str = ""

    def problem(self) -> str:
        """Why these credentials cannot be used ("" when they can)."""
        given = [bool(self.card), bool(self.identity), bool(self.username)]
        if sum(given) != 1:
            return "give exactly one of --card, --identity (with --pin), --username"
        return ""

    def describe(self) -> str:
        if self.card:
            return f"card {self.card}"
        if self.identity:
            return f"identity number {self.identity}"
        return f"user {self.username}"

    def login(self, client: DeviceClient) -> Session:
        if self.card:
            return client.login_card(self.card)
        if self.identity:
            return client.login_identity(self.identity, self.pin)
        return client.login_password(self.username, self.password)


def job_line(job: HeldJob, currency: Currency, printer: str = "") -> str:
    """``<id> <document> at <printer>, <pages> pages, <cost>``."""
    pages = "pages unknown" if job.pages is None else count(job.pages, "page")
    if job.copies > 1:
        pages += f" × {count(job.copies, 'copy', 'copies')}"
    where = job.released_to or printer or job.printer or "any printer"
    return f"{job.id} {job.document_name} at {where}, {pages}, {money(job.cost, currency)}"


@dataclass
class Simulator:
    """Runs actions for one logged-in person; writes results to ``out`` and problems to ``err``."""

    client: DeviceClient
    out: TextIO = field(default_factory=lambda: sys.stdout)
    err: TextIO = field(default_factory=lambda: sys.stderr)
    currency: Currency = field(default_factory=Currency)

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def warn(self, text: str) -> None:
        print(text, file=self.err, flush=True)

    def run(
        self, credentials: Credentials, action: Action, account: str | None = None, pin: str = ""
    ) -> int:
        """Log in, select ``account`` if given, run ``action``, log out; the exit status."""
        try:
            session = credentials.login(self.client)
        except DeviceApiError as exc:
            self.warn(f"error: login with {credentials.describe()} refused: {exc.message}")
            return 1
        except DeviceApiUnavailable as exc:
            self.warn(f"error: {exc}")
            return 1
        try:
            if account is not None:
                session = self.client.select_account(session, account, pin)
            return action(self, session)
        except DeviceApiError as exc:
            self.warn(f"error: {exc.message} ({exc.status} {exc.title})")
            return 1
        except DeviceApiUnavailable as exc:
            self.warn(f"error: {exc}")
            return 1
        finally:
            self._logout(session)

    def _logout(self, session: Session) -> None:
        try:
            self.client.logout(session)
        except (DeviceApiError, DeviceApiUnavailable) as exc:
            self.warn(f"warning: logout failed: {exc}")

    # --- actions ------------------------------------------------------------------------------

    def release_all(self, session: Session) -> int:
        """One ``released …`` line per job printed; refusals to stderr."""
        result = self.client.release_all(session)
        for job in result.released:
            self.say(f"released {job_line(job, self.currency, session.printer)}")
        for refusal in result.refused:
            self.warn(f"refused {refusal.id} {refusal.document_name}: {refusal.reason}")
        return 0

    def list_jobs(self, session: Session) -> int:
        jobs = self.client.jobs(session)
        for job in jobs:
            state = job.status if job.compatible else f"incompatible: {job.incompatible_reason}"
            self.say(f"{job_line(job, self.currency, session.printer)} [{state}]")
        if not jobs:
            self.warn(f"{session.username} has no held jobs")
        return 0

    def release(self, session: Session, job_id: str) -> int:
        job = self.client.release(session, job_id)
        self.say(f"released {job_line(job, self.currency, session.printer)}")
        return 0

    def cancel(self, session: Session, job_id: str) -> int:
        job = self.client.cancel(session, job_id)
        self.say(f"canceled {job.id} {job.document_name}")
        return 0

    def change(
        self,
        session: Session,
        job_id: str,
        copies: int | None,
        duplex: bool | None,
        grayscale: bool | None,
    ) -> int:
        job = self.client.change(session, job_id, copies, duplex, grayscale)
        sides = "duplex" if job.duplex else "simplex"
        colour = "grayscale" if job.grayscale else "as printed"
        self.say(f"changed {job_line(job, self.currency, session.printer)}: {sides}, {colour}")
        return 0

    def walk_up(
        self,
        session: Session,
        kind: str,
        pages: int,
        *,
        colour: bool = False,
        duplex: bool = False,
        paper_size: str = "A4",
    ) -> int:
        """Copy, scan or fax ``pages``: only as many as the account can pay for."""
        allowance = self.client.allowance(session, kind, colour, duplex, paper_size)
        done = pages if allowance.allowed_pages is None else min(pages, allowance.allowed_pages)
        if done <= 0:
            self.warn(f"error: {session.username} has no credit to {kind}")
            return 1
        if done < pages:
            self.warn(f"stopped after {done} of {pages} pages: the credit allows {done}")
        usage = self.client.usage(session, kind, done, done if colour else 0, duplex, paper_size)
        cost, balance = money(usage.cost, self.currency), money(usage.balance, self.currency)
        self.say(f"{kind} {count(done, 'page')}, {cost}, balance {balance}")
        return 0

    def scan_to(
        self, session: Session, action: str, pages: int, options: dict[str, Any], wait: float
    ) -> int:
        """Scan ``pages`` generated pages with ``action``; with ``wait``, until delivered."""
        scans = DeviceScans(self.client)
        colour = bool(options.get("colour", False))
        dpi = int(options.get("resolution", 300))
        generated = (generate_page(n, dpi=dpi, colour=colour) for n in range(1, pages + 1))
        state = scans.scan(session, action, generated, options)
        cost = money(state.cost, self.currency)
        self.say(f"scanned {count(state.pages, 'page')} with {action!r}: {state.stage}, {cost}")
        if wait > 0:
            return self._await_delivery(scans, state, wait)
        return 0

    def _await_delivery(self, scans: DeviceScans, state: ScanState, wait: float) -> int:
        deadline = time.monotonic() + wait
        while state.stage == "received" and scans.latest and time.monotonic() < deadline:
            time.sleep(0.2)
            state = scans.status(scans.latest)
        self.say(f"scan {state.scan_id}: {state.stage} {state.detail}".rstrip())
        return 0 if state.stage == "delivered" else 1

    def account(self, session: Session, name: str, pin: str) -> int:
        session = self.client.select_account(session, name, pin)
        self.show(session)
        return 0

    def show(self, session: Session) -> None:
        account = session.account or "personal"
        limit = "restricted" if session.restricted else "unrestricted"
        balance = money(session.balance, self.currency)
        self.say(f"{session.username}: account {account}, balance {balance} ({limit})")

    # --- interactive --------------------------------------------------------------------------

    def interactive(self, session: Session, stream: TextIO | None = None) -> int:
        """A prompt loop for a person: the jobs as a table; release, cancel, copy."""
        stream = stream or sys.stdin
        console = Console(file=self.out, markup=False, highlight=False, emoji=False)
        self.show(session)
        jobs = self._table(console, session)
        while True:
            console.print(f"{INTERACTIVE_HELP}> ", end="")
            line = stream.readline()
            if not line:
                return 0
            command = parse_command(line)
            if command.verb == "logout":
                return 0
            try:
                self._interactive_step(session, jobs, command)
            except DeviceApiError as exc:
                self.warn(f"refused: {exc.message}")
            jobs = self._table(console, session)

    def _table(self, console: Console, session: Session) -> list[HeldJob]:
        jobs = self.client.jobs(session)
        console.print(jobs_table(jobs, self.currency))
        return jobs

    def _interactive_step(self, session: Session, jobs: list[HeldJob], command: Command) -> None:
        verb, number = command.verb, command.number
        if verb == "all":
            self.release_all(session)
        elif verb == "copy":
            self.walk_up(session, "copy", number)
        elif verb == "release" and 1 <= number <= len(jobs):
            self.release(session, jobs[number - 1].id)
        elif verb == "cancel" and 1 <= number <= len(jobs):
            self.cancel(session, jobs[number - 1].id)
        elif verb not in ("list", "empty"):
            self.warn(INTERACTIVE_HELP)
