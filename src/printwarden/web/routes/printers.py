"""Printers and devices: costs, the queues that feed them, and status as providers report it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from printwarden.store import printers, providers
from printwarden.store.errors import NotFound
from printwarden.web import forms
from printwarden.web.guards import PageContext, WebError, admin_form, admin_page
from printwarden.web.messages import done

router = APIRouter()
PRICE_FIELDS = ("grey_simplex", "grey_duplex", "colour_simplex", "colour_duplex")


@router.get("/web/admin/printers")
async def printers_page(ctx: PageContext = Depends(admin_page)) -> Response:
    return await run_in_threadpool(_printers_page, ctx)


def _printers_page(ctx: PageContext) -> Response:
    with ctx.app.database.read() as session:
        served: dict[str, list[dict[str, Any]]] = {}
        for provider in providers.list_providers(session):
            for queue in provider.queues:
                served.setdefault(str(queue.get("printer") or ""), []).append(
                    {"provider": provider.name, **queue}
                )
        status = {
            str(p.get("name")): {"provider": provider.name, **p}
            for provider in providers.list_providers(session)
            for p in provider.printers
        }
        return ctx.render(
            "admin/printers.html",
            printers=printers.list_printers(session),
            devices=printers.list_devices(session),
            printer_names={p.id: p.name for p in printers.list_printers(session)},
            queues=served,
            reported=status,
            price_fields=PRICE_FIELDS,
        )


@router.post("/web/admin/printers/{name}/prices")
async def set_prices(
    name: str, posted: tuple[PageContext, FormData] = Depends(admin_form)
) -> Response:
    """Set the default page prices (the other parts of the cost model stay as they are)."""
    ctx, form = posted
    prices = {field: forms.money(form, field, ctx.currency) for field in PRICE_FIELDS}
    if any(value < 0 for value in prices.values()):
        raise WebError(422, "Invalid amount", "Prices must not be negative.")
    await run_in_threadpool(_set_prices, ctx, name, prices)
    return RedirectResponse(done("/web/admin/printers", "printer-saved"), status_code=303)


def _set_prices(ctx: PageContext, name: str, prices: dict[str, int]) -> None:
    with ctx.app.database.session() as session:
        try:
            row = printers.find_printer(session, name)
        except NotFound as exc:
            raise WebError(404, "Not found", str(exc)) from None
        model = dict(row.cost_model or {})
        sizes = dict(model.get("sizes") or {})
        sizes["default"] = {**dict(sizes.get("default") or {}), **prices}
        model["sizes"] = sizes
        printers.save_printer(session, name, {"cost_model": model}, create=False)
