"""Field types and the base model every API body shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from printwarden.domain.ids import normalize_id

T = TypeVar("T")

NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128, pattern=NO_CONTROL)
]

Text = Annotated[str, StringConstraints(max_length=256, pattern=NO_CONTROL)]

Cents = Annotated[int, Field(strict=True, ge=-(10**12), le=10**12)]

PositiveCents = Annotated[int, Field(strict=True, gt=0, le=10**12)]

NonNegativeCents = Annotated[int, Field(strict=True, ge=0, le=10**12)]

Count = Annotated[int, Field(strict=True, ge=0, le=1_000_000)]

# A document's size in bytes (a provider takes up to its max_document_bytes, 1 GiB by default).
Bytes = Annotated[int, Field(strict=True, ge=0, le=2**50)]

BasisPoints = Annotated[int, Field(strict=True, ge=-10_000, le=100_000)]


def _in_utc(moment: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; they are UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# Every timestamp an answer carries: in UTC with its offset ("…Z"), on every database.
UtcDatetime = Annotated[datetime, AfterValidator(_in_utc)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TxnIdMixin(Model):
    txn_id: str = Field(
        description="Caller-supplied UUID (v7 preferred) or ULID; a replay is a no-op"
    )

    @field_validator("txn_id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return normalize_id(value)


class Page(Model, Generic[T]):
    items: list[T]
    total: int
    offset: int
    limit: int


SiteRef = Annotated[str, StringConstraints(max_length=64, pattern=r"^[a-z0-9-]*$")]
