"""The "change a balance" use case, which the API, the web console and the CLI all call."""

from __future__ import annotations

import pytest

from printwarden.domain.ledger import TransactionKind
from printwarden.store import accounts, ledger, users
from printwarden.store.db import Database
from printwarden.usecases import balances
from printwarden.usecases.errors import IdempotencyConflict, Invalid, NotFound

KEY = b"k" * 32
TOP_UP, ADJUST = TransactionKind.TOP_UP, TransactionKind.ADJUSTMENT


def _alice(hq: Database) -> int:
    with hq.session() as session:
        row = users.create_user(session, KEY, "alice", users.UserChanges())
        return users.personal_account(session, row.id).id


def test_a_top_up_is_recorded_once(hq: Database) -> None:
    account = _alice(hq)
    change = balances.BalanceChange("t-1", account, 500, TOP_UP, "root", "cash")
    with hq.session() as session:
        first = balances.change_balance(session, change)
    with hq.session() as session:
        again = balances.change_balance(session, change)
        assert ledger.ledger_sum(session, account) == 500
    assert (first.balance, first.duplicate) == (500, False)
    assert (again.balance, again.duplicate) == (500, True)
    assert first.transaction.reference == "admin:root"
    assert first.transaction.comment == "cash"
    assert again.transaction.id == "t-1"


def test_an_adjustment_may_go_down(hq: Database) -> None:
    account = _alice(hq)
    with hq.session() as session:
        changed = balances.change_balance(
            session, balances.BalanceChange("a-1", account, -150, ADJUST, "root")
        )
    assert changed.balance == -150
    assert changed.account.id == account


@pytest.mark.parametrize(
    ("kind", "amount", "message"),
    [
        (TOP_UP, 0, "a top-up must be positive"),
        (TOP_UP, -1, "a top-up must be positive"),
        (ADJUST, 0, "an adjustment must not be zero"),
        (TransactionKind.PRINT, -5, "a top-up or an adjustment"),
    ],
)
def test_amounts_that_do_not_suit_the_kind_are_invalid(
    kind: TransactionKind, amount: int, message: str
) -> None:
    with pytest.raises(Invalid, match=message):
        balances.check_amount(kind, amount)


def test_invalid_amounts_change_nothing(hq: Database) -> None:
    account = _alice(hq)
    with hq.session() as session, pytest.raises(Invalid):
        balances.change_balance(session, balances.BalanceChange("x", account, 0, TOP_UP, "r"))
    with hq.read() as session:
        assert ledger.ledger_sum(session, account) == 0


def test_an_unknown_account_is_not_found(hq: Database) -> None:
    with hq.session() as session, pytest.raises(NotFound, match="no account with id 999"):
        balances.change_balance(session, balances.BalanceChange("x", 999, 5, TOP_UP, "r"))


def test_a_replay_with_another_effect_conflicts(hq: Database) -> None:
    account = _alice(hq)
    with hq.session() as session:
        balances.change_balance(session, balances.BalanceChange("t", account, 5, TOP_UP, "r"))
    with hq.session() as session, pytest.raises(IdempotencyConflict):
        balances.change_balance(session, balances.BalanceChange("t", account, 6, TOP_UP, "r"))


def test_the_account_is_the_shared_one_named_or_the_users_own(hq: Database) -> None:
    personal = _alice(hq)
    with hq.session() as session:
        shared = accounts.create_shared(session, "lab", accounts.SharedAccountChanges()).id
    with hq.read() as session:
        assert balances.account_of(session, "alice", "").id == personal
        assert balances.account_of(session, "alice", "lab").id == shared
        assert balances.account_of(session, "", "lab").id == shared
        with pytest.raises(NotFound, match="no user named 'bob'"):
            balances.account_of(session, "bob", "")
        with pytest.raises(NotFound, match="no shared account named 'gym'"):
            balances.account_of(session, "alice", "gym")
