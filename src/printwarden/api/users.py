"""Users, groups, the directory and a user's own things (``/users``, ``/groups``, ``/me``)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from printwarden.api.common import Model, Name, NonNegativeCents, Text, UtcDatetime

MailAddress = Annotated[str, StringConstraints(max_length=256, pattern=r"^[^@\s]+@[^@\s]+$")]


class UserFields(Model):
    full_name: Text | None = None
    email: Text | None = None
    groups: list[Name] | None = None
    cards: list[Annotated[str, StringConstraints(min_length=1, max_length=128)]] | None = None
    mail_addresses: Annotated[list[MailAddress], Field(max_length=20)] | None = Field(
        default=None,
        description="Addresses besides email whose mail to Email to Print is this user's",
    )
    identity_number: Annotated[str, StringConstraints(max_length=128)] | None = None
    pin: Annotated[str, StringConstraints(pattern=r"^\d{0,32}$")] | None = None
    password: Annotated[str, StringConstraints(max_length=1024)] | None = None
    restricted: bool | None = None
    credit_limit: NonNegativeCents | None = None
    enabled: bool | None = None
    is_admin: bool | None = None


class UserIn(UserFields):
    username: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^[^\s/\x00-\x1f\x7f]{1,128}$")
    ]


class UserOut(Model):
    id: int
    username: str
    full_name: str
    email: str
    groups: list[str]
    card_count: int
    has_pin: bool
    has_password: bool
    is_admin: bool
    enabled: bool
    source: str
    restricted: bool
    credit_limit: int
    balance: int
    account_id: int
    change_seq: int


class GroupIn(Model):
    name: Name


class GroupOut(Model):
    name: str
    members: int
    source: str


class ImportReport(Model):
    created: int
    updated: int


class SyncReportOut(Model):
    created: int
    updated: int
    unchanged: int
    disabled: int


class MySummaryOut(Model):
    username: str
    full_name: str
    balance: int
    restricted: bool
    held_jobs: int


class PrintTokenIn(Model):
    label: Annotated[str, StringConstraints(max_length=128)] = ""


class PrintTokenOut(Model):
    """A print URL (``/ipp/print/<queue>/u/<token>`` on a token-url queue); ``token`` is
    only in the answer that made it."""

    id: int
    label: str
    created_at: UtcDatetime
    last_used_at: UtcDatetime | None = None
    token: str | None = None
