"""What the server sends, as the client reads it: events, questions and their accounts.

Reading is lenient: a missing or mistyped field takes a neutral default, so that a newer
server with more (or fewer) fields never stops the client."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

Data = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Event:
    """One event of the user's stream: its opaque ``id``, its ``kind`` and its JSON ``data``."""

    id: str
    kind: str
    data: Data


@dataclass(frozen=True, slots=True)
class Account:
    """An account a question offers: a shared account's ``name`` ("" is personal)."""

    name: str
    needs_pin: bool = False
    balance: int | None = None


PERSONAL = Account(name="")


@dataclass(frozen=True, slots=True)
class Question:
    """A job that waits for its owner: confirm the cost (``confirm``) or choose an account
    (``account``) before ``answer_by``; then the printer's ``on_timeout`` policy applies."""

    job: str
    kind: str
    document_name: str
    printer: str
    queue: str
    pages: int | None
    colour_pages: int
    copies: int
    cost: int
    currency: str
    accounts: tuple[Account, ...]
    allow_personal: bool
    comment: bool
    answer_by: datetime | None
    on_timeout: str

    def choices(self) -> tuple[Account, ...]:
        """The accounts to offer, in order: personal first when allowed, then shared ones."""
        personal = (PERSONAL,) if self.allow_personal else ()
        return personal + self.accounts


def text(data: Data, key: str, default: str = "") -> str:
    """``data[key]`` as a string (``default`` when missing or null)."""
    value = data.get(key)
    if value is None or isinstance(value, dict | list):
        return default
    return str(value)


def number(data: Data, key: str, default: int = 0) -> int:
    """``data[key]`` as an integer (``default`` when missing or not a number)."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return int(value)


def flag(data: Data, key: str) -> bool:
    """``data[key]`` as a boolean (false when missing)."""
    return data.get(key) is True


def objects(data: Data, key: str) -> list[Data]:
    """The JSON objects in the list ``data[key]`` (others skipped)."""
    value = data.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def instant(value: str) -> datetime | None:
    """An ISO-8601 timestamp (``Z`` allowed), or None when it is not one."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None


def account(data: Data) -> Account:
    """An account of a question."""
    balance = data.get("balance")
    known = isinstance(balance, int) and not isinstance(balance, bool)
    return Account(
        name=text(data, "name"),
        needs_pin=flag(data, "needs_pin"),
        balance=balance if known else None,
    )


def question(data: Data) -> Question | None:
    """A question, or None when it names no job."""
    job = text(data, "job")
    if not job:
        return None
    return Question(
        job=job,
        kind=text(data, "kind", "confirm"),
        document_name=text(data, "document_name"),
        printer=text(data, "printer"),
        queue=text(data, "queue"),
        pages=number(data, "pages") if data.get("pages") is not None else None,
        colour_pages=number(data, "colour_pages"),
        copies=number(data, "copies", 1),
        cost=number(data, "cost"),
        currency=text(data, "currency"),
        accounts=tuple(account(item) for item in objects(data, "accounts") if item.get("name")),
        allow_personal=flag(data, "allow_personal"),
        comment=flag(data, "comment"),
        answer_by=instant(text(data, "answer_by")),
        on_timeout=text(data, "on_timeout"),
    )
