"""The offline password cache: a salted argon2 hash of each password the App Server accepted
at a login through this site, so that the user can log in with it while the site is offline
(User Password Authentication policy *cache*, or *directory-then-cache* when the directory
is out of reach too). Never plaintext, never reversible; nothing is kept under *deny*, and
never an administrator's: only users the replica knows, and knows not to be administrators,
are remembered, and a user who becomes one is forgotten (:func:`administrators`).
The replica holds no password hash from HQ: this cache is the only way to log in offline
with a password."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text

from printwarden import security
from printwarden.domain.offline_policies import PasswordPolicy
from printwarden.service.offline import CachedPassword, policies
from printwarden.store.db import Database
from printwarden.store.models import UserRow

TABLE = """
CREATE TABLE IF NOT EXISTS password_cache (
    username TEXT PRIMARY KEY, password_hash TEXT NOT NULL, taken_at TEXT NOT NULL
)
"""
_SAVE = text(
    "INSERT INTO password_cache (username, password_hash, taken_at) VALUES (:u, :h, :t) "
    "ON CONFLICT (username) DO UPDATE SET password_hash = :h, taken_at = :t"
)
_READ = text("SELECT password_hash, taken_at FROM password_cache WHERE username = :u")
_FORGET = text("DELETE FROM password_cache WHERE username = :u")


class PasswordCache:
    def __init__(self, database: Database) -> None:
        self.database = database
        with database.session() as session:
            session.execute(text(TABLE))

    def remember(self, username: str, password: str) -> None:
        """Keep a hash of a password the App Server just accepted, unless the policy is deny
        or the user is an administrator or not (yet) in the replica."""
        with self.database.read() as session:
            if policies(session).password is PasswordPolicy.DENY:
                return
            is_admin = session.scalar(
                select(UserRow.is_admin).where(
                    UserRow.username == username, UserRow.deleted_at.is_(None)
                )
            )
        if is_admin is None:
            return  # not in the replica (yet): it could be an administrator
        if is_admin:
            self.forget([username])
            return
        hashed = security.hash_secret(password)
        now = datetime.now(UTC).isoformat()
        with self.database.session() as session:
            session.execute(_SAVE, {"u": username, "h": hashed, "t": now})

    def forget(self, usernames: Iterable[str]) -> None:
        """Drop what is kept for these users (administrators now, say)."""
        names = [{"u": name} for name in usernames]
        if names:
            with self.database.session() as session:
                session.execute(_FORGET, names)

    def get(self, username: str) -> CachedPassword | None:
        with self.database.read() as session:
            found = session.execute(_READ, {"u": username}).first()
        if found is None:
            return None
        return CachedPassword(str(found[0]), datetime.fromisoformat(str(found[1])))


def administrators(entities: list[dict[str, Any]]) -> list[str]:
    """The users a page of replication makes (or keeps) administrators: their cached
    passwords, if any, must go."""
    return [
        str(e["row"]["username"])
        for e in entities
        if e["entity"] == "user" and e["row"].get("is_admin")
    ]
