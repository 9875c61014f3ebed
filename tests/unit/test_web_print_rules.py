"""Web Print's pure rules: page ranges, options, the administrator's limits, the wording."""

from __future__ import annotations

import pytest

from printwarden.domain.web_print import (
    Kind,
    PrintOptions,
    WebPrintPolicy,
    parse_ranges,
    selected_pages,
    settling,
    wording,
)


@pytest.mark.parametrize(
    ("text", "ranges"),
    [("", ()), ("1-3, 5", ((1, 3), (5, 5))), ("2", ((2, 2),)), ("1-1,1-2", ((1, 1), (1, 2)))],
)
def test_page_ranges_parse(text: str, ranges: tuple[tuple[int, int], ...]) -> None:
    assert parse_ranges(text) == ranges


@pytest.mark.parametrize("text", ["a", "3-1", "0", "1-", "-2", "1-200000", "1;2"])
def test_bad_page_ranges_say_so(text: str) -> None:
    with pytest.raises(ValueError, match="page range"):
        parse_ranges(text)


def test_selected_pages_keep_document_order_once_each() -> None:
    assert selected_pages(parse_ranges("5, 1-2, 2"), 4) == [0, 1]
    assert selected_pages((), 3) == [0, 1, 2]
    assert selected_pages(parse_ranges("9"), 3) == []


def test_copies_are_bounded() -> None:
    with pytest.raises(ValueError, match="copies"):
        PrintOptions(copies=0)
    assert PrintOptions.from_json({"copies": 3, "unknown": 1}).copies == 3


def test_the_policy_refuses_by_group_network_and_kind() -> None:
    rules = WebPrintPolicy.from_json(
        {
            "allowed_groups": ["staff"],
            "allowed_networks": ["10.0.0.0/8"],
            "allowed_kinds": ["pdf"],
        }
    )
    assert rules.refusal(frozenset({"staff"}), "10.1.2.3") == ""
    assert "groups" in rules.refusal(frozenset({"students"}), "10.1.2.3")
    assert "network" in rules.refusal(frozenset({"staff"}), "192.168.1.1")
    assert "network" in rules.refusal(frozenset({"staff"}), "not-an-address")
    assert rules.kind_refusal(Kind.PDF) == ""
    assert "office" in rules.kind_refusal(Kind.OFFICE)
    assert "turned off" in WebPrintPolicy(enabled=False).refusal(frozenset(), "10.0.0.1")


@pytest.mark.parametrize(
    "bad",
    [{"max_bytes": 0}, {"allowed_kinds": ["exe"]}, {"allowed_networks": ["x"]},
     {"nonsense": 1}, {"addresses": {"a@b": "p/q"}}, {"keep_hours": 0}],
)  # fmt: skip
def test_a_bad_policy_is_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each says its own
        WebPrintPolicy.from_json(bad)


def test_the_policy_round_trips_through_json() -> None:
    rules = WebPrintPolicy(allowed_groups=("a",), addresses={"colour": "p/q"})
    assert WebPrintPolicy.from_json(rules.to_json()) == rules


def test_wording_follows_the_held_job_once_reported() -> None:
    assert wording("rendering", "") == "Rendering"
    assert wording("failed", "bad file") == "Could not render: bad file"
    assert wording("refused", "no credit") == "Denied: no credit"
    assert wording("accepted", "", "held", "") == "Held in a queue"
    assert wording("accepted", "", "printed", "") == "Printed"
    assert wording("accepted", "", "", "", held=True) == "At the print server"
    assert wording("accepted", "", "", "", held=False) == "Sent to the printer"
    assert settling("accepted", "", True)
    assert not settling("accepted", "held", True)
    assert not settling("failed", "", True)
