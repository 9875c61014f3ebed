"""How both screens word a question: its deadline, what happens without an answer and the
accounts it offers."""

from __future__ import annotations

from datetime import UTC, datetime

from printwarden.client.model import money
from printwarden.client.wire import Account, Question

ON_TIMEOUT = {
    "personal": "the job is printed on your personal account",
    "cancel": "the job is canceled",
    "hold": "the job is held",
}


def if_unanswered(question: Question) -> str:
    """``Answer by 14:05:00, or the job is held.`` (the printer's timeout policy)."""
    then = ON_TIMEOUT.get(question.on_timeout, "the printer's policy applies")
    if question.answer_by is None:
        return f"Without an answer, {then}."
    return f"Answer by {clock(question.answer_by)}, or {then}."


def clock(moment: datetime, now: datetime | None = None) -> str:
    """``14:05:00`` in local time, with the date when it is not today."""
    local = moment.astimezone()
    today = (now or datetime.now(UTC)).astimezone().date()
    return f"{local:%H:%M:%S}" if local.date() == today else f"{local:%Y-%m-%d %H:%M}"


def time_left(moment: datetime, now: datetime | None = None) -> str:
    """``4:05 left`` (minutes and seconds) within the hour before ``moment``, else ""."""
    left = int((moment - (now or datetime.now(UTC))).total_seconds())
    if not 0 <= left < 3600:
        return ""
    return f"{left // 60}:{left % 60:02d} left"


def account_label(account: Account, personal_balance: str, currency: str) -> str:
    """``Personal (balance 12.50 EUR)``, ``Physics (balance 40.00 EUR, PIN)``."""
    if not account.name:
        return f"Personal (balance {personal_balance})"
    notes = []
    if account.balance is not None:
        notes.append(f"balance {money(account.balance, currency)}")
    if account.needs_pin:
        notes.append("PIN")
    return account.name + (f" ({', '.join(notes)})" if notes else "")


def job_lines(question: Question) -> list[str]:
    """The job a question is about, a line per fact."""
    queue = f" (queue {question.queue})" if question.queue else ""
    return [
        f"Document: {question.document_name}",
        f"Printer: {question.printer}{queue}",
        f"Pages: {'?' if question.pages is None else question.pages}, "
        f"colour pages: {question.colour_pages}, "
        f"copies: {question.copies}",
        f"Cost: {money(question.cost, question.currency)}",
    ]
