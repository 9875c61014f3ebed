"""The sender policy and held messages: tokens stored only as hashes, private files, expiry,
confirmation by the right user."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from printwarden.mail.pending import Held, NotYours, PendingStore, UnknownToken
from printwarden.mail.policy import Action, decide
from printwarden.mail.spool import Entry, Envelope
from printwarden.mail.target import Outcome

ENTRY = Entry("0001-ab", Envelope("ann@example.org", ("print@p.example.org",)), b"raw message")


@pytest.mark.parametrize(
    ("sender", "user", "aligned", "unknown", "action"),
    [
        ("a@example.org", "ann", True, "reject", Action.SUBMIT),
        ("a@example.org", "ann", False, "reject", Action.CONFIRM_USER),
        ("a@example.org", None, True, "reject", Action.REJECT),
        ("a@example.org", None, False, "reject-with-instructions", Action.REJECT_INSTRUCTIONS),
        ("a@example.org", None, False, "confirm", Action.CONFIRM_LINK),
        ("", None, False, "confirm", Action.REJECT),
    ],
)
def test_the_sender_policy(
    sender: str, user: str | None, aligned: bool, unknown: str, action: Action
) -> None:
    assert decide(sender, user, aligned, unknown) is action  # type: ignore[arg-type]


def test_a_held_message_is_stored_privately_under_a_hash_of_its_token(tmp_path: Path) -> None:
    store = PendingStore(tmp_path / "pending")
    token = store.hold(ENTRY, "ann@example.org", "ann")
    (path,) = (tmp_path / "pending").iterdir()
    assert token not in path.name
    assert token.encode() not in path.read_bytes()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "pending").stat().st_mode) == 0o700
    assert store.load(token).entry == ENTRY


def test_confirm_processes_as_the_user_once(tmp_path: Path) -> None:
    store = PendingStore(tmp_path)
    token = store.hold(ENTRY, "ann@example.org", "ann")
    calls: list[tuple[Held, str]] = []

    def process(held: Held, username: str) -> list[Outcome]:
        calls.append((held, username))
        return [Outcome("a.pdf", True, "held")]

    with pytest.raises(NotYours):
        store.confirm(token, "mallory", process)
    assert store.confirm(token, "ann", process) == [Outcome("a.pdf", True, "held")]
    assert [(h.entry.id, u) for h, u in calls] == [("0001-ab", "ann")]
    with pytest.raises(UnknownToken):
        store.confirm(token, "ann", process)


def test_an_unknown_senders_message_may_be_confirmed_by_anyone(tmp_path: Path) -> None:
    store = PendingStore(tmp_path)
    token = store.hold(ENTRY, "new@example.org", None)
    assert store.confirm(token, "bob", lambda held, user: []) == []


def test_held_messages_expire(tmp_path: Path) -> None:
    now = [1000.0]
    store = PendingStore(tmp_path, hours=1, clock=lambda: now[0])
    token = store.hold(ENTRY, "ann@example.org", "ann")
    other = store.hold(ENTRY, "ann@example.org", "ann")
    now[0] += 3601
    with pytest.raises(UnknownToken):
        store.load(token)
    assert store.expire() == 2
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UnknownToken):
        store.load(other)
    with pytest.raises(UnknownToken):
        store.load("a-guessed-token")
