"""Users: search and paging, create, edit; a user's page has their account's top-up/adjust
form and transaction history (see :mod:`.accounts` for the balance change itself)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from printwarden.store import groups, ledger, users
from printwarden.store.errors import AlreadyExists, InvalidReference, LastAdministrator, NotFound
from printwarden.web import forms
from printwarden.web.guards import PageContext, WebError, admin_form, admin_page
from printwarden.web.messages import done
from printwarden.web.routes.accounts import balance_form

router = APIRouter()
PAGE_SIZE = 50


@router.get("/web/admin/users")
async def users_page(
    ctx: PageContext = Depends(admin_page),
    search: str = Query("", max_length=128),
    page: int = Query(1, ge=1, le=100_000),
) -> Response:
    return await run_in_threadpool(_users_page, ctx, search, page)


def _users_page(ctx: PageContext, search: str, page: int, error: str = "") -> Response:
    """All users paged with a total; a search pages on without counting every match."""
    offset = (page - 1) * PAGE_SIZE
    with ctx.app.database.read() as session:
        if search:
            found, more = users.search_users(session, search, offset=offset, limit=PAGE_SIZE)
            total = None
        else:
            found, total = users.list_users(session, offset=offset, limit=PAGE_SIZE)
            more = offset + PAGE_SIZE < total
        return ctx.render("admin/users.html", 409 if error else 200, users=found, total=total,
                          search=search, page=page, more=more, error=error)  # fmt: skip


@router.post("/web/admin/users")
async def create_user(posted: tuple[PageContext, FormData] = Depends(admin_form)) -> Response:
    ctx, form = posted
    username = forms.text(form, "username", 128)
    if not username:
        raise WebError(422, "Invalid input", "A username is required.")
    changes = users.UserChanges(
        full_name=forms.text(form, "full_name"),
        email=forms.text(form, "email"),
        password=forms.text(form, "password", 1024) or None,
        restricted=not forms.checked(form, "unrestricted"),
        is_admin=forms.checked(form, "is_admin"),
    )
    try:
        await run_in_threadpool(_create, ctx, username, changes)
    except AlreadyExists as exc:
        return await run_in_threadpool(_users_page, ctx, "", 1, str(exc))
    return RedirectResponse(done(user_path(username), "user-created"), status_code=303)


def _create(ctx: PageContext, username: str, changes: users.UserChanges) -> None:
    with ctx.app.database.session() as session:
        users.create_user(session, ctx.app.secret, username, changes)


def user_path(username: str) -> str:
    return "/web/admin/users/" + quote(username, safe="")


@router.get("/web/admin/users/{username}")
async def user_page(
    username: str,
    ctx: PageContext = Depends(admin_page),
    before: int | None = Query(None, ge=1),
) -> Response:
    return await run_in_threadpool(_user_page, ctx, username, before)


def _user_page(
    ctx: PageContext, username: str, before: int | None, error: str = "", status: int = 422
) -> Response:
    with ctx.app.database.read() as session:
        try:
            view = users.views(session, [users.find_user(session, username)])[0]
        except NotFound as exc:
            raise WebError(404, "Not found", str(exc)) from None
        history = ledger.recent(session, account_id=view.account.id, before=before, limit=50)
        return ctx.render(
            "admin/user.html",
            status if error else 200,
            view=view,
            all_groups=[g.name for g, _ in groups.list_groups(session)],
            history=history,
            balance=balance_form(view.account.id, user_path(username)),
            error=error,
        )


@router.post("/web/admin/users/{username}")
async def update_user(
    username: str, posted: tuple[PageContext, FormData] = Depends(admin_form)
) -> Response:
    ctx, form = posted
    changes = users.UserChanges(
        full_name=forms.text(form, "full_name"),
        email=forms.text(form, "email"),
        groups=[str(g) for g in form.getlist("groups")],
        password=forms.text(form, "password", 1024) or None,
        restricted=not forms.checked(form, "unrestricted"),
        credit_limit=forms.money(form, "credit_limit", ctx.currency),
        enabled=forms.checked(form, "enabled"),
        is_admin=forms.checked(form, "is_admin"),
    )
    try:
        await run_in_threadpool(_update, ctx, username, changes)
    except LastAdministrator as exc:
        return await run_in_threadpool(_user_page, ctx, username, None, str(exc), 409)
    except (InvalidReference, AlreadyExists, ValueError) as exc:
        return await run_in_threadpool(_user_page, ctx, username, None, str(exc))
    return RedirectResponse(done(user_path(username), "user-saved"), status_code=303)


def _update(ctx: PageContext, username: str, changes: users.UserChanges) -> None:
    with ctx.app.database.session() as session:
        try:
            row = users.find_user(session, username)
        except NotFound as exc:
            raise WebError(404, "Not found", str(exc)) from None
        if changes.credit_limit is not None and changes.credit_limit < 0:
            raise ValueError("the credit limit must not be negative")
        users.update_user(session, ctx.app.secret, row, changes)


@router.get("/web/admin/groups")
async def groups_page(ctx: PageContext = Depends(admin_page)) -> Response:
    return await run_in_threadpool(_groups_page, ctx)


def _groups_page(ctx: PageContext, error: str = "") -> Response:
    with ctx.app.database.read() as session:
        found = groups.list_groups(session)
        return ctx.render("admin/groups.html", 409 if error else 200, groups=found, error=error)


@router.post("/web/admin/groups")
async def create_group(posted: tuple[PageContext, FormData] = Depends(admin_form)) -> Response:
    ctx, form = posted
    name = forms.text(form, "name", 128)
    if not name:
        raise WebError(422, "Invalid input", "A group name is required.")
    try:
        await run_in_threadpool(_create_group, ctx, name)
    except AlreadyExists as exc:
        return await run_in_threadpool(_groups_page, ctx, str(exc))
    return RedirectResponse(done("/web/admin/groups", "group-created"), status_code=303)


def _create_group(ctx: PageContext, name: str) -> None:
    with ctx.app.database.session() as session:
        groups.create_group(session, name)
