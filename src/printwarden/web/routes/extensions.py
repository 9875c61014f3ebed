"""Filters, print scripts and scheduled top-ups: an overview under ``/web/admin/extensions``
and, from their own modules, the editors (``filter_rules``, ``print_scripts``, ``top_ups``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from printwarden.store import filters, scripts, topups
from printwarden.web.guards import PageContext, admin_page
from printwarden.web.routes import filter_rules, print_scripts, top_ups

router = APIRouter()
# Their routes themselves, not included routers: the web tests list every APIRoute of ROUTERS.
router.routes.extend(
    [*filter_rules.router.routes, *print_scripts.router.routes, *top_ups.router.routes]
)


@router.get("/web/admin/extensions")
async def extensions_page(ctx: PageContext = Depends(admin_page)) -> Response:
    return await run_in_threadpool(_extensions_page, ctx)


def _extensions_page(ctx: PageContext) -> Response:
    with ctx.app.database.read() as session:
        return ctx.render(
            "admin/extensions.html",
            filter_scopes=sorted(filters.all_sets(session)),
            scripts=sorted(scripts.all_scripts(session), key=lambda s: s.printer),
            errors=len(scripts.recent_errors(session, 100)),
            topups=topups.get_rules(session),
        )
