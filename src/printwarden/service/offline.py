"""What changes when a Site Server answers from its replica: the Offline Policies apply.

The pieces the site's authority (``usecases/authority.py`` ``Site``, ``Offline``) is made
of: the site's offline mode (is it offline now, journal a user it did not know, its password
cache), the policies, the Unauthenticated Users substitution and the offline password check.
The App Server's authority (``Hq``) uses none of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden import security
from printwarden.config import DirectoryConfig
from printwarden.directory.errors import DirectoryUnavailable
from printwarden.directory.source import check_password
from printwarden.domain.offline_policies import (
    SETTING_KEY,
    OfflinePolicies,
    PasswordPolicy,
    UnauthenticatedPolicy,
)
from printwarden.store import settings
from printwarden.store.models import UserRow


@dataclass(frozen=True, slots=True)
class CachedPassword:
    """A salted argon2 hash of a password, taken at a successful online login at the site."""

    password_hash: str
    taken_at: datetime


@dataclass(frozen=True, slots=True)
class OfflineMode:
    active: Callable[[], bool]
    # (session to write in, or None for a new one; username; where it was seen)
    note_unknown_user: Callable[[Session | None, str, str], None]
    cached_password: Callable[[str], CachedPassword | None] = lambda _username: None


@dataclass(frozen=True, slots=True)
class Substitution:
    """Who a job of an unknown user is decided and charged as (``None``: not tracked)."""

    username: str | None
    refusal: str = ""


def policies(session: Session) -> OfflinePolicies:
    return OfflinePolicies.from_json(settings.get(session, SETTING_KEY) or {})


def known(session: Session, username: str) -> bool:
    found = session.scalar(
        select(UserRow.id).where(UserRow.username == username, UserRow.deleted_at.is_(None))
    )
    return found is not None


def substitute(
    offline: OfflineMode, session: Session, username: str, where: str, *, writing: bool
) -> Substitution:
    """Apply the Unauthenticated Users policy to a user the replica does not know.

    ``writing``: ``session`` holds the write transaction, so the sighting is journaled in it
    (SQLite has one writer: a second write transaction would wait for this one forever)."""
    offline.note_unknown_user(session if writing else None, username, where)
    chosen = policies(session)
    if chosen.unauthenticated is UnauthenticatedPolicy.CANCEL:
        return Substitution(None, f"unknown user {username!r}: canceled while offline (policy)")
    if chosen.unauthenticated is UnauthenticatedPolicy.UNTRACKED:
        return Substitution(None)
    if not known(session, chosen.unauthenticated_user):
        return Substitution(None, f"unknown user {username!r} and no user "
                                  f"{chosen.unauthenticated_user!r} to charge")  # fmt: skip
    return Substitution(chosen.unauthenticated_user)


def password_ok(
    offline: OfflineMode,
    chosen: OfflinePolicies,
    directory: DirectoryConfig,
    user: UserRow,
    password: str,
) -> bool:
    """A password check while offline, under the User Password Authentication policy.

    Never for an administrator: the site holds no administrator's password in any form, so
    a stolen site box cannot be made to accept one. *deny*: no password logins (cards, and
    card or identity number with PIN, still work). *directory-then-cache*: an LDAP user's
    password is checked by a bind to the directory when the site can reach it; otherwise,
    and for *cache*, against the salted argon2 hash this site took at the user's last
    successful online login through it, if younger than the policy's days. That is so for
    internal users too: the replica holds no password hash from HQ.

    A refusal costs one argon2 check (against a dummy hash where there is nothing to check),
    so that it takes as long as a wrong password: the time tells no one who exists here, who
    is an administrator or who has a cached password.
    """
    if user.is_admin or chosen.password is PasswordPolicy.DENY:
        return security.check_secret(None, password)
    if (
        user.source == "ldap"
        and chosen.password is PasswordPolicy.DIRECTORY_THEN_CACHE
        and directory.source == "ldap"
    ):
        try:
            return check_password(directory, user, password)
        except DirectoryUnavailable:
            pass  # fall back to the cache
    cached = offline.cached_password(user.username)
    stored = None
    if cached is not None:
        age = datetime.now(UTC) - cached.taken_at
        stored = cached.password_hash if age < timedelta(days=chosen.password_cache_days) else None
    return security.check_secret(stored, password)
