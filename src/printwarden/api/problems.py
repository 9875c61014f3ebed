"""Errors: RFC 9457 problem documents (``application/problem+json``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_JSON = "application/problem+json"


class ProblemOut(BaseModel):
    """An error: an RFC 9457 problem document (``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(default="about:blank", description="A URI naming the kind of problem")
    title: str
    status: int
    detail: str = Field(default="", description="What went wrong, for people")


class ProblemLocation(BaseModel):
    location: str = Field(description='Where: e.g. "body.entries.3.id" or "query.limit"')
    message: str


class ValidationProblemOut(ProblemOut):
    """A request that failed validation: each error with its location."""

    errors: list[ProblemLocation] = Field(default_factory=list)
