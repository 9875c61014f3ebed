"""A Site Server's offline journal, uploaded to HQ (``/sites/{name}/journal``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import ConfigDict, Field, TypeAdapter, with_config
from typing_extensions import TypedDict

from printwarden.api.common import Model, UtcDatetime
from printwarden.domain.journal import UPLOAD_LIMIT


@with_config(ConfigDict(extra="forbid"))
class JournalEntry(TypedDict):
    """One offline journal entry as a Site Server uploads it (kinds: service/journal.py).

    A plain dict once validated: an upload holds thousands, and model instances per entry
    cost more than applying them (``id`` is normalized by the route)."""

    id: str
    kind: Literal["printed", "usage", "held", "held-report", "unknown-user", "voucher", "cash"]
    at: NotRequired[datetime | None]
    body: NotRequired[dict[str, Any]]


@with_config(ConfigDict(extra="forbid"))
class JournalUpload(TypedDict):
    entries: Annotated[list[JournalEntry], Field(max_length=UPLOAD_LIMIT)]


JOURNAL_UPLOAD: TypeAdapter[JournalUpload] = TypeAdapter(JournalUpload)


class JournalEntryResult(TypedDict):
    """What became of one uploaded entry."""

    id: str
    kind: str
    status: Annotated[
        Literal["applied", "already-applied", "rejected"],
        Field(description="rejected: it changed nothing, and stays rejected if sent again"),
    ]
    detail: Annotated[str, Field(description="What applying it did, or why it was rejected")]


class JournalRejection(TypedDict):
    """An entry HQ rejected (docs/architecture.md, Journal), and why."""

    id: str
    kind: str
    reason: str


class SiteRejectionOut(Model):
    """A journal entry of a site that HQ rejected, as HQ recorded it."""

    id: str
    kind: str
    reason: str
    rejected_at: UtcDatetime


class JournalOut(Model):
    entries: int
    applied: int = Field(description="Entries taken now (each once), rejected ones included")
    already_applied: int
    amounts: dict[str, int]
    unknown_users: list[str]
    failure_mode_jobs: int
    deficits: list[dict[str, Any]]
    notes: list[str]
    rejected: list[JournalRejection] = Field(
        default_factory=list, description="The entries rejected, with the reason"
    )
    results: list[JournalEntryResult] = Field(
        default_factory=list, description="Each entry's id and outcome, in upload order"
    )
