"""Print jobs: decisions, charges, submitters and history (``/jobs…``)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from printwarden.api.accounts import TransactionOut
from printwarden.api.common import Count, Model, Name, Text, TxnIdMixin, UtcDatetime
from printwarden.domain.ledger import is_valid_origin


class JobUsageIn(Model):
    pages: Count | None = Field(default=None, description="Pages per copy; null if unknown")
    colour_pages: Count = 0
    copies: Annotated[int, Field(strict=True, ge=1, le=10_000)] = 1
    duplex: bool = False
    paper_size: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "A4"


class AccountChoiceIn(Model):
    account: Annotated[str, StringConstraints(max_length=128)] = ""
    account_code: Annotated[str, StringConstraints(max_length=64)] = ""
    account_pin: Annotated[str, StringConstraints(max_length=32)] = ""


PaperName = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class JobDecisionIn(JobUsageIn, AccountChoiceIn):
    username: Name
    printer: Name
    job_ref: Annotated[str, StringConstraints(max_length=80)] = ""
    released: bool = Field(
        default=False, description="A held job its owner released: never held again"
    )
    document_name: Text = ""
    document_format: Annotated[str, StringConstraints(max_length=128)] = ""
    document_hash: Annotated[str, StringConstraints(max_length=64, pattern=r"^[0-9a-f]*$")] = Field(
        default="", description="SHA-256 of the document, for duplicate detection"
    )
    size: Annotated[int, Field(strict=True, ge=0)] = 0
    paper_sizes: Annotated[list[PaperName], Field(max_length=64)] = Field(
        default_factory=list, description="Paper sizes the printer has (for fit-to-paper)"
    )
    default_paper: Annotated[str, StringConstraints(max_length=32)] = "A4"


class ConversionOut(Model):
    """What the provider does to the document before it prints."""

    grayscale: bool = False
    duplex: bool = False
    nup: int = 1
    fit_to: str = ""


class JobDecisionOut(Model):
    verdict: Literal["allow", "deny", "hold"]
    cost: int
    reason: str
    denied_by: Literal["", "credit", "account", "printer", "policy"] = Field(
        default="",
        description="What refused a denied job: not enough credit, the user or account, a "
        "disabled printer, or a limit, filter or print script",
    )
    account_id: int
    account: str
    balance: int
    conversion: ConversionOut = Field(default_factory=ConversionOut)
    steps: list[str] = Field(default_factory=list, description="Why: each filter step")
    cost_override: int | None = Field(
        default=None, description="A print script set the cost: charge this when printed"
    )
    approval: bool = Field(default=False, description="Held until an approver releases it")
    approver_group: str = ""
    charge_account_id: int | None = Field(
        default=None, description="A print script chose the account: charge it when printed"
    )


class JobPrintedIn(TxnIdMixin, JobUsageIn, AccountChoiceIn):
    job_ref: Annotated[str, StringConstraints(min_length=1, max_length=80)]
    username: Name
    printer: Name
    pages: Count  # printed pages must be known
    document_name: Text = ""
    origin: Annotated[str, StringConstraints(max_length=80)] = "app"
    printed_at: datetime | None = None
    cost_override: Annotated[int, Field(strict=True, ge=0)] | None = Field(
        default=None, description="The cost the decision set (a print script's setCost)"
    )
    account_id: Annotated[int, Field(strict=True, ge=1)] | None = Field(
        default=None, description="The account the decision chose (a print script's)"
    )

    @field_validator("origin")
    @classmethod
    def _origin(cls, value: str) -> str:
        if not is_valid_origin(value):
            raise ValueError("origin is 'app' or 'site:<id>'")
        return value


class ReattributeIn(Model):
    username: Name


class ReattributeOut(Model):
    username: str
    jobs: list[str] = Field(description="The job refs moved to the user")
    amount: int = Field(description="Charged to the user, refunded to the stand-in")


class JobPrintedOut(Model):
    job_ref: str
    cost: int
    account_id: int
    balance: int
    transaction: TransactionOut
    duplicate: bool


class RecentJobOut(Model):
    job_ref: str
    printer: str
    document_name: str
    pages: int
    colour_pages: int
    copies: int
    duplex: bool
    paper_size: str
    cost: int
    account: str
    printed_at: UtcDatetime


class SubmitterIn(Model):
    """Who submits a job at a provider: a user name it was given, or a print URL's token."""

    username: Annotated[str, StringConstraints(max_length=128)] = ""
    print_token: Annotated[str, StringConstraints(max_length=128)] = ""


class SubmitterOut(Model):
    accepted: bool
    username: str = ""
    reason: str = ""
    known: bool = Field(
        default=False,
        description="A user (or print URL) the server knows: the answer may be reused; an "
        "unknown user taken offline under the Unauthenticated Users policy is not",
    )
