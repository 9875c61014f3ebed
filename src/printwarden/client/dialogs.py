"""The window's dialogs: logging in, and a print question (confirm the cost, or choose the
account). Widgets have stable names (``print``, ``cancel``, ``cost``, ``pin``…) so that
tests and accessibility tools can find them."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable
from typing import Literal

from printwarden.client.api import Answer
from printwarden.client.model import money
from printwarden.client.wire import Account, Question
from printwarden.client.wording import account_label, if_unanswered, time_left

Font = tuple[str, int, str]
PAD = 6
TITLE: Font = ("Helvetica", 12, "bold")  # Tk maps Helvetica to a sans-serif font everywhere
BIG: Font = ("Helvetica", 20, "bold")
ERROR = "#b00020"


def grid_label(
    parent: tk.Misc, name: str, text: str, row: int, *, font: Font | None = None, fg: str = ""
) -> tk.Label:
    """A label named ``name`` on its own row of ``parent``'s grid."""
    label = tk.Label(parent, name=name, text=text, anchor="w", justify="left")
    if font:
        label.configure(font=font)
    if fg:
        label.configure(fg=fg)
    label.grid(row=row, column=0, columnspan=2, sticky="we", padx=PAD, pady=2)
    return label


def bring_forward(window: tk.Toplevel) -> None:
    """Show ``window`` above the others, with the keyboard's focus."""
    window.deiconify()
    window.lift()
    window.attributes("-topmost", True)
    window.after(500, lambda: window.attributes("-topmost", False))
    window.focus_force()


class LoginDialog:
    """Server, username and password; ``on_submit(server, username, password)`` is called
    with what was typed, and :meth:`failed` shows why it did not work."""

    def __init__(
        self,
        master: tk.Misc,
        server: str,
        username: str,
        on_submit: Callable[[str, str, str], None],
        on_quit: Callable[[], None],
        note: str = "",
    ) -> None:
        self.window = tk.Toplevel(master, name="login")
        self.window.title("printwarden: log in")
        self.window.protocol("WM_DELETE_WINDOW", on_quit)
        self._on_submit = on_submit
        grid_label(self.window, "note", note or "Log in to see your balance and jobs.", 0)
        self._server = self._field("server", "Server", server, 1)
        self._username = self._field("username", "Username", username, 2)
        self._password = self._field("password", "Password", "", 3, show="*")
        self._error = grid_label(self.window, "error", "", 4, fg=ERROR)
        self._button = tk.Button(self.window, name="login", text="Log in", command=self._submit)
        self._button.grid(row=5, column=0, padx=PAD, pady=PAD, sticky="e")
        quit_button = tk.Button(self.window, name="quit", text="Quit", command=on_quit)
        quit_button.grid(row=5, column=1, padx=PAD, pady=PAD, sticky="w")
        self.window.bind("<Return>", lambda _: self._submit())
        first = self._password if server and username else self._server
        first.focus_set()
        bring_forward(self.window)

    def _field(self, name: str, text: str, value: str, row: int, show: str = "") -> tk.Entry:
        tk.Label(self.window, text=text).grid(row=row, column=0, sticky="e", padx=PAD)
        entry = tk.Entry(self.window, name=name, width=36, show=show)
        entry.insert(0, value)
        entry.grid(row=row, column=1, sticky="we", padx=PAD, pady=2)
        return entry

    def _submit(self) -> None:
        if str(self._button["state"]) == tk.DISABLED:
            return
        self._button.configure(state=tk.DISABLED)
        self._error.configure(text="Logging in…")
        self._on_submit(self._server.get(), self._username.get(), self._password.get())

    def failed(self, message: str) -> None:
        """Logging in did not work: say why and let the user try again."""
        self._error.configure(text=message)
        self._button.configure(state=tk.NORMAL)
        self._password.delete(0, tk.END)
        self._password.focus_set()

    def close(self) -> None:
        """Remove the dialog."""
        self.window.destroy()


