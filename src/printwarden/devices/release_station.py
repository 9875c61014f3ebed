"""A terminal release station for a keyboard-wedge card reader.

The station waits for a line: a card swipe (the reader types the number, then Enter),
``login USER`` (then the password) or ``id NUMBER`` (then the PIN). Logged in, it shows the
user's jobs numbered and takes ``r N``/``release N``, ``a``/``all``, ``c N``/``cancel N``,
``l``/``list`` and ``q``/``logout``; a new card swipe changes user. Without input for
``idle_seconds`` it logs out; at the end of input it logs out and stops.

Input is any text stream (a TTY, a pipe, a StringIO): a thread reads its lines so that the
wait for the next one can time out.
"""

from __future__ import annotations

import queue
import re
import termios
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

from rich.console import Console
from rich.table import Table

from printwarden.devices.client import (
    DeviceApiError,
    DeviceApiUnavailable,
    DeviceClient,
    HeldJob,
    Session,
)
from printwarden.domain.money import Currency

IDLE_SECONDS = 30.0
CARD_LIKE = re.compile(r"^[0-9A-Fa-f]{4,}$")
HELP = "r N: release   a: release all   c N: cancel   l: list   q: log out"
WELCOME = "Swipe your card, or type `login USER` or `id NUMBER`."
_VERBS = {
    "r": "release",
    "release": "release",
    "c": "cancel",
    "cancel": "cancel",
    "a": "all",
    "all": "all",
    "q": "logout",
    "logout": "logout",
    "l": "list",
    "list": "list",
    "h": "help",
    "help": "help",
    "?": "help",
    "login": "login",
    "id": "identity",
    "copy": "copy",
}
_NUMBERED = {"release", "cancel", "copy"}
_NAMED = {"login", "identity"}


@dataclass(frozen=True, slots=True)
class Command:
    """One parsed input line. ``verb`` is ``empty``, ``card``, ``unknown`` or a command."""

    verb: str
    text: str = ""
    number: int = 0


def parse_command(line: str) -> Command:
    """What a line asks for; a lone word that is no command is a card swipe."""
    words = line.split()
    if not words:
        return Command("empty")
    verb = _VERBS.get(words[0].lower())
    rest = words[1:]
    if verb in _NUMBERED and len(rest) == 1 and rest[0].isdigit():
        return Command(verb, number=int(rest[0]))
    if verb in _NAMED and len(rest) == 1:
        return Command(verb, text=rest[0])
    if verb is not None and verb not in _NUMBERED | _NAMED and not rest:
        return Command(verb)
    if verb is None and len(words) == 1:
        return Command("card", text=words[0])
    return Command("unknown", text=line.strip())


class LineReader:
    """The lines of a text stream, read by a daemon thread so a wait can time out."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, name="station-input", daemon=True).start()

    def _pump(self) -> None:
        try:
            while line := self.stream.readline():
                self._lines.put(line.rstrip("\r\n"))
        finally:
            self._lines.put(None)

    def read(self, timeout: float | None = None) -> str | None:
        """The next line; None if ``timeout`` seconds pass first; EOFError at the end."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line is None:
            self._lines.put(None)
            raise EOFError
        return line


@contextmanager
def hidden_input(stream: TextIO) -> Iterator[None]:
    """Turn off echo while a secret is typed, if ``stream`` is a terminal."""
    if not stream.isatty():
        yield
        return
    fd = stream.fileno()
    before = termios.tcgetattr(fd)
    quiet = list(before)
    quiet[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSANOW, quiet)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSANOW, before)


def money(units: int | None, currency: Currency) -> str:
    return "cost unknown" if units is None else currency.show(units)


def jobs_table(jobs: list[HeldJob], currency: Currency) -> Table:
    """The jobs numbered from 1, as the commands refer to them."""
    table = Table("#", "document", "pages", "cost", "status")
    for number, job in enumerate(jobs, 1):
        pages = "?" if job.pages is None else str(job.pages * job.copies)
        status = job.status if job.compatible else f"cannot print here: {job.incompatible_reason}"
        table.add_row(str(number), job.document_name, pages, money(job.cost, currency), status)
    return table


