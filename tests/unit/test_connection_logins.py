"""A password accepted on a connection is remembered for that connection only, for at most
REMEMBER_SECONDS, for the same user and password only; the password itself is not kept."""

from __future__ import annotations

from typing import Any

from printwarden.provider import connection_logins as logins
from printwarden.provider.service_client import Login

ALICE = Login(username="alice", admin=False)


def accepted(now: float = 100.0) -> dict[str, Any]:
    connection: dict[str, Any] = {}
    logins.remember(connection, "alice", "s3cret", ALICE, now)
    return connection


def test_the_same_user_and_password_on_the_connection_are_recalled() -> None:
    assert logins.recall(accepted(), "alice", "s3cret", 101.0) == ALICE


def test_another_password_user_or_connection_is_not() -> None:
    connection = accepted()
    assert logins.recall(connection, "alice", "S3cret", 101.0) is None
    assert logins.recall(connection, "bob", "s3cret", 101.0) is None
    assert logins.recall({}, "alice", "s3cret", 101.0) is None


def test_it_is_forgotten_after_remember_seconds() -> None:
    connection = accepted(now=100.0)
    assert logins.recall(connection, "alice", "s3cret", 100.0 + logins.REMEMBER_SECONDS) is None


def test_the_password_itself_is_not_kept() -> None:
    connection = accepted()
    assert "s3cret" not in repr(connection)
    assert b"s3cret" not in repr(connection).encode()
