"""The client's state, built from the event stream alone: balance, the low-balance flag, the
open questions (by job, in arrival order) and the recent jobs and notices. Pure: no I/O."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from printwarden.client.wire import Data, Event, Question, flag, number, objects, question, text

RECENT_LIMIT = 20
OUTCOMES = {"printing": "printing", "held": "held", "canceled": "canceled", "expired": "expired"}
ANSWERED_BY = {
    "client": "answered in another client",
    "portal": "answered in the portal",
    "device": "answered at the printer",
    "timeout": "no answer in time",
}


def money(minor: int, currency: str) -> str:
    """Integer minor units as ``12.50 EUR`` (``-0.30 EUR`` below zero)."""
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(minor), 100)
    return f"{sign}{units}.{cents:02d} {currency}".rstrip()


def pages(count: int) -> str:
    """``1 page``, ``3 pages``."""
    return f"{count} page" if count == 1 else f"{count} pages"


@dataclass(frozen=True, slots=True)
class Notice:
    """Something to tell the user, one line: what happened (``kind``, an event kind) to
    which ``job`` ("" for none)."""

    kind: str
    text: str
    job: str = ""


@dataclass(frozen=True, slots=True)
class Closed:
    """A question that is no longer open: ``outcome`` and ``by`` are "" when it closed while
    the client was away (absent from a later ``hello``)."""

    job: str
    document_name: str
    outcome: str
    by: str

    def summary(self) -> str:
        """``report.pdf: printing (answered in the portal)``."""
        what = OUTCOMES.get(self.outcome, self.outcome or "closed")
        how = ANSWERED_BY.get(self.by, "")
        return f"{self.document_name}: {what}" + (f" ({how})" if how else "")


@dataclass(slots=True)
class Update:
    """What one event changed, for the screens: new notices, questions opened and closed."""

    notices: list[Notice] = field(default_factory=list)
    opened: list[Question] = field(default_factory=list)
    closed: list[Closed] = field(default_factory=list)
    balance_changed: bool = False
    greeted: bool = False


@dataclass(slots=True)
class ClientState:
    """Everything the screens show, kept up to date by :meth:`apply`."""

    username: str = ""
    full_name: str = ""
    balance: int | None = None
    restricted: bool = False
    currency: str = ""
    low: bool = False
    threshold: int | None = None
    questions: dict[str, Question] = field(default_factory=dict)
    recent: deque[Notice] = field(default_factory=lambda: deque(maxlen=RECENT_LIMIT))

    def apply(self, event: Event) -> Update:
        """Take one event into the state; unknown kinds change nothing."""
        handler = _HANDLERS.get(event.kind)
        update = Update()
        if handler is not None:
            handler(self, event.data, update)
        for notice in update.notices:
            if notice.kind != "balance":
                self.recent.appendleft(notice)
        return update

    def remember(self, notice: Notice) -> None:
        """Add a notice of the client's own (an answer's outcome) to the recent ones."""
        self.recent.appendleft(notice)

    def balance_text(self) -> str:
        """``12.50 EUR``, or ``…`` before the first ``hello``."""
        return "…" if self.balance is None else money(self.balance, self.currency)

    def _set_balance(self, data: Data, update: Update) -> None:
        self.currency = text(data, "currency", self.currency)
        self.restricted = flag(data, "restricted")
        balance = number(data, "balance")
        if balance != self.balance:
            self.balance = balance
            update.balance_changed = True
            update.notices.append(Notice("balance", f"Balance: {money(balance, self.currency)}"))
        if self.threshold is not None and balance >= self.threshold:
            self.low = False

    def _hello(self, data: Data, update: Update) -> None:
        update.greeted = True
        self.username = text(data, "username")
        self.full_name = text(data, "full_name")
        first = self.balance is None
        self._set_balance(data, update)
        was_low, self.low = self.low, flag(data, "low_balance")
        if self.low and not was_low:
            low = f"Low balance: {self.balance_text()}"
            update.notices.append(Notice("balance.low", low))
        self._reconcile(data, update)
        if first:
            self._seed_recent(objects(data, "recent"))

    def _reconcile(self, data: Data, update: Update) -> None:
        """A ``hello``'s questions are the open ones: others closed while we were away."""
        listed = [q for q in map(question, objects(data, "questions")) if q is not None]
        now = {q.job for q in listed}
        for job in [job for job in self.questions if job not in now]:
            gone = self.questions.pop(job)
            update.closed.append(Closed(job, gone.document_name, "", ""))
        for item in listed:
            if item.job not in self.questions:
                update.opened.append(item)
            self.questions[item.job] = item

    def _seed_recent(self, jobs: list[Data]) -> None:
        for job in sorted(jobs, key=lambda item: text(item, "printed_at")):
            line = printed_line(job, self.currency, self.username)
            self.recent.appendleft(Notice("job.printed", line, text(job, "job")))

    def _balance(self, data: Data, update: Update) -> None:
        self._set_balance(data, update)

    def _balance_low(self, data: Data, update: Update) -> None:
        self.currency = text(data, "currency", self.currency)
        self.balance = number(data, "balance")
        self.threshold = number(data, "threshold")
        self.low = True
        update.balance_changed = True
        line = f"Low balance: {money(self.balance, self.currency)}"
        line += f" (below {money(self.threshold, self.currency)})"
        update.notices.append(Notice("balance.low", line))

    def _question(self, data: Data, update: Update) -> None:
        item = question(data)
        if item is None:
            return
        if item.job not in self.questions:
            update.opened.append(item)
        self.questions[item.job] = item

    def _question_closed(self, data: Data, update: Update) -> None:
        job = text(data, "job")
        gone = self.questions.pop(job, None)
        name = gone.document_name if gone is not None else f"job {job}"
        update.closed.append(Closed(job, name, text(data, "outcome"), text(data, "by")))

    def _job_denied(self, data: Data, update: Update) -> None:
        line = f"Denied: {text(data, 'document_name')}: {text(data, 'reason')}"
        update.notices.append(Notice("job.denied", line, text(data, "job")))

    def _job_held(self, data: Data, update: Update) -> None:
        line = f"Held: {text(data, 'document_name')} on {text(data, 'printer')}"
        line += _reason(data)
        update.notices.append(Notice("job.held", line, text(data, "job")))

    def _job_printed(self, data: Data, update: Update) -> None:
        line = printed_line(data, text(data, "currency", self.currency), self.username)
        update.notices.append(Notice("job.printed", line, text(data, "job")))

    def _job_canceled(self, data: Data, update: Update) -> None:
        line = f"Canceled: {text(data, 'document_name')}" + _reason(data)
        update.notices.append(Notice("job.canceled", line, text(data, "job")))

    def _message(self, data: Data, update: Update) -> None:
        sender = text(data, "from") or "administrator"
        update.notices.append(Notice("message", f"Message from {sender}: {text(data, 'text')}"))


def printed_line(data: Data, currency: str, username: str = "") -> str:
    """``Printed: report.pdf on lab-1, 3 pages, 0.30 EUR``, and the account's name when it is
    a shared one (not "", "personal" or the user's own name)."""
    line = f"Printed: {text(data, 'document_name')} on {text(data, 'printer')}, "
    line += f"{pages(number(data, 'pages'))}, {money(number(data, 'cost'), currency)}"
    account = text(data, "account")
    personal = account.lower() in ("", "personal") or account == username
    return line + ("" if personal else f" (account {account})")


def _reason(data: Data) -> str:
    reason = text(data, "reason")
    return f": {reason}" if reason else ""


_HANDLERS = {
    "hello": ClientState._hello,
    "balance": ClientState._balance,
    "balance.low": ClientState._balance_low,
    "question": ClientState._question,
    "question.closed": ClientState._question_closed,
    "job.denied": ClientState._job_denied,
    "job.held": ClientState._job_held,
    "job.printed": ClientState._job_printed,
    "job.canceled": ClientState._job_canceled,
    "message": ClientState._message,
}
