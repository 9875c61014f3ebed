"""Logins, lockouts and component tokens (``/auth…``, ``/lockouts``, ``/tokens``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from printwarden.api.common import Model, Name, UtcDatetime


class LoginIn(Model):
    username: Name
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    client: (
        Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[\w.@ -]+$")]
        | None
    ) = Field(
        default=None,
        description="A User Client's computer name: the token is then a client token (role "
        "client), long-lived, reaching only the client's routes, revocable",
    )


class LoginOut(Model):
    token: str
    role: str
    expires_at: UtcDatetime


class LockoutOut(Model):
    """A key with failed logins counted against it (by every App Server process; a Site
    Server counts its own)."""

    key: str = Field(description="user:NAME, identity:HASH, account:NAME (a shared account's "
                     "PIN), address:IP, device:NAME, person:NAME or token:ID")  # fmt: skip
    kind: Literal["account", "client"]
    user: str | None = Field(description="The user an account key names, when known")
    failures: int
    locked: bool = Field(description="Locked out (not just backing off) until retry_after")
    retry_after: int = Field(description="Seconds until the next attempt is let through")
    last_failure_at: UtcDatetime


class LockoutsOut(Model):
    items: list[LockoutOut]
    total: int = Field(description="Keys with failures, listed or not")


class TokenIn(Model):
    """A component token, bound at creation to what it acts as: a provider token to the
    provider ``name`` (scope ``provider:<name>``, optionally to a ``site``), a device token to
    an existing device (scope ``device:<name>``), a site token to its site (scope)."""

    role: Literal["site", "provider", "device"]
    name: Annotated[str, StringConstraints(max_length=128)] = ""  # the column holds 128
    scope: Annotated[str, StringConstraints(max_length=128)] = ""
    site: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        default=None, description="For a provider token: it may serve only this site's printers"
    )


class TokenOut(Model):
    id: int
    role: str
    name: str
    scope: str
    site: str | None = None
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None = None
    token: str | None = Field(default=None, description="Shown once, when the token is created")


class DeviceLoginIn(Model):
    method: Literal["card", "identity", "password"]
    card_number: Annotated[str, StringConstraints(max_length=128)] = ""
    identity_number: Annotated[str, StringConstraints(max_length=128)] = ""
    pin: Annotated[str, StringConstraints(max_length=32)] = ""
    username: Annotated[str, StringConstraints(max_length=128)] = ""
    password: Annotated[str, StringConstraints(max_length=1024)] = ""
    client_address: Annotated[str, StringConstraints(max_length=64)] = Field(
        default="",
        description="A provider or site: the address of the client it asks for (an IPP "
        "client's), so failures count against that client; ignored from devices",
    )


class DeviceLoginOut(Model):
    authenticated: bool
    username: str | None = None
    admin: bool | None = Field(
        default=None, description="The person is an administrator (e.g. over IPP: sees every job)"
    )
    full_name: str | None = None
    balance: int | None = None
    restricted: bool | None = None
    shared_accounts: list[str] = Field(default_factory=list)
