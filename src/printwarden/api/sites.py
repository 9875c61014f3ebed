"""Sites: status, keys, changes and offline policies (``/sites…``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from printwarden.api.common import Count, Model, NonNegativeCents, Text, UtcDatetime

SiteName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")]


class SiteIn(Model):
    name: SiteName
    description: Text = ""


class SiteOut(Model):
    name: str
    description: str
    mode: str = Field(
        description="online, offline or reconciling as the site last said; offline when it "
        "has not called in for 3 s"
    )
    reachable: bool = Field(description="the site called in within the last 3 s")
    forced_offline: bool
    last_contact: UtcDatetime | None
    journal_backlog: int
    outages: list[dict[str, Any]]
    last_report: dict[str, Any] | None
    key_generation: int = Field(
        description="the site's card key generation; raised by a re-key (POST /sites/{name}/rekey)"
    )
    url: str = Field(
        default="",
        description="where HQ reaches the site's Site Server, as the site last said: HQ rings "
        "the site's providers only through it",
    )


class SiteKeysOut(Model):
    """What a Site Server gets from HQ to work offline: never HQ's secret."""

    site: str
    key_generation: int = Field(description="changes page by page tell which one they used")
    card_key: str = Field(description="hex: the site's own key for card and identity numbers")
    hq_cookie_key: str = Field(
        description="hex: HQ's Ed25519 public key, to check web sessions HQ signed"
    )
    voucher_key: str = Field(default="", description="hex: the key top-up card codes hash under")


class SiteForceIn(Model):
    offline: bool


class SiteStatusIn(Model):
    site: Annotated[str, StringConstraints(max_length=64)] = ""
    url: Annotated[str, StringConstraints(max_length=512, pattern=r"^(https?://[^\s]+)?$")] = Field(
        default="", description="where HQ reaches this Site Server (its providers' relay)"
    )
    mode: Literal["online", "offline", "reconciling"]
    mode_changes: Count = 0
    journal_backlog: Count = 0
    replica_seq: Count = 0
    outages: list[dict[str, Any]] = Field(default_factory=list, max_length=100)
    last_report: dict[str, Any] | None = None
    beacon: bool = Field(default=False, description="whether the site's beacon holds")


class SiteStatusOut(Model):
    forced_offline: bool
    beacon_port: int | None = Field(
        default=None, description="the App Server's beacon port, if it has one"
    )
    beacon_ticket: str | None = Field(
        default=None, description="the site's leave to hold a beacon there (for an hour)"
    )


class ChangesOut(Model):
    schema_revision: str
    key_generation: int = Field(description="the site card key the entities' hashes are under")
    upto: int
    more: bool
    entities: list[dict[str, Any]]
    forced_offline: bool = Field(False, description="an administrator forces the site offline")


class OfflinePoliciesIO(Model):
    credit: Literal["last-known-balance", "allow-overdraw", "allow-all", "deny-restricted"] = (
        "last-known-balance"
    )
    overdraw: NonNegativeCents = 0
    offline_account: Annotated[str, StringConstraints(max_length=128)] = "Offline account"
    allow_account_change: bool = False
    unauthenticated: Literal["assign", "untracked", "cancel"] = "assign"
    unauthenticated_user: Annotated[str, StringConstraints(max_length=128)] = "unknown"
    password: Literal["directory-then-cache", "cache", "deny"] = "directory-then-cache"  # noqa: S105
    password_cache_days: Annotated[int, Field(ge=1, le=365)] = 14
