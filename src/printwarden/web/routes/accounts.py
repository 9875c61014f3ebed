"""Shared accounts (search, paging, create, edit) and every account's balance changes:
top-up or adjustment with a comment, idempotent by the transaction id the form carries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from printwarden.domain.ledger import TransactionKind
from printwarden.service import views
from printwarden.service.problems import problem_of
from printwarden.store import accounts, ledger
from printwarden.store.errors import AlreadyExists, InvalidReference, NotFound
from printwarden.usecases import balances
from printwarden.usecases.errors import IdempotencyConflict, Invalid
from printwarden.web import forms
from printwarden.web.guards import PageContext, WebError, admin_form, admin_page
from printwarden.web.messages import done
from printwarden.web.redirects import safe_next

router = APIRouter()
PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class BalanceForm:
    """The top-up/adjust form of one account; a new transaction id each time it is shown, so
    submitting the same form twice changes the balance once."""

    account_id: int
    back: str
    txn_id: str


def balance_form(account_id: int, back: str) -> BalanceForm:
    return BalanceForm(account_id, back, str(uuid.uuid4()))


@router.post("/web/admin/accounts/by-id/{account_id}/balance")
async def change_balance(
    account_id: int, posted: tuple[PageContext, FormData] = Depends(admin_form)
) -> Response:
    ctx, form = posted
    kind = TransactionKind.TOP_UP if form.get("kind") == "top-up" else TransactionKind.ADJUSTMENT
    amount = forms.money(form, "amount", ctx.currency)
    try:
        balances.check_amount(kind, amount)
    except Invalid:
        message = "A top-up is positive; an adjustment is not zero."
        raise WebError(422, "Invalid amount", message) from None
    try:
        txn_id = str(uuid.UUID(forms.text(form, "txn_id", 40)))
    except ValueError:
        raise WebError(422, "Invalid input", "The form lacks its transaction id.") from None
    by = ctx.session.username
    change = balances.BalanceChange(
        txn_id, account_id, amount, kind, by, forms.text(form, "comment", 1000)
    )
    await run_in_threadpool(_apply, ctx, change)
    back = safe_next(forms.text(form, "back", 300), ctx.session)
    return RedirectResponse(done(back, "balance-changed"), status_code=303)


def _apply(ctx: PageContext, change: balances.BalanceChange) -> None:
    with ctx.app.database.session() as session:
        try:
            balances.change_balance(session, change)
        except (NotFound, IdempotencyConflict) as exc:
            found = problem_of(exc)  # the API's mapping: 404 Not found, 409 Conflict
            raise WebError(found.status, found.title, found.detail) from None


@router.get("/web/admin/accounts")
async def accounts_page(
    ctx: PageContext = Depends(admin_page),
    search: str = Query("", max_length=128),
    page: int = Query(1, ge=1, le=100_000),
) -> Response:
    return await run_in_threadpool(_accounts_page, ctx, search, page)


def _accounts_page(ctx: PageContext, search: str, page: int, error: str = "") -> Response:
    with ctx.app.database.read() as session:
        rows = [r for r in accounts.list_shared(session) if search.lower() in r.name.lower()]
        pages = max(1, -(-len(rows) // PAGE_SIZE))
        shown = rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return ctx.render("admin/accounts.html", 409 if error else 200, accounts=shown,
                          total=len(rows), search=search, page=page, pages=pages,
                          error=error)  # fmt: skip


@router.post("/web/admin/accounts")
async def create_account(posted: tuple[PageContext, FormData] = Depends(admin_form)) -> Response:
    ctx, form = posted
    name = forms.text(form, "name", 128)
    if not name:
        raise WebError(422, "Invalid input", "An account name is required.")
    try:
        account_id = await run_in_threadpool(_create, ctx, name, _changes(ctx, form))
    except (AlreadyExists, InvalidReference) as exc:
        return await run_in_threadpool(_accounts_page, ctx, "", 1, str(exc))
    return RedirectResponse(done(account_path(account_id), "account-created"), status_code=303)


def _changes(ctx: PageContext, form: FormData) -> accounts.SharedAccountChanges:
    names = forms.text(form, "users", 4000)
    group_names = forms.text(form, "groups", 4000)
    return accounts.SharedAccountChanges(
        restricted=not forms.checked(form, "unrestricted"),
        credit_limit=forms.money(form, "credit_limit", ctx.currency)
        if form.get("credit_limit")
        else 0,
        enabled=forms.checked(form, "enabled") if "enabled" in form else True,
        pin=forms.text(form, "pin", 32) or None,
        comment=forms.text(form, "comment", 1000),
        users=[n.strip() for n in names.split(",") if n.strip()],
        groups=[n.strip() for n in group_names.split(",") if n.strip()],
    )


def _create(ctx: PageContext, name: str, changes: accounts.SharedAccountChanges) -> int:
    with ctx.app.database.session() as session:
        return accounts.create_shared(session, name, changes).id


def account_path(account_id: int) -> str:
    return f"/web/admin/accounts/{account_id}"


@router.get("/web/admin/accounts/{account_id}")
async def account_page(
    account_id: int,
    ctx: PageContext = Depends(admin_page),
    before: int | None = Query(None, ge=1),
) -> Response:
    return await run_in_threadpool(_account_page, ctx, account_id, before)


def _account_page(
    ctx: PageContext, account_id: int, before: int | None, error: str = ""
) -> Response:
    with ctx.app.database.read() as session:
        try:
            row = accounts.find_account(session, account_id)
        except NotFound as exc:
            raise WebError(404, "Not found", str(exc)) from None
        return ctx.render(
            "admin/account.html",
            422 if error else 200,
            account=views.account_out(session, row),
            history=ledger.recent(session, account_id=row.id, before=before, limit=50),
            balance=balance_form(row.id, account_path(row.id)),
            error=error,
        )


@router.post("/web/admin/accounts/{account_id}")
async def update_account(
    account_id: int, posted: tuple[PageContext, FormData] = Depends(admin_form)
) -> Response:
    ctx, form = posted
    try:
        await run_in_threadpool(_update, ctx, account_id, _changes(ctx, form))
    except (AlreadyExists, InvalidReference) as exc:
        return await run_in_threadpool(_account_page, ctx, account_id, None, str(exc))
    return RedirectResponse(done(account_path(account_id), "account-created"), status_code=303)


def _update(ctx: PageContext, account_id: int, changes: accounts.SharedAccountChanges) -> None:
    with ctx.app.database.session() as session:
        try:
            row = accounts.find_account(session, account_id)
        except NotFound as exc:
            raise WebError(404, "Not found", str(exc)) from None
        if row.kind != "shared":
            raise WebError(409, "Conflict", "Personal accounts are edited with their user.")
        accounts.update_shared(session, row, changes)
