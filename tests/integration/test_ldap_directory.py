"""The LDAP directory source against a real, throwaway slapd."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from printwarden.directory.errors import DirectoryUnavailable
from printwarden.directory.ldap import LdapSettings, check_password, fetch_snapshot
from printwarden.domain.directory import DirectoryUser
from printwarden.sim.ports import free_port

# tests/ holds the ``support`` package; pytest only puts this file's own directory on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from support import slapd as slapd_support
from support.slapd import (
    GROUPS_BASE,
    PEOPLE_BASE,
    READER_DN,
    READER_PASSWORD,
    SUFFIX,
    Slapd,
    user_attrs,
)

pytestmark = pytest.mark.slapd

BULK_USERS = 1_200
BULK_GROUPS = 510
BULK_BASE = f"ou=bulk,{SUFFIX}"
BULK_GROUPS_BASE = f"ou=bulkgroups,{SUFFIX}"
CONTRACTORS_BASE = f"ou=contractors,{PEOPLE_BASE}"
ALICE_PASSWORD = "alice-pw"


def _seed(server: Slapd) -> None:
    alice = server.add_user(
        "alice",
        "Alice Liddell",
        "alice@example.test",
        ["04A1B2", " 04C3D4 ", "E-100"],
        ALICE_PASSWORD,
        extra={"employeeNumber": ["E-100"], "employeeType": ["ID-4711"]},
    )
    assert alice == f"uid=alice,{PEOPLE_BASE}"
    server.add_user("bob", "Bob Builder", password="bob-pw")
    server.add_user("Dave.Jones", "Zoë Ångström", "zoe@example.test", password="zoë-pw")
    server.add_user("nopw", "No Password")
    server.add_entries(
        [
            (f"cn=Carol Spaces,{PEOPLE_BASE}", user_attrs(" carol ", "Carol Spaces")),
            (
                f"cn=No Uid,{PEOPLE_BASE}",
                {"objectClass": ["inetOrgPerson"], "cn": ["No Uid"], "sn": ["Uid"]},
            ),
            (
                f"uid=svc-scan,{PEOPLE_BASE}",
                {
                    "objectClass": ["account", "simpleSecurityObject"],
                    "uid": ["svc-scan"],
                    "userPassword": ["svc-pw"],
                },
            ),
            (CONTRACTORS_BASE, {"objectClass": ["organizationalUnit"], "ou": ["contractors"]}),
        ]
    )
    server.add_user("twin", "Twin One", password="twin-pw")
    server.add_user("twin", "Twin Two", password="twin-pw", base=CONTRACTORS_BASE)
    # Member DNs are compared case- and spacing-insensitively; unknown members are ignored.
    server.add_group(
        "staff", ["UID=Alice, OU=People, DC=example, DC=test", f"uid=ghost,{PEOPLE_BASE}"]
    )
    server.add_posix_group("printing", 1000, ["alice", "bob", "dave.jones", "ghost"])
    server.add_posix_group("empty", 1001, [])
    _seed_bulk(server)


def _seed_bulk(server: Slapd) -> None:
    entries: list[tuple[str, Mapping[str, Sequence[str]]]] = [
        (BULK_BASE, {"objectClass": ["organizationalUnit"], "ou": ["bulk"]}),
        (BULK_GROUPS_BASE, {"objectClass": ["organizationalUnit"], "ou": ["bulkgroups"]}),
    ]
    entries += [
        (
            f"uid=u{i:04d},{BULK_BASE}",
            user_attrs(f"u{i:04d}", f"User {i}", cards=[f"C{i}"], card_attr="employeeNumber"),
        )
        for i in range(BULK_USERS)
    ]
    entries += [
        (
            f"cn=g{g:03d},{BULK_GROUPS_BASE}",
            {
                "objectClass": ["posixGroup"],
                "cn": [f"g{g:03d}"],
                "gidNumber": [str(5000 + g)],
                "memberUid": [f"u{i:04d}" for i in range(g, BULK_USERS, BULK_GROUPS)],
            },
        )
        for g in range(BULK_GROUPS)
    ]
    server.add_entries(entries)


@pytest.fixture(scope="module")
def slapd_server() -> Iterator[Slapd]:
    with Slapd() as server:
        _seed(server)
        yield server


@pytest.fixture
def settings(slapd_server: Slapd) -> LdapSettings:
    return LdapSettings(
        url=slapd_server.url,
        bind_dn=READER_DN,
        bind_password=READER_PASSWORD,
        user_base=PEOPLE_BASE,
        group_base=GROUPS_BASE,
        card_attrs=("employeeNumber", "carLicense"),
        identity_attr="employeeType",  # any attribute can hold the identity number
        timeout=5,
    )


def _by_name(users: tuple[DirectoryUser, ...]) -> dict[str, DirectoryUser]:
    return {user.username: user for user in users}


# --- snapshot ---------------------------------------------------------------------------


def test_snapshot_reads_user_attributes_and_all_cards(settings: LdapSettings) -> None:
    alice = _by_name(fetch_snapshot(settings).users)["alice"]

    assert alice.full_name == "Alice Liddell"
    assert alice.email == "alice@example.test"
    # employeeNumber first, then the multivalued carLicense; stripped, duplicates dropped.
    assert alice.cards == ("E-100", "04A1B2", "04C3D4")
    assert alice.identity_number == "ID-4711"


def test_snapshot_groups_come_from_group_of_names_and_posix_groups(settings: LdapSettings) -> None:
    snapshot = fetch_snapshot(settings)
    users = _by_name(snapshot.users)

    assert snapshot.groups == {"staff", "printing", "empty"}
    assert users["alice"].groups == {"staff", "printing"}
    assert users["bob"].groups == {"printing"}
    assert users["Dave.Jones"].groups == {"printing"}  # memberUid "dave.jones"
    assert users["carol"].groups == frozenset()


def test_snapshot_users_follow_the_filter_and_need_a_username(settings: LdapSettings) -> None:
    users = fetch_snapshot(settings).users

    # No "No Uid" (no uid), no "svc-scan" (not an inetOrgPerson), "twin" only once,
    # usernames keep their case but lose surrounding whitespace; sorted case-insensitively.
    assert [user.username for user in users] == [
        "alice",
        "bob",
        "carol",
        "Dave.Jones",
        "nopw",
        "twin",
    ]


def test_snapshot_keeps_unicode_and_leaves_missing_values_empty(settings: LdapSettings) -> None:
    users = _by_name(fetch_snapshot(settings).users)

    assert users["Dave.Jones"].full_name == "Zoë Ångström"
    assert users["bob"] == DirectoryUser(
        username="bob", full_name="Bob Builder", groups=frozenset({"printing"})
    )


def test_snapshot_defaults_read_employee_number_and_no_identity(slapd_server: Slapd) -> None:
    settings = LdapSettings(slapd_server.url, READER_DN, READER_PASSWORD, PEOPLE_BASE, GROUPS_BASE)

    alice = _by_name(fetch_snapshot(settings).users)["alice"]

    assert alice.cards == ("E-100",)
    assert alice.identity_number == ""
    assert alice.groups == {"staff", "printing"}


def test_plain_search_of_bulk_users_hits_the_reader_size_limit(slapd_server: Slapd) -> None:
    # Precondition for the paging test: without paging the reader gets at most 500 entries.
    command = [
        "ldapsearch",
        "-x",
        "-LLL",
        "-H",
        slapd_server.url,
        "-D",
        READER_DN,
        "-w",
        READER_PASSWORD,
    ]
    result = subprocess.run(
        [*command, "-b", BULK_BASE, "(objectClass=inetOrgPerson)", "uid"],
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 4, result.stderr  # sizeLimitExceeded
    assert result.stdout.count("\nuid: ") == 500


@pytest.mark.parametrize("page_size", [500, 64])
def test_paged_search_returns_every_user_and_group(settings: LdapSettings, page_size: int) -> None:
    bulk = replace(settings, user_base=BULK_BASE, group_base=BULK_GROUPS_BASE, page_size=page_size)

    snapshot = fetch_snapshot(bulk)
    users = _by_name(snapshot.users)

    assert len(snapshot.users) == BULK_USERS
    assert set(users) == {f"u{i:04d}" for i in range(BULK_USERS)}
    assert snapshot.groups == {f"g{g:03d}" for g in range(BULK_GROUPS)}
    assert users["u1119"].cards == ("C1119",)
    assert users["u1119"].groups == {f"g{1119 % BULK_GROUPS:03d}"}


# --- passwords --------------------------------------------------------------------------


def test_check_password_accepts_the_right_password(settings: LdapSettings) -> None:
    assert check_password(settings, "alice", ALICE_PASSWORD) is True
    assert check_password(settings, "Dave.Jones", "zoë-pw") is True


@pytest.mark.parametrize(
    ("username", "password"),
    [
        pytest.param("alice", "wrong", id="wrong"),
        pytest.param("alice", ALICE_PASSWORD + " ", id="trailing-space"),
        pytest.param("alice", "", id="empty"),
        pytest.param("", ALICE_PASSWORD, id="no-username"),
        pytest.param("mallory", ALICE_PASSWORD, id="unknown"),
        pytest.param("nopw", "anything", id="user-without-password"),
        pytest.param("svc-scan", "svc-pw", id="outside-user-filter"),
        pytest.param("twin", "twin-pw", id="ambiguous"),
    ],
)
def test_check_password_rejects(settings: LdapSettings, username: str, password: str) -> None:
    assert check_password(settings, username, password) is False


@pytest.mark.parametrize(
    "username",
    [
        "*",
        "al*",
        "*)(uid=*",
        "alice)(|(uid=*",
        "a)(uid=*",
        "alice)(objectClass=*",
        "alice\\",
        "alice\x00",
    ],
)
def test_check_password_is_not_fooled_by_filter_injection(
    settings: LdapSettings, username: str
) -> None:
    # With alice's real password: any filter that matched alice would let this bind succeed.
    assert check_password(settings, username, ALICE_PASSWORD) is False


def test_check_password_only_works_with_the_password_given(settings: LdapSettings) -> None:
    # Guard against a "bind succeeded" that was really the service account's bind.
    assert check_password(settings, "bob", READER_PASSWORD) is False
    assert check_password(settings, "bob", "bob-pw") is True


# --- failures ---------------------------------------------------------------------------


def test_closed_port_raises_directory_unavailable(settings: LdapSettings) -> None:
    closed = replace(settings, url=f"ldap://127.0.0.1:{free_port()}", timeout=2)

    with pytest.raises(DirectoryUnavailable, match=re.escape("ldap://127.0.0.1:")):
        fetch_snapshot(closed)
    with pytest.raises(DirectoryUnavailable):
        check_password(closed, "alice", ALICE_PASSWORD)


def test_silent_server_raises_directory_unavailable_within_the_timeout(
    settings: LdapSettings,
) -> None:
    # A socket that accepts TCP connections (via the backlog) but never answers LDAP.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        silent = replace(settings, url=f"ldap://127.0.0.1:{port}", timeout=1)

        started = time.monotonic()
        with pytest.raises(DirectoryUnavailable, match="unavailable"):
            fetch_snapshot(silent)
        with pytest.raises(DirectoryUnavailable):
            check_password(silent, "alice", ALICE_PASSWORD)
        elapsed = time.monotonic() - started

    assert elapsed < 4


def test_wrong_service_password_raises_instead_of_rejecting(settings: LdapSettings) -> None:
    misconfigured = replace(settings, bind_password="not-the-reader-password")

    with pytest.raises(
        DirectoryUnavailable, match=r"bind as 'cn=reader,dc=example,dc=test' .*invalidCredentials"
    ):
        fetch_snapshot(misconfigured)
    with pytest.raises(DirectoryUnavailable, match="invalidCredentials"):
        check_password(misconfigured, "alice", ALICE_PASSWORD)


def test_missing_search_base_raises_instead_of_returning_no_users(settings: LdapSettings) -> None:
    nowhere = replace(settings, user_base=f"ou=nowhere,{SUFFIX}")

    with pytest.raises(DirectoryUnavailable, match="noSuchObject"):
        fetch_snapshot(nowhere)


def test_settings_repr_hides_the_service_password(settings: LdapSettings) -> None:
    assert READER_PASSWORD not in repr(settings)


def test_missing_slapd_is_an_error_that_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(slapd_support, "SLAPD", tmp_path / "no-slapd")

    with pytest.raises(slapd_support.SlapdError, match="apt-get install slapd ldap-utils"):
        Slapd().start()
