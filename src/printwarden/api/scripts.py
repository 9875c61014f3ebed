"""Print scripts and their dry runs (``/scripts…``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from printwarden.api.common import Count, Model, Text, UtcDatetime


class ScriptIn(Model):
    source: Annotated[str, StringConstraints(min_length=1, max_length=200_000)]
    enabled: bool = True


class ScriptOut(Model):
    printer: str = Field(description='"" for the global script')
    source: str
    enabled: bool


class ScriptsOut(Model):
    scripts: list[ScriptOut]


class ScriptErrorOut(Model):
    script: str
    printer: str
    job_ref: str
    username: str
    message: str
    at: UtcDatetime


class ScriptErrorsOut(Model):
    errors: list[ScriptErrorOut]


class SampleJobIn(Model):
    """A job to dry-run a script against."""

    pages: Count = 1
    colour_pages: Count = 0
    copies: Annotated[int, Field(strict=True, ge=1, le=10_000)] = 1
    cost: Annotated[int, Field(strict=True, ge=0)] = 0
    document_name: Text = "sample.pdf"
    size: Annotated[int, Field(strict=True, ge=0)] = 0
    duplex: bool = False
    paper_size: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "A4"
    printer: Annotated[str, StringConstraints(max_length=128)] = "printer"
    is_held: bool = False
    username: Annotated[str, StringConstraints(max_length=128)] = "someone"
    account: Annotated[str, StringConstraints(max_length=128)] = ""
    groups: list[Annotated[str, StringConstraints(max_length=128)]] = Field(default_factory=list)
    balance: int = 0
    restricted: bool = False


class ScriptTestIn(Model):
    source: Annotated[str, StringConstraints(min_length=1, max_length=200_000)]
    printer: Annotated[str, StringConstraints(max_length=128)] = Field(
        default="", description='Whose stored properties the dry run reads ("": global)'
    )
    job: SampleJobIn = Field(default_factory=SampleJobIn)


class ScriptTestOut(Model):
    """What the script would do to the sample job (nothing is stored)."""

    error: str
    cancel: bool
    cancel_message: str
    cost: int | None
    grayscale: bool
    duplex: bool
    charge_account: str
    hold: bool
    comment: str
    logs: list[list[str]]
    properties_set: dict[str, str]
