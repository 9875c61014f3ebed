"""What changes when a Site Server answers from its replica: the Offline Policies apply.

On the App Server ``AppState.offline`` is None and none of this runs. On a Site Server's
local app it tells whether the site is offline now and journals users it did not know.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.domain.decide import Policies
from printwarden.domain.offline_policies import SETTING_KEY, OfflinePolicies, UnauthenticatedPolicy
from printwarden.store import settings
from printwarden.store.models import UserRow


@dataclass(frozen=True, slots=True)
class OfflineMode:
    active: Callable[[], bool]
    # (session to write in, or None for a new one; username; where it was seen)
    note_unknown_user: Callable[[Session | None, str, str], None]


@dataclass(frozen=True, slots=True)
class Substitution:
    """Who a job of an unknown user is decided and charged as (``None``: not tracked)."""

    username: str | None
    refusal: str = ""


def policies(session: Session) -> OfflinePolicies:
    return OfflinePolicies.from_json(settings.get(session, SETTING_KEY) or {})


def rules(offline: OfflineMode | None, session: Session) -> Policies | None:
    """The decision rules while offline (None while online: the App Server's own rules)."""
    if offline is None or not offline.active():
        return None
    return Policies(offline=policies(session))


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
