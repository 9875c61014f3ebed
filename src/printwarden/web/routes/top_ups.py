"""Scheduled top-ups: each group's periodic credit, added, replaced or removed. Saving applies
the current period at once (as the API does); the ledger never credits a period twice."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from printwarden.domain.filters import Period
from printwarden.domain.topups import TopUpRule
from printwarden.store import groups, topups
from printwarden.store.errors import NotFound
from printwarden.web import forms
from printwarden.web.guards import PageContext, WebError, admin_form, admin_page
from printwarden.web.messages import done

router = APIRouter()
PATH = "/web/admin/top-ups"


@router.get(PATH)
async def topups_page(ctx: PageContext = Depends(admin_page)) -> Response:
    return await run_in_threadpool(_topups_page, ctx)


def _topups_page(ctx: PageContext, error: str = "") -> Response:
    with ctx.app.database.read() as session:
        rules = sorted(topups.get_rules(session), key=lambda rule: rule.group)
        names = [row.name for row, _members in groups.list_groups(session)]
    return ctx.render("admin/topups.html", 422 if error else 200, rules=rules, groups=names,
                      periods=list(Period), error=error)  # fmt: skip


@router.post(PATH)
async def save_topup(posted: tuple[PageContext, FormData] = Depends(admin_form)) -> Response:
    ctx, form = posted
    try:
        rule = _rule_from(ctx, form)
        await run_in_threadpool(_replace, ctx, rule.group, rule)
    except (ValueError, WebError) as exc:
        detail = exc.detail if isinstance(exc, WebError) else str(exc)
        return await run_in_threadpool(_topups_page, ctx, detail)
    return RedirectResponse(done(PATH, "topup-saved"), status_code=303)


def _rule_from(ctx: PageContext, form: FormData) -> TopUpRule:
    period = forms.text(form, "period", 16)
    try:
        chosen = Period(period)
    except ValueError:
        raise ValueError("period is day, week or month") from None
    amount = forms.money(form, "amount", ctx.currency)
    if amount <= 0:
        raise ValueError("A top-up amount is more than zero.")
    return TopUpRule(forms.text(form, "group", 128), amount, chosen)


@router.post(f"{PATH}/remove")
async def remove_topup(posted: tuple[PageContext, FormData] = Depends(admin_form)) -> Response:
    ctx, form = posted
    await run_in_threadpool(_replace, ctx, forms.text(form, "group", 128), None)
    return RedirectResponse(done(PATH, "topup-removed"), status_code=303)


def _known_group(session: Session, name: str) -> None:
    try:
        groups.find_group(session, name)
    except NotFound as exc:
        raise ValueError(str(exc)) from None


def _replace(ctx: PageContext, group: str, rule: TopUpRule | None) -> None:
    """Put ``rule`` in place of ``group``'s rule (none: remove it); apply what is due."""
    with ctx.app.database.session() as session:
        if rule is not None:
            _known_group(session, group)
        kept = [r for r in topups.get_rules(session) if r.group != group]
        topups.put_rules(session, kept + ([rule] if rule else []))
        topups.apply_due(session, datetime.now(UTC))
