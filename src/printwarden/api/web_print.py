"""Web Print and Email to Print (``/me/web-print…``, ``/providers/{name}/submissions…``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from printwarden.api.common import Bytes, Count, Model, Name, Text, UtcDatetime

SubmissionId = Annotated[str, StringConstraints(min_length=1, max_length=40)]


class WebPrintOut(Model):
    """One document a person handed in, and where it is now."""

    id: SubmissionId = Field(description="also the print job's id once its provider has it")
    document_name: Text
    source: Literal["web", "email"]
    provider: Name
    queue: Name
    queue_kind: Literal["hold", "findme", "direct"]
    printer: str
    stage: Literal["rendering", "ready", "submitted", "accepted", "failed", "refused", "canceled"]
    state: str = Field(description='as the portal shows it: "Rendering", "Held in a queue" …')
    detail: str
    held_status: str = Field(default="", description="the held job's status, once reported")
    pages: Count | None = None
    colour_pages: Count = 0
    paper_size: str = ""
    copies: int = 1
    grayscale: bool = False
    duplex: bool = False
    page_ranges: str = ""
    cost: int | None = Field(
        default=None, description="minor units: the price at the queue's printer (Find-Me: None)"
    )
    created_at: UtcDatetime


class WebPrintQueueOut(Model):
    """A queue Web Print can send to from this server."""

    key: str = Field(description='"provider/queue", as the upload\'s ``queue`` field takes it')
    provider: Name
    queue: Name
    kind: Literal["hold", "findme", "direct"]
    printer: str


class ProviderSubmission(Model):
    """A rendered document the provider is to spool as a job of ``queue`` for ``username``."""

    id: SubmissionId
    queue: Name
    username: Name
    document_name: Text
    size: Bytes
    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    copies: Annotated[int, Field(ge=1, le=999)] = 1
    grayscale: bool = False
    duplex: bool = False


class ProviderSubmissionsOut(Model):
    submissions: list[ProviderSubmission]


class SubmissionResult(Model):
    """What the provider did with one submission."""

    id: SubmissionId
    outcome: Literal["accepted", "refused"]
    provider_job_id: Annotated[int, Field(ge=1)] | None = None
    detail: Text = ""


class SubmissionResultsIn(Model):
    results: Annotated[list[SubmissionResult], Field(max_length=500)]


class SubmissionResultsOut(Model):
    applied: int
