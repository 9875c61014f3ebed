"""User Password Authentication while offline, against a real (unreachable) directory and
the site's real password cache."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from printwarden import security
from printwarden.config import DirectoryConfig, LdapConfig
from printwarden.domain.offline_policies import SETTING_KEY, OfflinePolicies, PasswordPolicy
from printwarden.service.offline import OfflineMode
from printwarden.sim.ports import free_port
from printwarden.site.passwords import PasswordCache, administrators
from printwarden.site.replica import Replica
from printwarden.store import settings, users
from printwarden.store.models import UserRow
from printwarden.usecases.authority import Site

SECRET = b"password-test-secret-" + b"x" * 11


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Replica, PasswordCache]]:
    replica = Replica(tmp_path / "replica.db")
    try:
        yield replica, PasswordCache(replica.database)
    finally:
        replica.close()


def unreachable_directory() -> DirectoryConfig:
    return DirectoryConfig(source="ldap", ldap=LdapConfig(url=f"ldap://127.0.0.1:{free_port()}"))


def set_policy(replica: Replica, policy: PasswordPolicy, days: int = 14) -> None:
    chosen = OfflinePolicies(password=policy, password_cache_days=days)
    with replica.database.session() as session:
        settings.put(session, SETTING_KEY, chosen.to_json())


def make_user(
    replica: Replica, name: str, source: str, password: str = "", *, admin: bool = False
) -> None:
    """A user as a site's replica holds them: no password hash, whatever HQ has."""
    with replica.database.session() as session:
        changes = users.UserChanges(source=source, password=password or None, is_admin=admin)
        row = users.create_user(session, SECRET, name, changes)
        row.password_hash = None


def check(replica: Replica, cache: PasswordCache, name: str, password: str) -> bool:
    site = Site(OfflineMode(lambda: True, lambda *_: None, cache.get))
    with replica.database.read() as session:
        row = users.find_user(session, name)
        rules = site.rules(session)
    return rules.check_password(unreachable_directory(), row, password)


def test_a_directory_user_logs_in_offline_with_the_password_cached_at_their_last_login(
    site: tuple[Replica, PasswordCache],
) -> None:
    replica, cache = site
    set_policy(replica, PasswordPolicy.DIRECTORY_THEN_CACHE)
    make_user(replica, "dora", "ldap")
    assert not check(replica, cache, "dora", "s3cret!")  # never logged in here: no cache
    cache.remember("dora", "s3cret!")
    with replica.database.read() as session:
        stored = session.execute(text("SELECT password_hash FROM password_cache")).scalar_one()
    assert "s3cret" not in stored
    assert stored.startswith("$argon2")
    assert check(replica, cache, "dora", "s3cret!")
    assert not check(replica, cache, "dora", "wrong")


def test_a_stale_cached_password_is_refused(site: tuple[Replica, PasswordCache]) -> None:
    replica, cache = site
    set_policy(replica, PasswordPolicy.CACHE, days=1)
    make_user(replica, "old", "ldap")
    cache.remember("old", "pw-old")
    old = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    with replica.database.session() as session:
        session.execute(text("UPDATE password_cache SET taken_at = :t"), {"t": old})
    assert not check(replica, cache, "old", "pw-old")


def test_deny_refuses_every_password_and_caches_none(site: tuple[Replica, PasswordCache]) -> None:
    replica, cache = site
    set_policy(replica, PasswordPolicy.DENY)
    make_user(replica, "ivy", "internal", password="internal-pw")
    make_user(replica, "lee", "ldap")
    cache.remember("lee", "pw-lee")
    cache.remember("ivy", "internal-pw")
    assert cache.get("lee") is None
    assert cache.get("ivy") is None
    assert not check(replica, cache, "ivy", "internal-pw")
    set_policy(replica, PasswordPolicy.CACHE)
    assert not check(replica, cache, "ivy", "internal-pw")  # nothing cached, no hash from HQ
    cache.remember("ivy", "internal-pw")
    assert check(replica, cache, "ivy", "internal-pw")  # internal users: the cache too
    with replica.database.read() as session:
        assert session.query(UserRow).count() == 2


def test_an_administrator_is_never_cached_and_never_logs_in_offline_with_a_password(
    site: tuple[Replica, PasswordCache],
) -> None:
    replica, cache = site
    set_policy(replica, PasswordPolicy.CACHE)
    make_user(replica, "boss", "internal", password="boss-pw", admin=True)
    make_user(replica, "soon-boss", "internal", password="soon-pw")
    cache.remember("boss", "boss-pw")
    cache.remember("nobody-yet", "pw")  # not in the replica: it might be an administrator
    cache.remember("soon-boss", "soon-pw")
    assert cache.get("boss") is None
    assert cache.get("nobody-yet") is None
    assert check(replica, cache, "soon-boss", "soon-pw")
    with replica.database.session() as session:  # promoted at HQ, replicated
        users.find_user(session, "soon-boss").is_admin = True
    assert not check(replica, cache, "soon-boss", "soon-pw")
    promoted = {"entity": "user", "row": {"username": "soon-boss", "is_admin": True}}
    kept = {"entity": "user", "row": {"username": "other", "is_admin": False}}
    cache.forget(administrators([promoted, kept, {"entity": "account", "row": {}}]))
    assert cache.get("soon-boss") is None


def test_every_offline_refusal_costs_one_argon2_check_like_a_wrong_password(
    site: tuple[Replica, PasswordCache], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Answered at once, an administrator, a user with nothing cached (or cached too long
    ago) and every user under *deny* stood out from an unknown name (checked against a
    dummy hash) and from a wrong password: the site told who exists and who is an admin."""
    replica, cache = site
    set_policy(replica, PasswordPolicy.CACHE, days=1)
    make_user(replica, "boss", "internal", admin=True)
    make_user(replica, "new", "internal")
    make_user(replica, "old", "internal")
    make_user(replica, "known", "internal")
    cache.remember("old", "pw-old")
    cache.remember("known", "pw-known")
    old = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    with replica.database.session() as session:
        session.execute(text("UPDATE password_cache SET taken_at = :t WHERE username = 'old'"),
                        {"t": old})  # fmt: skip
    verified: list[str] = []
    original = security.verify_secret

    def verify(stored_hash: str | None, secret: str) -> bool:
        if stored_hash and secret:  # an argon2 verification really runs
            verified.append(secret)
        return original(stored_hash, secret)

    monkeypatch.setattr(security, "verify_secret", verify)
    for name in ("known", "boss", "new", "old"):
        assert not check(replica, cache, name, f"guess-{name}")
    set_policy(replica, PasswordPolicy.DENY)
    assert not check(replica, cache, "known", "guess-deny")
    assert verified == ["guess-known", "guess-boss", "guess-new", "guess-old", "guess-deny"]
