"""LDAP directory source: read users and groups, check passwords by binding."""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from printwarden.directory.errors import DirectoryUnavailable
from printwarden.domain.directory import DirectorySnapshot, DirectoryUser

with warnings.catch_warnings():
    # ldap3 2.9.1 imports names that pyasn1 >= 0.6 marks deprecated (tagMap, typeMap).
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ldap3(\.|$)")
    from ldap3 import NONE, SUBTREE, Connection, Server
    from ldap3.core.exceptions import LDAPException, LDAPInvalidDnError
    from ldap3.utils.conv import escape_filter_chars
    from ldap3.utils.dn import parse_dn

_SUCCESS = 0
_SIZE_LIMIT_EXCEEDED = 4
_PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"


@dataclass(frozen=True, slots=True)
class LdapSettings:
    """Where the directory is and how its users and groups are described."""

    url: str
    bind_dn: str
    bind_password: str = field(repr=False)
    user_base: str
    group_base: str
    user_filter: str = "(objectClass=inetOrgPerson)"
    group_filter: str = "(|(objectClass=groupOfNames)(objectClass=posixGroup))"
    username_attr: str = "uid"
    full_name_attr: str = "cn"
    email_attr: str = "mail"
    card_attrs: tuple[str, ...] = ("employeeNumber",)
    identity_attr: str = ""
    group_name_attr: str = "cn"
    group_member_attr: str = "member"
    group_member_uid_attr: str = "memberUid"
    timeout: float = 10.0
    page_size: int = 500


@dataclass(frozen=True, slots=True)
class _Entry:
    """A search result: its DN and stripped, non-empty values by lower-cased attribute."""

    dn: str
    attrs: Mapping[str, tuple[str, ...]]

    def values(self, name: str) -> tuple[str, ...]:
        return self.attrs.get(name.lower(), ()) if name else ()

    def first(self, name: str) -> str:
        return next(iter(self.values(name)), "")


def fetch_snapshot(settings: LdapSettings) -> DirectorySnapshot:
    """Read all users and groups; any failure raises instead of returning a partial list."""
    with _service_connection(settings) as conn:
        users = _paged_search(
            conn, settings, settings.user_base, settings.user_filter, _user_attrs(settings)
        )
        groups = _paged_search(
            conn, settings, settings.group_base, settings.group_filter, _group_attrs(settings)
        )
    return _snapshot(settings, users, groups)


def check_password(settings: LdapSettings, username: str, password: str) -> bool:
    """True only if ``username`` names exactly one user and binding as them succeeds."""
    name = username.strip()
    if not name or not password:
        return False
    dn = _find_user_dn(settings, name)
    if dn is None:
        return False
    with _connection(settings, dn, password) as conn:
        return bool(conn.bound)


def _find_user_dn(settings: LdapSettings, username: str) -> str | None:
    match = f"({settings.username_attr}={escape_filter_chars(username)})"
    query = f"(&{_parenthesized(settings.user_filter)}{match})"
    with _service_connection(settings) as conn:
        conn.search(
            settings.user_base, query, SUBTREE, attributes=[settings.username_attr], size_limit=2
        )
        if conn.result["result"] not in (_SUCCESS, _SIZE_LIMIT_EXCEEDED):
            raise DirectoryUnavailable(
                _failure(settings, f"user search in {settings.user_base!r}", conn.result)
            )
        found = [item["dn"] for item in conn.response or () if item.get("type") == "searchResEntry"]
    return str(found[0]) if len(found) == 1 else None


@contextmanager
def _connection(settings: LdapSettings, dn: str, password: str) -> Iterator[Any]:
    """Yield a connection after a bind attempt (check ``bound``); ldap3 errors become ours."""
    try:
        conn = _new_connection(settings, dn, password)
    except LDAPException as exc:
        raise DirectoryUnavailable(f"LDAP settings for {settings.url} are invalid: {exc}") from exc
    try:
        conn.bind()
        yield conn
    except LDAPException as exc:
        raise DirectoryUnavailable(f"LDAP server {settings.url} unavailable: {exc}") from exc
    finally:
        _close(conn)


def _new_connection(settings: LdapSettings, dn: str, password: str) -> Any:
    server = Server(settings.url, get_info=NONE, connect_timeout=settings.timeout)
    return Connection(
        server,
        user=dn or None,
        password=password or None,
        read_only=True,
        auto_referrals=False,
        raise_exceptions=False,
        # ldap3 packs the receive timeout into SO_RCVTIMEO as whole seconds: floats crash it.
        receive_timeout=max(1, math.ceil(settings.timeout)),
    )


@contextmanager
def _service_connection(settings: LdapSettings) -> Iterator[Any]:
    """Yield a connection bound with the service account, or raise."""
    with _connection(settings, settings.bind_dn, settings.bind_password) as conn:
        if not conn.bound:
            raise DirectoryUnavailable(
                _failure(settings, f"bind as {settings.bind_dn!r}", conn.result)
            )
        yield conn


