"""Text mode, for machines without a display: a line per notification, and the server's
questions asked one at a time, in the order they came, on standard input.

Prompts end with stable markers (``Print? [y/n] ``, ``Account number: ``, ``PIN: ``,
``Comment: ``) so that a program can drive the client through pipes."""

from __future__ import annotations

import contextlib
import queue
import threading
from pathlib import Path

import httpx

from printwarden.client.api import Answer, ApiError, ClientApi
from printwarden.client.events import EventReader, Item, Status
from printwarden.client.model import ClientState, Closed
from printwarden.client.session import LoginFailed, env_password, log_in
from printwarden.client.terminal import Cancelled, Lines, Output
from printwarden.client.tokenfile import Saved
from printwarden.client.wire import Account, Event, Question
from printwarden.client.wording import account_label, if_unanswered, job_lines

CONFIRM = "Print? [y/n] "
ACCOUNT = "Account number: "
PIN = "PIN: "
COMMENT = "Comment: "
LOGIN = ""  # on the work queue: the token was refused, log in again
LOGIN_ATTEMPTS = 3


def ask_login(
    out: Output,
    lines: Lines,
    directory: Path,
    server: str | None,
    username: str | None,
    *,
    transport: httpx.BaseTransport | None = None,
) -> Saved | None:
    """Log in from the terminal (asking what is missing); None when it did not work."""
    try:
        server = server or lines.ask("Server URL: ").strip()
        username = username or lines.ask("Username: ").strip()
        from_env = env_password()
        for _ in range(1 if from_env else LOGIN_ATTEMPTS):
            password = from_env or lines.ask(f"Password for {username}: ", secret=True)
            try:
                return log_in(server, username, password, directory, transport=transport)
            except LoginFailed as failed:
                out.line(failed.message)
    except EOFError:
        out.line("No input: cannot log in.")
    return None


