"""Questions before printing and the User Client's stream (``/me/questions``, ``/me/events``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from printwarden.api.common import Model, UtcDatetime


class AccountOptionOut(Model):
    name: str
    needs_pin: bool
    balance: int | None = Field(description="Its balance, in minor units")


class QuestionOut(Model):
    """A held job waiting for its owner's answer."""

    job: str = Field(description="The held job's id")
    kind: Literal["confirm", "account"]
    document_name: str
    printer: str
    queue: str
    pages: int | None
    colour_pages: int
    copies: int
    cost: int = Field(description="What it costs, in minor units")
    currency: str
    accounts: list[AccountOptionOut] = Field(description="Shared accounts to choose from")
    allow_personal: bool
    comment: bool = Field(description="A comment may go with the answer")
    answer_by: UtcDatetime
    on_timeout: Literal["personal", "cancel", "hold"]


class AnswerIn(Model):
    action: Literal["print", "cancel"]
    account: Annotated[str, StringConstraints(max_length=128)] = Field(
        "", description='"" for personal, or a shared account you may use'
    )
    pin: Annotated[str, StringConstraints(max_length=64)] = ""
    comment: Annotated[str, StringConstraints(max_length=500)] = ""


class AnswerOut(Model):
    job: str
    outcome: Literal["printing", "held", "canceled"]


class PolledEvent(Model):
    id: str
    event: str
    data: dict[str, Any]


class PolledEventsOut(Model):
    events: list[PolledEvent]
    last_id: str


class ClientTokenOut(Model):
    id: int
    name: str
    created_at: UtcDatetime
    expires_at: UtcDatetime | None


class MessageIn(Model):
    """An administrator's message to users and groups (their User Clients show it)."""

    text: Annotated[str, StringConstraints(min_length=1, max_length=1000)]
    users: list[Annotated[str, StringConstraints(min_length=1, max_length=128)]] = []
    groups: list[Annotated[str, StringConstraints(min_length=1, max_length=128)]] = []


class MessageOut(Model):
    recipients: int
