"""The window (Tk): the balance at the top, the recent jobs and notices below, and a dialog
per print question, one at a time in the order they came.

Tk runs in the main thread only: the event reader and every network call run in other
threads and hand their results over through a queue that the window polls."""

from __future__ import annotations

import queue
import threading
import tkinter as tk
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from printwarden.client.api import Answer, ApiError, ClientApi
from printwarden.client.dialogs import PAD, LoginDialog, QuestionDialog, grid_label
from printwarden.client.events import EventReader, Item, Status
from printwarden.client.model import ClientState, Closed, Notice, money
from printwarden.client.notify import Notifier
from printwarden.client.session import LoginFailed, env_password, log_in, log_out
from printwarden.client.tokenfile import Saved
from printwarden.client.tray import start_tray, stop_tray
from printwarden.client.wire import Event, Question

POLL_MS = 100
RETRY_STATUSES = (0, 422)  # an answer refused for these may be tried again
RELOGIN = "The server refused this computer's token: log in again."


def in_background(work: Callable[[], None]) -> None:
    """Run ``work`` in a daemon thread."""
    threading.Thread(target=work, daemon=True).start()


class Window:
    """The client's window on ``root``."""

    def __init__(
        self,
        root: tk.Tk,
        directory: Path,
        *,
        server: str = "",
        username: str = "",
        poll: bool = False,
        transport: httpx.BaseTransport | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.root = root
        self.state = ClientState()
        self.dialog: QuestionDialog | None = None
        self.login: LoginDialog | None = None
        self._directory = directory
        self._server, self._username = server, username
        self._poll, self._transport = poll, transport
        self._notifier = notifier or Notifier()
        self._calls: queue.Queue[Callable[[], None]] = queue.Queue()
        self._api: ClientApi | None = None
        self._reader: EventReader | None = None
        self._reading = 0  # the current reader's number
        self._waiting: list[str] = []
        self._mine: set[str] = set()
        self._tray: Any | None = None
        self._running = True
        self._build()
        root.protocol("WM_DELETE_WINDOW", self._close)
        root.after(POLL_MS, self._drain)

    def _build(self) -> None:
        self.root.title("printwarden")
        top = tk.Frame(self.root, name="top")
        top.pack(fill="x", padx=PAD, pady=PAD)
        self._balance = grid_label(top, "balance", "Balance: …", 0, font=("Helvetica", 16, "bold"))
        self._low = grid_label(top, "low", "", 1, fg="#b00020")
        self._user = grid_label(top, "user", "", 2)
        self._status = grid_label(top, "status", "Not connected", 3)
        self._notice = grid_label(top, "notice", "", 4)
        self._recent = tk.Listbox(self.root, name="recent", width=70, height=14)
        self._recent.pack(fill="both", expand=True, padx=PAD)
        buttons = tk.Frame(self.root, name="buttons")
        buttons.pack(pady=PAD)
        tk.Button(buttons, name="logout", text="Log out", command=self._log_out).pack(side="left")
        tk.Button(buttons, name="quit", text="Quit", command=self.quit).pack(side="left", padx=PAD)

    # Threads hand work over to Tk's thread.

    def later(self, call: Callable[[], None]) -> None:
        """Run ``call`` in Tk's thread soon (callable from any thread)."""
        self._calls.put(call)

    def _drain(self) -> None:
        try:
            while True:
                try:
                    call = self._calls.get_nowait()
                except queue.Empty:
                    break
                call()
        finally:
            if self._running:
                self.root.after(POLL_MS, self._drain)

    # Starting, logging in and out, quitting.

    def start(self, saved: Saved | None) -> None:
        """Show the user's events (``saved``), or log in first."""
        self._tray = start_tray(lambda: self.later(self._show), lambda: self.later(self.quit))
        password = env_password()
        if saved is not None:
            self._connect(saved)
        elif self._server and self._username and password:
            self._submit_login(self._server, self._username, password)
        else:
            self._ask_login("")

    def _ask_login(self, note: str) -> None:
        if self.login is None:
            login = LoginDialog(
                self.root, self._server, self._username, self._submit_login, self.quit, note
            )
            self.login = login

    def _submit_login(self, server: str, username: str, password: str) -> None:
        self._server, self._username = server, username

        def work() -> None:
            try:
                saved = log_in(
                    server, username, password, self._directory, transport=self._transport
                )
            except LoginFailed as failed:
                self.later(partial(self._login_failed, failed.message))
            else:
                self.later(partial(self._connect, saved))

        in_background(work)

    def _login_failed(self, message: str) -> None:
        if self.login is None:
            self._ask_login(message)
        else:
            self.login.failed(message)

    def _connect(self, saved: Saved) -> None:
        if self.login is not None:
            self.login.close()
            self.login = None
        last_id = self._reader.last_id if self._reader is not None else ""
        self._stop_reading()
        self._server, self._username = saved.server, saved.username
        self._api = ClientApi(saved.server, saved.token, transport=self._transport)
        reader = self._reading
        self._reader = EventReader(
            saved.server,
            saved.token,
            lambda item: self.later(partial(self._on_item, reader, item)),
            last_id=last_id,
            poll=self._poll,
            transport=self._transport,
        )
        self._reader.start()
        self._status.configure(text=f"Connecting to {saved.server}…")

    def _stop_reading(self) -> None:
        """Stop the reader; what it still hands over is ignored."""
        self._reading += 1
        if self._reader is not None:
            self._reader.stop()
        if self._api is not None:
            self._api.close()
        self._api = None

    def _log_out(self) -> None:
        self._stop_reading()
        self._reader = None

        def work() -> None:
            _, message = log_out(self._directory, transport=self._transport)
            self.later(partial(self._logged_out, message))

        in_background(work)

    def _logged_out(self, message: str) -> None:
        self.state = ClientState()
        self._waiting.clear()
        if self.dialog is not None:
            self.dialog.close()
            self.dialog = None
        self._refresh()
        self._ask_login(message)

    def _close(self) -> None:
        if self._tray is not None:
            self.root.withdraw()
        else:
            self.quit()

    def _show(self) -> None:
        self.root.deiconify()
        self.root.lift()

    def quit(self) -> None:
        """Stop reading and close the window."""
        if not self._running:
            return
        self._running = False
        self._stop_reading()
        stop_tray(self._tray)
        if self.dialog is not None:  # before the root: its Tk variable needs a live Tk
            self.dialog.close()
            self.dialog = None
        self.root.destroy()

    # Events.

    def _on_item(self, reader: int, item: Item) -> None:
        if reader != self._reading:
            return  # from a reader stopped since (logged out, or in again)
        if isinstance(item, Status):
            self._on_status(item)
        else:
            self._on_event(item)

    def _on_status(self, status: Status) -> None:
        if status.state == "connected":
            how = " (polling)" if status.mode == "poll" else ""
            self._status.configure(text=f"Connected to {self._server}{how}")
        elif status.state == "waiting":
            retry = f"; retrying in {status.delay:.0f} s" if status.delay else ""
            self._status.configure(text=f"No connection: {status.detail}{retry}")
        elif status.state == "login":
            self._status.configure(text="Not connected")
            self._ask_login(RELOGIN)

    def _on_event(self, event: Event) -> None:
        update = self.state.apply(event)
        for notice in update.notices:
            if notice.kind != "balance":
                self._tell(notice.text)
        for closed in update.closed:
            self._closed(closed)
        self._waiting.extend(question.job for question in update.opened)
        self._refresh()
        self._next_question()

    def _tell(self, text: str) -> None:
        self._notice.configure(text=text)
        self._notifier.notify("printwarden", text)

    def _note(self, text: str, job: str = "") -> None:
        """A notice of the client's own: in the list, and as a notification."""
        self.state.remember(Notice("client", text, job))
        self._tell(text)
        self._refresh()

    def _refresh(self) -> None:
        self._balance.configure(text=f"Balance: {self.state.balance_text()}")
        self._low.configure(text="Low balance" if self.state.low else "")
        self._user.configure(text=self.state.full_name or self.state.username)
        self._recent.delete(0, tk.END)
        for notice in self.state.recent:
            self._recent.insert(tk.END, notice.text)

    # Questions.

    def _closed(self, closed: Closed) -> None:
        if closed.job in self._waiting:
            self._waiting.remove(closed.job)
        if self.dialog is not None and self.dialog.question.job == closed.job:
            self.dialog.close()
            self.dialog = None
        if closed.job in self._mine and closed.by in ("client", ""):
            return
        prefix = "Timed out" if closed.by == "timeout" else "Answered elsewhere"
        self._note(f"{prefix}: {closed.summary()}", closed.job)

    def _next_question(self) -> None:
        while self.dialog is None and self._waiting:
            question = self.state.questions.get(self._waiting.pop(0))
            if question is not None:
                balance = self.state.balance_text()
                answer = partial(self._answer, question)
                self.dialog = QuestionDialog(self.root, question, balance, answer)
                cost = money(question.cost, question.currency)
                self._notifier.notify("printwarden", f"{question.document_name}: {cost}?")

    def _answer(self, question: Question, answer: Answer) -> None:
        api = self._api
        if api is None:
            return
        self._mine.add(question.job)

        def work() -> None:
            try:
                outcome = api.answer(question.job, answer)
            except ApiError as error:
                self.later(partial(self._answer_failed, question, error))
            else:
                self.later(partial(self._answered, question, outcome))

        in_background(work)

    def _answered(self, question: Question, outcome: str) -> None:
        self._close_dialog(question)
        self._note(f"{question.document_name}: {outcome or 'answered'}", question.job)

    def _answer_failed(self, question: Question, error: ApiError) -> None:
        again = error.status in RETRY_STATUSES
        if again:
            self._mine.discard(question.job)
        dialog = self.dialog
        if again and dialog is not None and dialog.question.job == question.job:
            dialog.failed(error.detail)
            return
        self._close_dialog(question)
        self._note(f"{question.document_name}: {error.detail}", question.job)

    def _close_dialog(self, question: Question) -> None:
        if self.dialog is not None and self.dialog.question.job == question.job:
            self.dialog.close()
            self.dialog = None
        self._next_question()


def open_window(
    directory: Path,
    *,
    server: str = "",
    username: str = "",
    poll: bool = False,
    transport: httpx.BaseTransport | None = None,
) -> Window:
    """A window on a new Tk root (tk.TclError when there is no display)."""
    root = tk.Tk(className="printwarden")
    return Window(root, directory, server=server, username=username, poll=poll, transport=transport)


def run_window(window: Window, saved: Saved | None) -> int:
    """Show ``window`` until it is closed."""
    window.start(saved)
    try:
        window.root.mainloop()
    except KeyboardInterrupt:
        window.quit()
    return 0
