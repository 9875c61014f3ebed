"""Ledger: idempotent apply by caller-supplied id; a balance is the sum of its ledger."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printwarden.domain.ledger import (
    APP_ORIGIN,
    Ledger,
    Transaction,
    TransactionKind,
    balances_from,
    is_valid_origin,
    site_origin,
)

PROPERTY = settings(max_examples=200, deadline=None, database=None)

# A small pool of ids and accounts, so that generated sequences repeat ids and share accounts.
TXN_IDS = [f"0190f0c0-0000-7000-8000-{n:012x}" for n in range(12)]
ACCOUNT_IDS = [1, 2, 3, 4]

transactions = st.builds(
    Transaction,
    id=st.sampled_from(TXN_IDS),
    account_id=st.sampled_from(ACCOUNT_IDS),
    amount=st.integers(min_value=-1_000_000, max_value=1_000_000),
    kind=st.sampled_from(list(TransactionKind)),
    reference=st.text(max_size=5),
    origin=st.sampled_from([APP_ORIGIN, "site:north", "site:south"]),
    comment=st.text(max_size=5),
)
sequences = st.lists(transactions, max_size=40)


def distinct_by_id(txns: list[Transaction]) -> list[Transaction]:
    """Transactions with unique ids: the first of each id wins."""
    return list({t.id: t for t in reversed(txns)}.values())[::-1]


def first_wins(txns: Iterable[Transaction]) -> dict[str, Transaction]:
    first: dict[str, Transaction] = {}
    for txn in txns:
        first.setdefault(txn.id, txn)
    return first


def sums_by_account(txns: Iterable[Transaction]) -> dict[int, int]:
    totals: dict[int, int] = {}
    for txn in txns:
        totals[txn.account_id] = totals.get(txn.account_id, 0) + txn.amount
    return totals


def ledger_of(txns: Iterable[Transaction]) -> Ledger:
    ledger = Ledger.empty()
    ledger.apply_all(txns)
    return ledger


def snapshot(ledger: Ledger) -> tuple[dict[str, Transaction], dict[int, int]]:
    return dict(ledger.entries), dict(ledger.balances)


def txn(
    txn_id: str = TXN_IDS[0],
    account_id: int = 1,
    amount: int = 100,
    kind: TransactionKind = TransactionKind.TOP_UP,
    reference: str = "",
) -> Transaction:
    return Transaction(
        id=txn_id, account_id=account_id, amount=amount, kind=kind, reference=reference
    )


# --- examples ----------------------------------------------------------------------------


def test_empty_ledger_has_zero_balances() -> None:
    ledger = Ledger.empty()
    assert ledger.balance(1) == 0
    assert ledger.entries == {}
    assert ledger.balances == {}
    assert balances_from([]) == {}


def test_empty_ledgers_do_not_share_state() -> None:
    first = Ledger.empty()
    second = Ledger.empty()
    first.apply(txn())
    assert second.entries == {}
    assert second.balance(1) == 0


def test_apply_new_transaction_records_it_and_moves_the_balance() -> None:
    ledger = Ledger.empty()
    top_up = txn(TXN_IDS[0], 1, 500)
    charge = txn(TXN_IDS[1], 1, -120, kind=TransactionKind.PRINT)
    other = txn(TXN_IDS[2], 2, 70)
    assert ledger.apply(top_up) == (top_up, True)
    assert ledger.apply(charge) == (charge, True)
    assert ledger.apply(other) == (other, True)
    assert ledger.balance(1) == 380
    assert ledger.balance(2) == 70
    assert ledger.balance(3) == 0
    assert ledger.entries == {TXN_IDS[0]: top_up, TXN_IDS[1]: charge, TXN_IDS[2]: other}


def test_apply_duplicate_returns_original_and_is_not_new() -> None:
    ledger = Ledger.empty()
    original = txn(TXN_IDS[0], 1, -250, kind=TransactionKind.PRINT, reference="job-1")
    assert ledger.apply(original) == (original, True)
    replay = dataclasses.replace(original, comment="retried")
    recorded, is_new = ledger.apply(replay)
    assert recorded is original
    assert is_new is False
    assert ledger.balance(1) == -250
    assert ledger.entries == {TXN_IDS[0]: original}


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": -999},
        {"amount": 250},
        {"amount": 0},
        {"account_id": 2},
        {"kind": TransactionKind.REFUND},
        {"origin": "site:north"},
        {"reference": "job-2"},
        {"created_at": datetime(2024, 1, 1, tzinfo=UTC)},
    ],
)
def test_apply_duplicate_with_different_content_changes_nothing(changes: dict[str, object]) -> None:
    ledger = Ledger.empty()
    original = txn(TXN_IDS[0], 1, -250, kind=TransactionKind.PRINT, reference="job-1")
    ledger.apply(original)
    before = snapshot(ledger)
    conflicting = dataclasses.replace(original, **changes)  # type: ignore[arg-type]
    recorded, is_new = ledger.apply(conflicting)
    assert recorded is original
    assert is_new is False
    assert snapshot(ledger) == before
    assert ledger.balance(2) == 0


def test_apply_all_counts_only_new_transactions() -> None:
    ledger = Ledger.empty()
    a = txn(TXN_IDS[0], 1, 10)
    b = txn(TXN_IDS[1], 1, 20)
    assert ledger.apply_all([a, b, a, b, a]) == 2
    assert ledger.apply_all([a, b]) == 0
    assert ledger.apply_all([]) == 0
    assert ledger.balance(1) == 30


def test_balances_from_counts_each_id_once_first_wins() -> None:
    a = txn(TXN_IDS[0], 1, 10)
    a_conflict = txn(TXN_IDS[0], 2, 999)
    b = txn(TXN_IDS[1], 2, -5)
    assert balances_from([a, b, a, a_conflict, b]) == {1: 10, 2: -5}


def test_zero_amount_transaction_is_recorded_with_a_zero_balance() -> None:
    ledger = Ledger.empty()
    assert ledger.apply(txn(TXN_IDS[0], 7, 0)) == (txn(TXN_IDS[0], 7, 0), True)
    assert ledger.balances == {7: 0}
    assert balances_from(ledger.entries.values()) == {7: 0}


# --- same_effect -------------------------------------------------------------------------


def test_same_effect_ignores_metadata_but_not_effect() -> None:
    original = txn(TXN_IDS[0], 1, -250, kind=TransactionKind.PRINT)
    assert original.same_effect(original)
    assert original.same_effect(
        dataclasses.replace(
            original,
            reference="r",
            origin="site:x",
            comment="c",
            created_at=datetime(2024, 1, 1, tzinfo=UTC),
        )
    )
    assert not original.same_effect(dataclasses.replace(original, id=TXN_IDS[1]))
    assert not original.same_effect(dataclasses.replace(original, account_id=2))
    assert not original.same_effect(dataclasses.replace(original, amount=-251))
    assert not original.same_effect(dataclasses.replace(original, kind=TransactionKind.COPY))


# --- origins -----------------------------------------------------------------------------


@pytest.mark.parametrize("origin", ["app", "site:x", "site:north-campus", "site:1", "site:site:"])
def test_valid_origins(origin: str) -> None:
    assert is_valid_origin(origin)


@pytest.mark.parametrize(
    "origin", ["", "site:", "site", "other", "App", "APP", "app ", " app", "sites:x", "Site:x"]
)
def test_invalid_origins(origin: str) -> None:
    assert not is_valid_origin(origin)


def test_app_origin_is_the_default() -> None:
    assert APP_ORIGIN == "app"
    assert txn().origin == "app"


@PROPERTY
@given(site_id=st.text(min_size=1, max_size=20))
def test_site_origin_is_valid_for_any_non_empty_site_id(site_id: str) -> None:
    origin = site_origin(site_id)
    assert origin == "site:" + site_id
    assert is_valid_origin(origin)


def test_site_origin_of_empty_id_is_invalid() -> None:
    assert not is_valid_origin(site_origin(""))


@PROPERTY
@given(origin=st.text(max_size=12))
def test_only_app_and_site_prefixed_origins_are_valid(origin: str) -> None:
    expected = origin == "app" or (origin.startswith("site:") and origin != "site:")
    assert is_valid_origin(origin) == expected


# --- properties --------------------------------------------------------------------------


@PROPERTY
@given(seq=sequences)
def test_ledger_identity(seq: list[Transaction]) -> None:
    """After any sequence: balance == sum of the distinct entries == balances_from(sequence)."""
    ledger = Ledger.empty()
    new_count = ledger.apply_all(seq)
    first = first_wins(seq)
    assert new_count == len(first)
    assert ledger.entries == first
    expected = sums_by_account(first.values())
    assert dict(ledger.balances) == expected
    assert dict(balances_from(seq)) == expected
    assert dict(balances_from(ledger.entries.values())) == expected
    for account_id in ACCOUNT_IDS:
        in_ledger = sum(t.amount for t in ledger.entries.values() if t.account_id == account_id)
        assert ledger.balance(account_id) == in_ledger == balances_from(seq).get(account_id, 0)


@PROPERTY
@given(seq=sequences)
def test_apply_reports_new_exactly_for_first_occurrence(seq: list[Transaction]) -> None:
    ledger = Ledger.empty()
    seen: dict[str, Transaction] = {}
    for item in seq:
        recorded, is_new = ledger.apply(item)
        assert is_new == (item.id not in seen)
        seen.setdefault(item.id, item)
        assert recorded is seen[item.id]
        assert dict(ledger.balances) == sums_by_account(seen.values())


@PROPERTY
@given(seq=sequences, data=st.data())
def test_replay_with_duplicates_gives_same_state(
    seq: list[Transaction], data: st.DataObject
) -> None:
    """Replaying (shuffled, duplicated, prefixes) changes neither balances nor entries."""
    unique = distinct_by_id(seq)
    reference = ledger_of(unique)
    expected = snapshot(reference)

    shuffled = data.draw(st.permutations(unique), label="shuffled")
    prefix_len = data.draw(st.integers(min_value=0, max_value=len(unique)), label="prefix")
    extra = (
        data.draw(st.lists(st.sampled_from(unique), max_size=20), label="extra") if unique else []
    )

    replays: list[list[Transaction]] = [
        unique + unique,
        shuffled,
        unique[:prefix_len] + unique,
        unique + unique[:prefix_len],
        shuffled + extra + unique[:prefix_len],
        extra + unique + shuffled,
    ]
    for replay in replays:
        fresh = ledger_of(replay)
        assert snapshot(fresh) == expected
    # Replaying on top of the ledger that has everything adds nothing.
    for replay in replays:
        assert reference.apply_all(replay) == 0
        assert snapshot(reference) == expected


@PROPERTY
@given(
    seq=sequences,
    deltas=st.lists(st.integers(min_value=-1000, max_value=1000), min_size=1, max_size=40),
    other_account=st.sampled_from(ACCOUNT_IDS),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_replay_with_altered_content_after_the_originals_changes_nothing(
    seq: list[Transaction], deltas: list[int], other_account: int, seed: int
) -> None:
    unique = distinct_by_id(seq)
    ledger = ledger_of(unique)
    expected = snapshot(ledger)
    altered = [
        dataclasses.replace(t, amount=t.amount + d, account_id=other_account, comment="replayed")
        for t, d in zip(unique, deltas * len(unique), strict=False)
    ]
    random.Random(seed).shuffle(altered)
    assert ledger.apply_all(altered) == 0
    for item in altered:
        recorded, is_new = ledger.apply(item)
        assert not is_new
        assert recorded is expected[0][item.id]
    assert snapshot(ledger) == expected


@PROPERTY
@given(seq=sequences, split=st.integers(min_value=0, max_value=40))
def test_applying_in_two_batches_equals_applying_at_once(
    seq: list[Transaction], split: int
) -> None:
    """A site that syncs in batches (and resends the overlap) ends where a single sync would."""
    at_once = ledger_of(seq)
    batched = Ledger.empty()
    batched.apply_all(seq[:split])
    batched.apply_all(seq[max(0, split - 5) :])
    assert snapshot(batched) == snapshot(at_once)


@PROPERTY
@given(seq=sequences)
def test_balances_from_matches_independent_sum(seq: list[Transaction]) -> None:
    totals: Mapping[int, int] = balances_from(seq)
    assert dict(totals) == sums_by_account(first_wins(seq).values())
    assert set(totals) == {t.account_id for t in first_wins(seq).values()}
