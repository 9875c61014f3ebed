"""Shared accounts, balance changes and the transaction log."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response
from sqlalchemy.orm import Session

from printwarden.api.accounts import (
    AccountOut,
    AdjustIn,
    BalanceChangeOut,
    SharedAccountFields,
    SharedAccountIn,
    TopUpIn,
    TransactionOut,
)
from printwarden.domain.ledger import TransactionKind
from printwarden.service import views
from printwarden.service.routes.deps import admin_only, read_session, write_session
from printwarden.store import accounts, ledger
from printwarden.store.tokens import Caller
from printwarden.usecases import balances

router = APIRouter(tags=["accounts"])


def _changes(body: SharedAccountFields) -> accounts.SharedAccountChanges:
    return accounts.SharedAccountChanges(**body.model_dump(exclude_unset=True, exclude={"name"}))


@router.get("/accounts", dependencies=[Depends(admin_only)])
def list_accounts(session: Session = Depends(read_session)) -> list[AccountOut]:
    """Shared accounts by name (personal accounts are shown with their users)."""
    return [views.account_out(session, row) for row in accounts.list_shared(session)]


@router.post("/accounts", status_code=201, dependencies=[Depends(admin_only)])
def create_account(body: SharedAccountIn, session: Session = Depends(write_session)) -> AccountOut:
    """Create a shared account (a sub-account when ``parent`` is given)."""
    row = accounts.create_shared(session, body.name, _changes(body))
    return views.account_out(session, row)


@router.get("/accounts/{name}", dependencies=[Depends(admin_only)])
def get_account(name: str, session: Session = Depends(read_session)) -> AccountOut:
    return views.account_out(session, accounts.find_shared(session, name))


@router.patch("/accounts/{name}", dependencies=[Depends(admin_only)])
def update_account(
    name: str, body: SharedAccountFields, session: Session = Depends(write_session)
) -> AccountOut:
    """Change a shared account; ``users`` and ``groups``, when given, replace its grants."""
    row = accounts.find_shared(session, name)
    accounts.update_shared(session, row, _changes(body))
    return views.account_out(session, row)


@router.delete("/accounts/{name}", status_code=204, dependencies=[Depends(admin_only)])
def delete_account(name: str, session: Session = Depends(write_session)) -> Response:
    accounts.delete_shared(session, accounts.find_shared(session, name))
    return Response(status_code=204)


def _change_balance(
    session: Session,
    account_id: int,
    body: TopUpIn | AdjustIn,
    kind: TransactionKind,
    caller: Caller,
) -> BalanceChangeOut:
    change = balances.BalanceChange(
        body.txn_id, account_id, body.amount, kind, str(caller.username), body.comment
    )
    changed = balances.change_balance(session, change)
    return BalanceChangeOut(
        transaction=views.domain_transaction_out(session, changed.transaction),
        balance=changed.balance,
        duplicate=changed.duplicate,
    )


@router.post("/accounts/by-id/{account_id}/top-up")
def top_up(
    account_id: int,
    body: TopUpIn,
    caller: Caller = Depends(admin_only),
    session: Session = Depends(write_session),
) -> BalanceChangeOut:
    """Add credit to an account. Replaying the same ``txn_id`` changes nothing."""
    return _change_balance(session, account_id, body, TransactionKind.TOP_UP, caller)


@router.post("/accounts/by-id/{account_id}/adjust")
def adjust(
    account_id: int,
    body: AdjustIn,
    caller: Caller = Depends(admin_only),
    session: Session = Depends(write_session),
) -> BalanceChangeOut:
    """Adjust an account up or down. Replaying the same ``txn_id`` changes nothing."""
    return _change_balance(session, account_id, body, TransactionKind.ADJUSTMENT, caller)


@router.get("/transactions", dependencies=[Depends(admin_only)])
def list_transactions(
    session: Session = Depends(read_session),
    account_id: int | None = Query(None, ge=1),
    kind: TransactionKind | None = None,
    origin: str | None = Query(None, max_length=80),
    before: int | None = Query(None, ge=1, description="Only entries with seq below this"),
    limit: int = Query(100, ge=1, le=1000),
) -> list[TransactionOut]:
    """The ledger, newest first; page with ``before`` = the last ``seq`` you received."""
    rows = ledger.recent(
        session,
        account_id=account_id,
        kind=kind.value if kind else None,
        origin=origin,
        before=before,
        limit=limit,
    )
    return [views.transaction_out(r) for r in rows]
