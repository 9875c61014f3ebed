"""The beacon's wire format and tickets (``domain/beacon.py``)."""

from __future__ import annotations

import pytest

from printwarden.domain import beacon
from printwarden.domain.beacon import BeaconError, Ticket

KEY = b"k" * 32
NOW = 1_800_000_000.0


def test_a_ticket_issued_verifies_until_it_expires() -> None:
    text = Ticket.issue(KEY, "north", 3, NOW)
    assert Ticket.verify(KEY, text, NOW + 10) == Ticket("north", 3, int(NOW) + 3600)
    with pytest.raises(BeaconError, match="expired"):
        Ticket.verify(KEY, text, NOW + beacon.TICKET_SECONDS + 1)


@pytest.mark.parametrize(
    "tampered",
    [
        lambda t: t.replace("north", "south"),
        lambda t: t.replace(".3.", ".4."),
        lambda t: t.replace(f".{int(NOW) + 3600}.", f".{int(NOW) + 99999}."),
        lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"),
    ],
)
def test_a_ticket_changed_in_any_part_is_forged(tampered: object) -> None:
    text = Ticket.issue(KEY, "north", 3, NOW)
    assert callable(tampered)
    with pytest.raises(BeaconError, match="forged"):
        Ticket.verify(KEY, tampered(text), NOW)


def test_a_ticket_under_another_key_is_forged() -> None:
    with pytest.raises(BeaconError, match="forged"):
        Ticket.verify(b"x" * 32, Ticket.issue(KEY, "north", 1, NOW), NOW)


ZEROS = "0" * 32


MALFORMED = ["", "v1.north.1.2", "v2.north.1.2." + ZEROS, "v1.NORTH.1.2." + ZEROS,
             "v1.north.1.2." + ZEROS[1:]]  # fmt: skip


@pytest.mark.parametrize("text", MALFORMED)
def test_a_malformed_ticket_is_refused(text: str) -> None:
    with pytest.raises(BeaconError, match="malformed"):
        Ticket.verify(KEY, text, NOW)


def test_hello_and_answers_round_trip() -> None:
    line = beacon.hello("v1.north.1.2." + "0" * 32)
    assert beacon.parse_hello(line.rstrip(b"\r\n")) == "v1.north.1.2." + "0" * 32
    assert beacon.parse_answer(beacon.welcome(0.25)) == 0.25
    with pytest.raises(BeaconError, match="HQ refused the beacon: stale ticket"):
        beacon.parse_answer(beacon.refusal("stale ticket"))


@pytest.mark.parametrize("line", [b"OK", b"OK 0", b"OK 99999999", b"HELLO", b"OK x" * 200])
def test_an_answer_that_is_not_one_is_an_error(line: bytes) -> None:
    with pytest.raises(BeaconError):
        beacon.parse_answer(line)