def _close(conn: Any) -> None:
    """Unbind, then close any socket ldap3 left open (it does so when ``connect`` fails)."""
    try:
        if not conn.closed:
            conn.unbind()
    except LDAPException:
        pass
    finally:
        if conn.socket is not None:
            conn.socket.close()


def _failure(settings: LdapSettings, what: str, result: Mapping[str, Any]) -> str:
    detail = " ".join(str(result.get(key) or "") for key in ("description", "message")).strip()
    return f"LDAP {what} at {settings.url} failed: {detail or result.get('result')}"


def _paged_search(
    conn: Any, settings: LdapSettings, base: str, query: str, attributes: list[str]
) -> list[_Entry]:
    """All entries of a subtree search, fetched ``page_size`` at a time."""
    entries: list[_Entry] = []
    cookie: bytes | None = None
    while True:
        conn.search(
            base,
            query,
            SUBTREE,
            attributes=attributes,
            paged_size=settings.page_size,
            paged_cookie=cookie,
        )
        if conn.result["result"] != _SUCCESS:
            raise DirectoryUnavailable(_failure(settings, f"search in {base!r}", conn.result))
        entries.extend(
            _entry(item) for item in conn.response or () if item.get("type") == "searchResEntry"
        )
        cookie = _paged_cookie(conn.result)
        if not cookie:
            return entries


def _paged_cookie(result: Mapping[str, Any]) -> bytes | None:
    control = (result.get("controls") or {}).get(_PAGED_RESULTS_OID) or {}
    cookie = (control.get("value") or {}).get("cookie")
    return bytes(cookie) if cookie else None


def _entry(item: Mapping[str, Any]) -> _Entry:
    attrs = {
        str(name).lower(): tuple(text for text in (_text(raw) for raw in values) if text)
        for name, values in (item.get("raw_attributes") or {}).items()
    }
    return _Entry(dn=str(item["dn"]), attrs=attrs)


def _text(raw: bytes | str) -> str:
    return (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw).strip()


def _user_attrs(settings: LdapSettings) -> list[str]:
    names = [
        settings.username_attr,
        settings.full_name_attr,
        settings.email_attr,
        *settings.card_attrs,
    ]
    return _unique([*names, settings.identity_attr])


def _group_attrs(settings: LdapSettings) -> list[str]:
    return _unique(
        [settings.group_name_attr, settings.group_member_attr, settings.group_member_uid_attr]
    )


def _unique(names: Iterable[str]) -> list[str]:
    return list({name.lower(): name for name in names if name}.values())


def _parenthesized(query: str) -> str:
    query = query.strip()
    return query if query.startswith("(") else f"({query})"


def _dn_key(dn: str) -> str:
    """A DN compared case- and spacing-insensitively (good enough for member lookups)."""
    try:
        parts = parse_dn(dn, escape=False, strip=True)
    except LDAPInvalidDnError:
        return dn.strip().lower()
    return ",".join(f"{attr.strip().lower()}={value.strip().lower()}" for attr, value, _ in parts)


def _snapshot(
    settings: LdapSettings, user_entries: list[_Entry], group_entries: list[_Entry]
) -> DirectorySnapshot:
    users = _unique_users(settings, user_entries)
    by_dn = {_dn_key(entry.dn): name for name, entry in users.items()}
    by_name = {name.casefold(): name for name in users}
    memberships: defaultdict[str, set[str]] = defaultdict(set)
    group_names: set[str] = set()
    for group in group_entries:
        group_name = group.first(settings.group_name_attr)
        if not group_name:
            continue
        group_names.add(group_name)
        for member in _members(settings, group, by_dn, by_name):
            memberships[member].add(group_name)
    records = (_user(settings, entry, name, memberships[name]) for name, entry in users.items())
    return DirectorySnapshot(
        users=tuple(sorted(records, key=lambda u: u.username.casefold())),
        groups=frozenset(group_names),
    )


def _unique_users(settings: LdapSettings, entries: list[_Entry]) -> dict[str, _Entry]:
    """Entries by username; nameless entries and later case-insensitive duplicates are dropped."""
    users: dict[str, _Entry] = {}
    seen: set[str] = set()
    for entry in entries:
        name = entry.first(settings.username_attr)
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            users[name] = entry
    return users


def _members(
    settings: LdapSettings, group: _Entry, by_dn: Mapping[str, str], by_name: Mapping[str, str]
) -> set[str]:
    """Usernames of known users in a group, via member DNs and memberUid names."""
    from_dns = (by_dn.get(_dn_key(dn)) for dn in group.values(settings.group_member_attr))
    from_uids = (
        by_name.get(uid.casefold()) for uid in group.values(settings.group_member_uid_attr)
    )
    return {name for name in (*from_dns, *from_uids) if name}


def _user(settings: LdapSettings, entry: _Entry, username: str, groups: set[str]) -> DirectoryUser:
    cards = (card for attr in settings.card_attrs for card in entry.values(attr))
    return DirectoryUser(
        username=username,
        full_name=entry.first(settings.full_name_attr),
        email=entry.first(settings.email_attr),
        groups=frozenset(groups),
        cards=tuple(dict.fromkeys(cards)),
        identity_number=entry.first(settings.identity_attr),
    )