class ReleaseStation:
    """The station's loop over input lines; output goes to ``output``."""

    def __init__(
        self,
        client: DeviceClient,
        input_stream: TextIO,
        output: TextIO,
        idle_seconds: float = IDLE_SECONDS,
        currency: Currency | None = None,
    ) -> None:
        self.client = client
        self.input_stream = input_stream
        self.lines = LineReader(input_stream)
        self.console = Console(file=output, markup=False, highlight=False, emoji=False)
        self.idle_seconds = idle_seconds
        self.currency = currency or Currency()
        self.session: Session | None = None
        self.jobs: list[HeldJob] = []

    def say(self, text: str) -> None:
        self.console.print(text)

    def run(self) -> None:
        """Serve input lines until the input ends."""
        self.say(WELCOME)
        try:
            while True:
                line = self.lines.read(self.idle_seconds if self.session else None)
                if line is None:
                    self.logout(f"logged out after {self.idle_seconds:g} s without input")
                else:
                    self.handle(line)
        except EOFError:
            pass
        finally:
            if self.session is not None:
                self.logout("logged out")

    def handle(self, line: str) -> None:
        """Act on one input line; errors are shown, never raised."""
        command = parse_command(line)
        try:
            if self.session is None:
                self._logged_out(command)
            else:
                self._logged_in(command)
        except DeviceApiUnavailable as exc:
            self.say(f"the server is unavailable, please try again later ({exc})")
        except DeviceApiError as exc:
            self._refused(exc)

    def _refused(self, exc: DeviceApiError) -> None:
        if exc.status == 404 and not self._session_alive():
            self.session, self.jobs = None, []
            self.say("your session has ended; please log in again")
            return
        self.say(f"refused: {exc.message}")

    def _session_alive(self) -> bool:
        """Whether the server still knows the session (a 404 may be about it or a job)."""
        if self.session is None:
            return False
        try:
            self.session = self.client.refresh(self.session)
        except DeviceApiError as exc:
            return exc.status != 404
        return True

    def _logged_out(self, command: Command) -> None:
        if command.verb == "card":
            self.login(lambda: self.client.login_card(command.text))
        elif command.verb == "login":
            password = self.secret("password: ")
            if password is not None:
                self.login(lambda: self.client.login_password(command.text, password))
        elif command.verb == "identity":
            pin = self.secret("PIN: ")
            if pin is not None:
                self.login(lambda: self.client.login_identity(command.text, pin))
        elif command.verb != "empty":
            self.say(WELCOME)

    def _logged_in(self, command: Command) -> None:
        verb = command.verb
        if verb == "card" and CARD_LIKE.match(command.text):
            self.logout("logged out")
            self._logged_out(command)
        elif verb in ("release", "cancel"):
            self.one_job(verb, command.number)
        elif verb == "all":
            self.release_all()
        elif verb == "logout":
            self.logout("logged out")
        elif verb in ("list", "empty"):
            self.show_jobs()
        else:
            self.say(HELP)

    def secret(self, prompt: str) -> str | None:
        """Ask for a password or PIN; None if nothing comes in time."""
        self.console.print(prompt, end="")
        with hidden_input(self.input_stream):
            answer = self.lines.read(self.idle_seconds)
        self.say("")
        if answer is None:
            self.say("no answer; cancelled")
        return answer

    def login(self, attempt: Callable[[], Session]) -> None:
        try:
            self.session = attempt()
        except DeviceApiError as exc:
            self.say(f"login refused: {exc.message}")
            return
        balance = money(self.session.balance, self.currency)
        self.say(f"Hello {self.session.full_name or self.session.username}, balance {balance}")
        self.show_jobs()

    def logout(self, message: str) -> None:
        session, self.session, self.jobs = self.session, None, []
        if session is None:
            return
        try:
            self.client.logout(session)
        except (DeviceApiError, DeviceApiUnavailable) as exc:
            self.say(f"logout failed: {exc}")
        self.say(message)
        self.say(WELCOME)

    def show_jobs(self) -> None:
        assert self.session is not None
        self.jobs = self.client.jobs(self.session)
        if not self.jobs:
            self.say("You have no jobs waiting.")
            return
        self.console.print(jobs_table(self.jobs, self.currency))
        self.say(HELP)

    def one_job(self, verb: str, number: int) -> None:
        assert self.session is not None
        if not 1 <= number <= len(self.jobs):
            self.say(f"no job {number}; {HELP}")
            return
        job = self.jobs[number - 1]
        if verb == "release":
            done = self.client.release(self.session, job.id)
            self.say(f"released {job.document_name} ({money(done.cost, self.currency)})")
        else:
            self.client.cancel(self.session, job.id)
            self.say(f"canceled {job.document_name}")
        self.show_jobs()

    def release_all(self) -> None:
        assert self.session is not None
        result = self.client.release_all(self.session)
        for job in result.released:
            self.say(f"released {job.document_name} ({money(job.cost, self.currency)})")
        for refusal in result.refused:
            self.say(f"not released {refusal.document_name}: {refusal.reason}")
        if not result.released and not result.refused:
            self.say("nothing to release")
        self.show_jobs()
