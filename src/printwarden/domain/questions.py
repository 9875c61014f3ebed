"""Questions a printer asks before a job prints: "confirm the cost" and "which account?".

A printer's :class:`ClientRules` say when to ask; a job that needs an answer is held until
its owner answers (in the User Client, the portal or at a device), and after
``timeout_seconds`` without one it follows ``on_timeout``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class Confirm(StrEnum):
    """When to ask the user to confirm a job's cost."""

    NEVER = "never"
    ALWAYS = "always"
    ABOVE = "above"  # above a cost or a page count


class OnTimeout(StrEnum):
    """What happens to a job whose question nobody answered in time."""

    PERSONAL = "personal"  # print it, charged to the personal account
    CANCEL = "cancel"
    HOLD = "hold"  # leave it held: answered at the device or in the portal


class QuestionKind(StrEnum):
    CONFIRM = "confirm"
    ACCOUNT = "account"


class Outcome(StrEnum):
    """How a question ended."""

    PRINTING = "printing"  # released to its printer
    HELD = "held"  # answered; the job waits for release at a printer
    CANCELED = "canceled"
    EXPIRED = "expired"  # the job ended some other way


class Answerer(StrEnum):
    CLIENT = "client"
    PORTAL = "portal"
    DEVICE = "device"
    TIMEOUT = "timeout"


DEFAULT_TIMEOUT_SECONDS = 300
MAX_TIMEOUT_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class ClientRules:
    """A printer's rules for asking its users before printing."""

    confirm: Confirm = Confirm.NEVER
    above_cost: int | None = None  # cents; with ``Confirm.ABOVE``
    above_pages: int | None = None  # printed sheets' faces (pages × copies)
    account_selection: bool = False
    allow_personal: bool = True  # "charge to personal" is one of the choices
    comment: bool = False  # offer a comment field with the account choice
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    on_timeout: OnTimeout = OnTimeout.HOLD

    def __post_init__(self) -> None:
        if not 1 <= self.timeout_seconds <= MAX_TIMEOUT_SECONDS:
            raise ValueError(f"timeout_seconds must be 1 to {MAX_TIMEOUT_SECONDS}")
        for name in ("above_cost", "above_pages"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative")
        if self.confirm is Confirm.ABOVE and self.above_cost is None and self.above_pages is None:
            raise ValueError('confirm "above" needs above_cost or above_pages')

    @property
    def asks(self) -> bool:
        """Whether any job at this printer may be asked about."""
        return self.account_selection or self.confirm is not Confirm.NEVER

    def question(self, cost: int, pages: int | None) -> QuestionKind | None:
        """What to ask about a job of ``cost`` and ``pages`` (None: nothing, print it)."""
        if self.account_selection:
            return QuestionKind.ACCOUNT
        if self.confirm is Confirm.ALWAYS:
            return QuestionKind.CONFIRM
        if self.confirm is Confirm.ABOVE and _above(self, cost, pages):
            return QuestionKind.CONFIRM
        return None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v != getattr(NO_RULES, k)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ClientRules:
        """Rules stored as JSON ({} or None: never ask); ``ValueError`` if they are invalid."""
        if not data:
            return NO_RULES
        values = dict(data)
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown client rule {sorted(unknown)[0]!r}")
        if "confirm" in values:
            values["confirm"] = Confirm(values["confirm"])
        if "on_timeout" in values:
            values["on_timeout"] = OnTimeout(values["on_timeout"])
        return cls(**values)


def _above(rules: ClientRules, cost: int, pages: int | None) -> bool:
    over_cost = rules.above_cost is not None and cost > rules.above_cost
    over_pages = rules.above_pages is not None and pages is not None and pages > rules.above_pages
    return over_cost or over_pages


NO_RULES = ClientRules()

HOLD_REASONS = {
    QuestionKind.CONFIRM: "waiting for you to confirm the cost (User Client, portal or device)",
    QuestionKind.ACCOUNT: "waiting for you to choose an account (User Client, portal or device)",
}


@dataclass(frozen=True, slots=True)
class OpenQuestion:
    """A question asked about a held job, as kept with it."""

    kind: QuestionKind
    cost: int
    asked_at: datetime
    answer_by: datetime
    on_timeout: OnTimeout
    allow_personal: bool = True
    comment: bool = False

    @classmethod
    def ask(cls, rules: ClientRules, kind: QuestionKind, cost: int, now: datetime) -> OpenQuestion:
        return cls(
            kind=kind,
            cost=cost,
            asked_at=now,
            answer_by=now + timedelta(seconds=rules.timeout_seconds),
            on_timeout=rules.on_timeout,
            allow_personal=rules.allow_personal or kind is QuestionKind.CONFIRM,
            comment=rules.comment and kind is QuestionKind.ACCOUNT,
        )

    def overdue(self, now: datetime) -> bool:
        return now >= self.answer_by

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "cost": self.cost,
            "asked_at": self.asked_at.isoformat(),
            "answer_by": self.answer_by.isoformat(),
            "on_timeout": self.on_timeout.value,
            "allow_personal": self.allow_personal,
            "comment": self.comment,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OpenQuestion | None:
        """The question kept as ``data`` (None: {} — no open question)."""
        if not data:
            return None
        return cls(
            kind=QuestionKind(data["kind"]),
            cost=int(data["cost"]),
            asked_at=datetime.fromisoformat(data["asked_at"]),
            answer_by=datetime.fromisoformat(data["answer_by"]),
            on_timeout=OnTimeout(data["on_timeout"]),
            allow_personal=bool(data.get("allow_personal", True)),
            comment=bool(data.get("comment", False)),
        )


def timeout_action(question: OpenQuestion, direct: bool) -> tuple[str, Outcome]:
    """What a timed-out question does: ``("release", …)``, ``("cancel", …)`` or
    ``("keep", HELD)``. A job on a hold queue keeps waiting for release at a printer: a
    timeout never prints it without its owner there."""
    if question.on_timeout is OnTimeout.CANCEL:
        return "cancel", Outcome.CANCELED
    if question.on_timeout is OnTimeout.PERSONAL and direct:
        return "release", Outcome.PRINTING
    return "keep", Outcome.HELD
