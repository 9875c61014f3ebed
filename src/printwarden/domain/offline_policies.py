"""Offline Policies: what a site does, set in advance, while the App Server is unreachable.

The four policies of the offline reference (account selection, restricted credit,
unauthenticated users, user password authentication), with its defaults. They are stored on
the App Server as a setting and replicated to every site.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

SETTING_KEY = "offline_policies"
CHANGE_SETTINGS_KEY = "system.site.offline-change-print-job-settings.enabled"


class CreditPolicy(StrEnum):
    """How a restricted account is judged when the Application Server is unreachable."""

    LAST_KNOWN_BALANCE = "last-known-balance"  # [default] the site's view, offline charges in
    ALLOW_OVERDRAW = "allow-overdraw"  # that, plus ``overdraw``
    ALLOW_ALL = "allow-all"  # treat as unrestricted
    DENY_RESTRICTED = "deny-restricted"  # assume no credit


class UnauthenticatedPolicy(StrEnum):
    """What happens to a job whose owner the site cannot validate (or never synced)."""

    ASSIGN = "assign"  # [default] charge it to ``unauthenticated_user``
    UNTRACKED = "untracked"  # physical queues print untracked; virtual queues do not
    CANCEL = "cancel"


class PasswordPolicy(StrEnum):
    """How a site checks a password while offline."""

    DIRECTORY_THEN_CACHE = "directory-then-cache"  # [default] LDAP bind, else the cache
    CACHE = "cache"  # salted argon2 hash from the user's last online login here
    DENY = "deny"  # no password logins offline (cards and card + PIN still work)


@dataclass(frozen=True, slots=True)
class OfflinePolicies:
    """All Offline Policies. Money in cents."""

    credit: CreditPolicy = CreditPolicy.LAST_KNOWN_BALANCE
    overdraw: int = 0
    offline_account: str = "Offline account"
    allow_account_change: bool = False  # CHANGE_SETTINGS_KEY = Y
    unauthenticated: UnauthenticatedPolicy = UnauthenticatedPolicy.ASSIGN
    unauthenticated_user: str = "unknown"
    password: PasswordPolicy = PasswordPolicy.DIRECTORY_THEN_CACHE
    password_cache_days: int = 14

    def __post_init__(self) -> None:
        if self.overdraw < 0:
            raise ValueError("overdraw must be >= 0")
        if not 1 <= self.password_cache_days <= 365:
            raise ValueError("password_cache_days must be 1..365")

    def to_json(self) -> dict[str, Any]:
        return {k: (v.value if isinstance(v, StrEnum) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OfflinePolicies:
        """Policies from stored JSON; unknown keys are ignored, missing ones take defaults."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name, kind in (
            ("credit", CreditPolicy),
            ("unauthenticated", UnauthenticatedPolicy),
            ("password", PasswordPolicy),
        ):
            if name in values:
                values[name] = kind(values[name])
        return cls(**values)