class TerminalClient:
    """The text mode for the user logged in as ``saved``."""

    def __init__(
        self,
        saved: Saved,
        directory: Path,
        out: Output,
        lines: Lines,
        *,
        poll: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._saved = saved
        self._directory = directory
        self._out = out
        self._lines = lines
        self._poll = poll
        self._transport = transport
        self._state = ClientState()
        self._lock = threading.Lock()
        self._work: queue.Queue[str] = queue.Queue()
        self._current = ""
        self._cancel = threading.Event()
        self._mine: set[str] = set()
        self._connection = ""
        self._can_ask = True
        self._greeted = False
        self._api = ClientApi(saved.server, saved.token, transport=transport)
        self._reader = self._new_reader("")

    def run(self) -> int:
        """Until interrupted (0), or the token is refused and logging in again fails (1)."""
        self._reader.start()
        try:
            while True:
                with contextlib.suppress(queue.Empty):
                    job = self._work.get(timeout=0.5)
                    if job == LOGIN and not self._log_in_again():
                        return 1
                    if job != LOGIN:
                        self._ask(job)
        except KeyboardInterrupt:
            self._out.line("Bye.")
            return 0
        finally:
            self._reader.stop()
            self._api.close()

    def _new_reader(self, last_id: str) -> EventReader:
        return EventReader(
            self._saved.server,
            self._saved.token,
            self.deliver,
            last_id=last_id,
            poll=self._poll,
            transport=self._transport,
        )

    # The reader's thread.

    def deliver(self, item: Item) -> None:
        """Take one event or connection change (from the reader's thread)."""
        if isinstance(item, Status):
            self._on_status(item)
        else:
            self._on_event(item)

    def _on_status(self, status: Status) -> None:
        was, self._connection = self._connection, status.state
        if status.state == "login":
            self._work.put(LOGIN)
        elif status.state == "connected" and was != "connected":
            how = " (polling)" if status.mode == "poll" else ""
            self._out.line(f"Connected to {self._saved.server}{how}.")
        elif status.state == "waiting" and was != "waiting":
            self._out.line(f"No connection: {status.detail}; retrying.")

    def _on_event(self, event: Event) -> None:
        with self._lock:
            update = self._state.apply(event)
            if update.greeted and not self._greeted:
                self._greeted = True
                self._out.line(f"Logged in as {self._state.full_name or self._state.username}.")
            for notice in update.notices:
                self._out.line(notice.text)
            for closed in update.closed:
                self._on_closed(closed)
            for question in update.opened:
                self._work.put(question.job)

    def _on_closed(self, closed: Closed) -> None:
        if closed.job in self._mine and closed.by in ("client", ""):
            return
        if closed.job == self._current:
            self._cancel.set()
            self._out.withdraw()
        prefix = "Timed out" if closed.by == "timeout" else "Answered elsewhere"
        self._out.line(f"{prefix}: {closed.summary()}")

    # The main thread.

    def _ask(self, job: str) -> None:
        with self._lock:
            question = self._state.questions.get(job)
            if question is None:
                return
            self._current = job
            self._cancel.clear()
        try:
            self._show(question)
            if self._can_ask:
                self._answer(question)
        except Cancelled:
            pass
        except EOFError:
            self._can_ask = False
            self._out.line("No more input: answer in the portal or at the printer.")
        finally:
            with self._lock:
                self._current = ""

    def _show(self, question: Question) -> None:
        self._out.line(f"Question: {question.document_name} on {question.printer}")
        for line in job_lines(question):
            self._out.line(f"  {line}")
        self._out.line(f"  {if_unanswered(question)}")

    def _answer(self, question: Question) -> None:
        while True:
            confirm = question.kind == "confirm"
            answer = self._confirm() if confirm else self._choose(question)
            if answer.action == "print" and question.comment:
                answer = Answer(answer.action, answer.account, answer.pin, self._read(COMMENT))
            if self._post(question, answer):
                return

    def _read(self, prompt: str, *, secret: bool = False) -> str:
        return self._lines.ask(prompt, secret=secret, cancel=self._cancel).strip()

    def _confirm(self) -> Answer:
        while True:
            reply = self._read(CONFIRM).lower()
            if reply in ("y", "yes"):
                return Answer("print")
            if reply in ("n", "no"):
                return Answer("cancel")
            self._out.line("Please answer y or n.")

    def _choose(self, question: Question) -> Answer:
        numbered = self._numbered(question)
        for number, account in numbered.items():
            label = account_label(account, self._state.balance_text(), question.currency)
            self._out.line(f"{number}) {label}")
        self._out.line("c) Cancel the job")
        while True:
            reply = self._read(ACCOUNT).lower()
            if reply in ("c", "cancel"):
                return Answer("cancel")
            chosen = numbered.get(reply)
            if chosen is not None:
                pin = self._read(PIN, secret=True) if chosen.needs_pin else ""
                return Answer("print", chosen.name, pin)
            self._out.line(f"Please type one of: {', '.join(numbered)}, c.")

    @staticmethod
    def _numbered(question: Question) -> dict[str, Account]:
        first = 0 if question.allow_personal else 1
        return {str(n): account for n, account in enumerate(question.choices(), start=first)}

    def _post(self, question: Question, answer: Answer) -> bool:
        """Send ``answer``; whether the question is done with (False: ask again)."""
        if self._cancel.is_set():
            raise Cancelled
        self._mine.add(question.job)
        try:
            outcome = self._api.answer(question.job, answer)
        except ApiError as error:
            self._out.line(error.detail)
            if error.status in (0, 422):
                self._mine.discard(question.job)
                return False
            return True
        self._out.line(f"{question.document_name}: {outcome or 'answered'}")
        return True

    def _log_in_again(self) -> bool:
        self._out.line("The server refused this computer's token: log in again.")
        saved = ask_login(
            self._out,
            self._lines,
            self._directory,
            self._saved.server,
            self._saved.username,
            transport=self._transport,
        )
        if saved is None:
            return False
        self._saved = saved
        self._api.close()
        self._api = ClientApi(saved.server, saved.token, transport=self._transport)
        self._reader = self._new_reader(self._reader.last_id)
        self._reader.start()
        return True
