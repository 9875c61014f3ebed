"""Users, groups and accounts as the pure rules see them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    """Who is calling the service API."""

    ADMIN = "admin"
    USER = "user"
    SITE = "site"
    PROVIDER = "provider"
    DEVICE = "device"
    # A User Client on a person's computer: bound to its user, it reaches only that user's
    # events, questions and balance (never the portal's other routes).
    CLIENT = "client"


COMPONENT_ROLES = frozenset({Role.SITE, Role.PROVIDER, Role.DEVICE})


class AccountKind(StrEnum):
    PERSONAL = "personal"
    SHARED = "shared"


@dataclass(frozen=True, slots=True)
class User:
    """A person who prints. ``groups`` holds group names.

    Whether the user is restricted is a property of their personal account.
    """

    id: int
    username: str
    enabled: bool = True
    groups: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Account:
    """A personal or shared account: balance and credit rules.

    ``credit_limit`` is how far below zero a restricted account may go (>= 0).
    """

    id: int
    kind: AccountKind
    name: str
    balance: int = 0
    restricted: bool = True
    credit_limit: int = 0
    enabled: bool = True
    owner_id: int | None = None
    parent_id: int | None = None
    user_ids: frozenset[int] = field(default_factory=frozenset)
    group_names: frozenset[str] = field(default_factory=frozenset)

    def available(self) -> int:
        """What a restricted account may still spend."""
        return self.balance + self.credit_limit


def may_use(user: User, account: Account) -> bool:
    """Whether ``user`` may charge ``account``: their own, or a shared one granted to them."""
    if not account.enabled:
        return False
    if account.kind is AccountKind.PERSONAL:
        return account.owner_id == user.id
    return user.id in account.user_ids or bool(user.groups & account.group_names)
