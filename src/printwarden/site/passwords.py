"""The offline password cache: a salted argon2 hash of each password the App Server accepted
at a login through this site, so that the user can log in with it while the site is offline
(User Password Authentication policy *cache*, or *directory-then-cache* when the directory
is out of reach too). Never plaintext, never reversible; nothing is kept under *deny*."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from printwarden import security
from printwarden.domain.offline_policies import PasswordPolicy
from printwarden.service.offline import CachedPassword, policies
from printwarden.store.db import Database

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


class PasswordCache:
    def __init__(self, database: Database) -> None:
        self.database = database
        with database.session() as session:
            session.execute(text(TABLE))

    def remember(self, username: str, password: str) -> None:
        """Keep a hash of a password the App Server just accepted (unless the policy is deny)."""
        with self.database.read() as session:
            if policies(session).password is PasswordPolicy.DENY:
                return
        hashed = security.hash_secret(password)
        now = datetime.now(UTC).isoformat()
        with self.database.session() as session:
            session.execute(_SAVE, {"u": username, "h": hashed, "t": now})

    def get(self, username: str) -> CachedPassword | None:
        with self.database.read() as session:
            found = session.execute(_READ, {"u": username}).first()
        if found is None:
            return None
        return CachedPassword(str(found[0]), datetime.fromisoformat(str(found[1])))
