"""Filters: one scope's rules (global or a printer's) with group overrides, edited as a form.

The form is turned into the JSON the API takes and checked by ``FilterSet.from_json``, so a
bad value is refused with the same message, and nothing is saved.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from printwarden.domain.filters import FilterSet, Rules
from printwarden.domain.money import Currency, MoneyError
from printwarden.store import filters
from printwarden.web import forms
from printwarden.web.guards import PageContext, admin_form, admin_page
from printwarden.web.messages import done
from printwarden.web.routes.scopes import checked_scope, printer_names, scope_label

router = APIRouter()
PATH = "/web/admin/filters"
MAX_GROUPS_JSON = 64 * 1024
_WHOLE = re.compile(r"-?\d{1,18}")


@dataclass(frozen=True, slots=True)
class RuleField:
    """One rule on the form; ``kind`` picks its input (number, money, flag, list, text,
    period, nup)."""

    name: str
    label: str
    kind: str


FIELDSETS: tuple[tuple[str, tuple[RuleField, ...]], ...] = (
    ("Conversions", (
        RuleField("grayscale", "Convert colour jobs to greyscale", "flag"),
        RuleField("duplex_over_pages", "Two-sided for jobs over N pages (0: every job of 2+)",
                  "number"),
        RuleField("nup", "Pages per side", "nup"),
        RuleField("fit_paper", "Fit to the printer's paper when it lacks the document's size",
                  "flag"),
    )),
    ("What may print", (
        RuleField("document_types", "Allowed document types (MIME types, image/* works)", "list"),
        RuleField("paper_sizes", "Allowed paper sizes", "list"),
        RuleField("deny_names", "Deny document names matching (shell patterns, any case)",
                  "list"),
        RuleField("deny_colour", "Deny colour jobs", "flag"),
        RuleField("colour_groups", "Colour only for members of these groups", "list"),
    )),
    ("Limits", (
        RuleField("max_pages", "Deny jobs over N pages", "number"),
        RuleField("min_pages", "Deny jobs under N pages", "number"),
        RuleField("max_cost", "Deny jobs costing more than", "money"),
        RuleField("duplicate_seconds", "Cancel the same document again within N seconds",
                  "number"),
        RuleField("page_allowance", "Page allowance", "number"),
        RuleField("allowance_period", "Allowance period", "period"),
    )),
    ("Approval", (
        RuleField("approval_pages", "Hold jobs over N pages for approval", "number"),
        RuleField("approval_cost", "Hold jobs costing more than", "money"),
        RuleField("approver_group", "Approver group (besides administrators)", "text"),
    )),
)  # fmt: skip
RULE_FIELDS = tuple(f for _legend, group in FIELDSETS for f in group)
assert {f.name for f in RULE_FIELDS} == {f.name for f in fields(Rules)}

# The pipeline of docs/filters.md, each step with the rules it uses.
PIPELINE = (
    ("Conversions", ("grayscale", "duplex_over_pages", "nup", "fit_paper")),
    ("Document type", ("document_types",)),
    ("Paper size", ("paper_sizes",)),
    ("Document name", ("deny_names",)),
    ("Colour", ("deny_colour", "colour_groups")),
    ("Pages over or under", ("max_pages", "min_pages")),
    ("Cost", ("max_cost",)),
    ("Duplicate", ("duplicate_seconds",)),
    ("Allowance", ("page_allowance", "allowance_period")),
    ("Approval", ("approval_pages", "approval_cost", "approver_group")),
)


@router.get(PATH)
async def filters_page(
    ctx: PageContext = Depends(admin_page), printer: str = Query("", max_length=128)
) -> Response:
    return await run_in_threadpool(_filters_page, ctx, printer)


def _filters_page(
    ctx: PageContext, printer: str, posted: dict[str, str] | None = None, error: str = ""
) -> Response:
    with ctx.app.database.read() as session:
        scope = checked_scope(session, printer)
        saved = filters.get(session, scope)
        scopes = sorted(filters.all_sets(session))
        names = printer_names(session)
    shown = form_values(saved, ctx.currency)
    return ctx.render(
        "admin/filters.html",
        422 if error else 200,
        scope=scope,
        scope_label=scope_label(scope),
        printers=names,
        scopes=scopes,
        fieldsets=FIELDSETS,
        values=posted if posted is not None else shown,
        pipeline=[(step, [(n, shown[n]) for n in used if shown[n]]) for step, used in PIPELINE],
        groups_set=[g for g, _rules in saved.groups],
        error=error,
    )


@router.post(PATH)
async def save_filters(posted: tuple[PageContext, FormData] = Depends(admin_form)) -> Response:
    ctx, form = posted
    printer = forms.text(form, "printer", 128)
    values = posted_values(form)
    try:
        filter_set = parse_form(values, ctx.currency)
    except ValueError as exc:
        return await run_in_threadpool(_filters_page, ctx, printer, values, str(exc))
    await run_in_threadpool(_save, ctx, printer, filter_set)
    return RedirectResponse(done(scope_path(printer), "filters-saved"), status_code=303)


def _save(ctx: PageContext, printer: str, filter_set: FilterSet) -> None:
    with ctx.app.database.session() as session:
        filters.put(session, filter_set, checked_scope(session, printer))


def scope_path(printer: str) -> str:
    return f"{PATH}?printer={quote(printer, safe='')}" if printer else PATH


# --- form values <-> rules ----------------------------------------------------------------


def form_values(filter_set: FilterSet, currency: Currency) -> dict[str, str]:
    """The form's text for every rule of ``filter_set`` ("" : not set) and its overrides."""
    values = {f.name: _shown(f, filter_set.rules.get(f.name), currency) for f in RULE_FIELDS}
    groups = filter_set.to_json()["groups"]
    values["groups"] = json.dumps(groups, indent=2) if groups else ""
    return values


def _shown(rule: RuleField, value: Any, currency: Currency) -> str:
    if value is None:
        return ""
    if rule.kind == "flag":
        return "yes" if value else "no"
    if rule.kind == "money":
        return currency.format(value)
    if rule.kind == "list":
        return ", ".join(value)
    return str(value)


def posted_values(form: FormData) -> dict[str, str]:
    values = {f.name: forms.text(form, f.name, 4000) for f in RULE_FIELDS}
    values["groups"] = forms.text(form, "groups", MAX_GROUPS_JSON)
    return values


def parse_form(values: dict[str, str], currency: Currency) -> FilterSet:
    """The filter set the form describes (``ValueError`` with the reason otherwise)."""
    parsed = {f.name: _parsed(f, values[f.name], currency) for f in RULE_FIELDS if values[f.name]}
    rules = {name: value for name, value in parsed.items() if value != []}
    try:
        groups = json.loads(values["groups"]) if values["groups"] else {}
    except json.JSONDecodeError as exc:
        raise ValueError(f"group overrides are not JSON: {exc}") from None
    return FilterSet.from_json({"rules": rules, "groups": groups})


def _parsed(rule: RuleField, text: str, currency: Currency) -> Any:
    """The JSON value of one field; a malformed one is passed on for ``from_json`` to name."""
    if rule.kind in ("number", "nup"):
        return int(text) if _WHOLE.fullmatch(text) else text
    if rule.kind == "money":
        try:
            return currency.parse(text)
        except MoneyError as exc:
            raise ValueError(f"{rule.name}: {exc}") from None
    if rule.kind == "flag":
        return {"yes": True, "no": False}.get(text, text)
    if rule.kind == "list":
        return [item.strip() for item in text.split(",") if item.strip()]
    return text