class QuestionDialog:
    """One question; ``on_answer`` gets the user's :class:`Answer`. The dialog stays until
    :meth:`close` (an answer may fail: :meth:`failed` shows why)."""

    def __init__(
        self,
        master: tk.Misc,
        question: Question,
        personal_balance: str,
        on_answer: Callable[[Answer], None],
    ) -> None:
        self.question = question
        self._on_answer = on_answer
        self.window = tk.Toplevel(master, name="question")
        self.window.title("printwarden: print question")
        self.window.protocol("WM_DELETE_WINDOW", self.window.iconify)
        self._choices = question.choices() if question.kind == "account" else ()
        # Not "": the buttons' tristate value, which shows every one of them half-set.
        choice = tk.StringVar(self.window, value="none")
        self._choice: tk.StringVar | None = choice
        row = self._facts()
        row = self._accounts(row, personal_balance, choice)
        self._pin = self._entry("pin", "PIN", row, show="*")
        self._pin.configure(state=tk.DISABLED)
        self._comment = self._entry("comment", "Comment", row + 1) if question.comment else None
        self._error = grid_label(self.window, "error", "", row + 2, fg=ERROR)
        self._buttons(row + 3)
        self._tick()
        bring_forward(self.window)

    def _facts(self) -> int:
        q = self.question
        kind = "Choose the account" if q.kind == "account" else "Print this document?"
        grid_label(self.window, "kind", kind, 0, font=TITLE)
        grid_label(self.window, "document", f"Document: {q.document_name}", 1)
        queue = f" (queue {q.queue})" if q.queue else ""
        grid_label(self.window, "printer", f"Printer: {q.printer}{queue}", 2)
        pages = "?" if q.pages is None else str(q.pages)
        grid_label(self.window, "pages", f"Pages: {pages}, copies: {q.copies}", 3)
        grid_label(self.window, "colour", f"Colour pages: {q.colour_pages}", 4)
        grid_label(self.window, "cost", money(q.cost, q.currency), 5, font=BIG)
        self._deadline = grid_label(self.window, "deadline", if_unanswered(q), 6)
        return 7

    def _accounts(self, row: int, personal_balance: str, choice: tk.StringVar) -> int:
        if not self._choices:
            return row
        frame = tk.LabelFrame(self.window, name="accounts", text="Account")
        frame.grid(row=row, column=0, columnspan=2, sticky="we", padx=PAD, pady=PAD)
        for index, account in enumerate(self._choices):
            label = account_label(account, personal_balance, self.question.currency)
            button = tk.Radiobutton(
                frame,
                name=f"account{index}",
                text=label,
                value=str(index),
                variable=choice,
                command=self._chosen,
                anchor="w",
            )
            button.pack(fill="x")
        return row + 1

    def _entry(self, name: str, text: str, row: int, show: str = "") -> tk.Entry:
        tk.Label(self.window, text=text).grid(row=row, column=0, sticky="e", padx=PAD)
        entry = tk.Entry(self.window, name=name, width=30, show=show)
        entry.grid(row=row, column=1, sticky="we", padx=PAD, pady=2)
        return entry

    def _buttons(self, row: int) -> None:
        self._print = tk.Button(self.window, name="print", text="Print", command=self._print_it)
        self._cancel = tk.Button(self.window, name="cancel", text="Cancel", command=self._cancel_it)
        self._print.grid(row=row, column=0, padx=PAD, pady=PAD, sticky="e")
        self._cancel.grid(row=row, column=1, padx=PAD, pady=PAD, sticky="w")

    def chosen(self) -> Account | None:
        """The account picked in the list (None before a choice, or for a confirmation)."""
        value = self._choice.get() if self._choice is not None else ""
        return self._choices[int(value)] if value.isdigit() else None

    def _chosen(self) -> None:
        account = self.chosen()
        needs_pin = account is not None and account.needs_pin
        self._pin.configure(state=tk.NORMAL if needs_pin else tk.DISABLED)
        if needs_pin:
            self._pin.focus_set()

    def _print_it(self) -> None:
        account = self.chosen()
        if self._choices and account is None:
            self._error.configure(text="Choose an account.")
            return
        pin = self._pin.get() if account is not None and account.needs_pin else ""
        comment = self._comment.get() if self._comment is not None else ""
        self._send(Answer("print", account.name if account else "", pin, comment))

    def _cancel_it(self) -> None:
        self._send(Answer("cancel"))

    def _send(self, answer: Answer) -> None:
        self._set_buttons(tk.DISABLED)
        self._error.configure(text="Sending…")
        self._on_answer(answer)

    def _set_buttons(self, state: Literal["normal", "disabled"]) -> None:
        self._print.configure(state=state)
        self._cancel.configure(state=state)

    def failed(self, detail: str) -> None:
        """The answer was refused (a wrong PIN…): say why, let the user try again."""
        self._error.configure(text=detail)
        self._set_buttons(tk.NORMAL)
        if self._pin["state"] == tk.NORMAL:
            self._pin.delete(0, tk.END)

    def _tick(self) -> None:
        deadline = self.question.answer_by
        if deadline is None or not self.window.winfo_exists():
            return
        left = time_left(deadline)
        text = if_unanswered(self.question) + (f" ({left})" if left else "")
        self._deadline.configure(text=text)
        self.window.after(1000, self._tick)

    def close(self) -> None:
        """Remove the dialog."""
        self.window.destroy()
        # Freed now, on Tk's thread: a Tk variable freed later by a garbage collection on
        # another thread raises "main thread is not in main loop".
        self._choice = None
