"""Held jobs: providers' reports, release and delegates (``/held-jobs…``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from printwarden.api.common import Bytes, Count, Model, Name, Text, UtcDatetime

HeldStatus = Literal["held", "releasing", "printed", "canceled", "expired", "failed"]

Copies = Annotated[int, Field(strict=True, ge=1, le=999)]


class HeldJobReportIn(Model):
    """A provider's word on one held job: new, still held, or how it ended."""

    job_ref: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    provider_job_id: Annotated[int, Field(ge=1)]
    queue: Name
    queue_kind: Literal["hold", "findme", "direct"]
    username: Name
    printer: Annotated[str, StringConstraints(max_length=128)] = ""
    document_name: Text = ""
    document_format: Annotated[str, StringConstraints(max_length=128)] = ""
    size: Bytes = 0
    pages: Count | None = None
    colour_pages: Count = 0
    copies: Copies = 1
    duplex: bool = False
    paper_size: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "A4"
    submitted_at: datetime
    expires_at: datetime
    status: HeldStatus = "held"
    status_reason: Text = ""
    approval: Literal["", "pending"] = Field(
        default="", description="pending: a filter holds the job until an approver releases it"
    )
    approver_group: Annotated[str, StringConstraints(max_length=128)] = ""


class HeldJobReportsIn(Model):
    provider: Name
    jobs: list[HeldJobReportIn] = Field(max_length=1000)


class HeldJobRejection(Model):
    job_ref: str
    reason: str


class HeldJobReportsOut(Model):
    accepted: int
    rejected: list[HeldJobRejection] = Field(default_factory=list)


class HeldJobOut(Model):
    id: str = Field(description="The job's public id (the provider's job UUID)")
    owner: str
    document_name: str
    queue: str
    queue_kind: str
    provider: str
    printer: str
    pages: int | None
    colour_pages: int
    copies: int
    duplex: bool
    grayscale: bool
    paper_size: str
    document_format: str
    size: int
    submitted_at: UtcDatetime
    expires_at: UtcDatetime
    status: HeldStatus
    status_reason: str
    released_to: str
    approval: str = Field(default="", description="pending / approved, when a filter held it")
    question: str = Field(
        default="",
        description="confirm / account: its printer asks first (releasing it answers: at a "
        "device, choose the account before releasing)",
    )
    cost: int | None = None
    compatible: bool | None = None
    incompatible_reason: str = ""


class HeldJobsOut(Model):
    jobs: list[HeldJobOut]


class HeldJobChangeIn(Model):
    copies: Copies | None = None
    duplex: bool | None = None
    grayscale: bool | None = None


class HeldJobReleaseIn(Model):
    printer: Name
    account: Annotated[str, StringConstraints(max_length=128)] = ""
    account_pin: Annotated[str, StringConstraints(max_length=32)] = ""


class DelegatesIn(Model):
    usernames: list[Name] = Field(max_length=100)


class DelegatesOut(Model):
    usernames: list[str]
    delegated_by: list[str] = Field(description="Users who let you release their jobs")
