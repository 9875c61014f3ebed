"""The configured directory source: reading snapshots and checking passwords. The LDAP
client (ldap3) loads on first use: a server with internal users never carries it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from printwarden import security
from printwarden.config import DirectoryConfig
from printwarden.domain.directory import DirectorySnapshot
from printwarden.store.models import UserRow

if TYPE_CHECKING:
    from printwarden.directory.ldap import LdapSettings


class NoDirectoryConfigured(Exception):
    """A sync was asked for but the directory source is internal."""


def ldap_settings(config: DirectoryConfig) -> LdapSettings:
    from printwarden.directory import ldap

    lc = config.ldap
    return ldap.LdapSettings(
        url=lc.url,
        bind_dn=lc.bind_dn,
        bind_password=lc.bind_password,
        user_base=lc.user_base,
        group_base=lc.group_base or lc.user_base,
        user_filter=lc.user_filter,
        card_attrs=tuple(lc.card_attrs),
        identity_attr=lc.identity_attr,
    )


def read_snapshot(config: DirectoryConfig) -> DirectorySnapshot:
    """Everything the configured external source holds now."""
    if config.source != "ldap":
        raise NoDirectoryConfigured("the directory source is 'internal'; nothing to sync")
    from printwarden.directory import ldap

    return ldap.fetch_snapshot(ldap_settings(config))


def check_password(config: DirectoryConfig, user: UserRow, password: str) -> bool:
    """A user's password: by LDAP bind for LDAP users, else against the stored argon2 hash
    (a user without one is checked against a dummy hash: refused in the same time)."""
    if user.source == "ldap" and config.source == "ldap":
        from printwarden.directory import ldap

        return ldap.check_password(ldap_settings(config), user.username, password)
    return security.check_secret(user.password_hash, password)
