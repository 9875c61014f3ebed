"""Filters, print scripts and scheduled top-ups: set on the App Server (filters and scripts
replicate to sites as settings)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from printwarden.api.accounts import TopUpsIO
from printwarden.api.filters import FilterSetIO, FiltersOut
from printwarden.api.scripts import (
    ScriptErrorOut,
    ScriptErrorsOut,
    ScriptIn,
    ScriptOut,
    ScriptsOut,
    ScriptTestIn,
    ScriptTestOut,
)
from printwarden.domain.filters import FilterSet
from printwarden.domain.topups import rules_from_json, rules_to_json
from printwarden.scripting import check_script
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import admin_only, read_session, write_session
from printwarden.store import filters, printers, scripts, topups
from printwarden.store.errors import NotFound
from printwarden.usecases import script_dry_run

router = APIRouter(tags=["job policies"], dependencies=[Depends(admin_only)])

PrinterQuery = Query(
    default="", max_length=128, description="A printer's name; empty for the global scope"
)


def _known_printer(session: Session, printer: str) -> None:
    if not printer:
        return
    try:
        printers.find_printer(session, printer)
    except NotFound as exc:
        raise Problem(404, "Not found", str(exc)) from None


def _io(filter_set: FilterSet) -> FilterSetIO:
    return FilterSetIO(**filter_set.to_json())


@router.get("/filters")
def list_filters(session: Session = Depends(read_session)) -> FiltersOut:
    """Every filter set: the global rules and each printer's."""
    found = filters.all_sets(session)
    return FiltersOut(
        global_rules=_io(found.pop("", FilterSet())),
        printers={name: _io(rules) for name, rules in sorted(found.items())},
    )


@router.put("/filters")
def set_filters(
    body: FilterSetIO,
    printer: str = PrinterQuery,
    session: Session = Depends(write_session),
) -> FilterSetIO:
    """Replace the rules of one scope; they apply to the next job everywhere (sites too)."""
    _known_printer(session, printer)
    try:
        filter_set = FilterSet.from_json(body.model_dump())
    except ValueError as exc:
        raise Problem(422, "Invalid filter", str(exc)) from None
    filters.put(session, filter_set, printer)
    return _io(filter_set)


@router.delete("/filters", status_code=204)
def clear_filters(printer: str = PrinterQuery, session: Session = Depends(write_session)) -> None:
    filters.put(session, FilterSet(), printer)


@router.get("/scripts")
def list_scripts(session: Session = Depends(read_session)) -> ScriptsOut:
    return ScriptsOut(
        scripts=[
            ScriptOut(printer=s.printer, source=s.source, enabled=s.enabled)
            for s in sorted(scripts.all_scripts(session), key=lambda s: s.printer)
        ]
    )


@router.put("/scripts")
def set_script(
    body: ScriptIn,
    printer: str = PrinterQuery,
    session: Session = Depends(write_session),
) -> ScriptOut:
    """Attach a script to a printer (or globally); refused if it does not compile."""
    _known_printer(session, printer)
    problem = check_script(body.source)
    if problem:
        raise Problem(422, "Invalid script", problem)
    scripts.put(session, scripts.Script(printer, body.source, body.enabled))
    return ScriptOut(printer=printer, source=body.source, enabled=body.enabled)


@router.delete("/scripts", status_code=204)
def remove_script(printer: str = PrinterQuery, session: Session = Depends(write_session)) -> None:
    scripts.remove(session, printer)


@router.get("/scripts/errors")
def script_errors(
    limit: int = Query(default=100, ge=1, le=1000), session: Session = Depends(read_session)
) -> ScriptErrorsOut:
    """The newest errors of print scripts (each job went on under the other rules)."""
    return ScriptErrorsOut(
        errors=[
            ScriptErrorOut(
                script=row.script,
                printer=row.printer,
                job_ref=row.job_ref,
                username=row.username,
                message=row.message,
                at=row.at,
            )
            for row in scripts.recent_errors(session, limit)
        ]
    )


@router.post("/scripts/test")
def dry_run_script(body: ScriptTestIn, session: Session = Depends(read_session)) -> ScriptTestOut:
    """Dry-run a script against a sample job: what it would do (nothing is stored)."""
    return script_dry_run.with_stored_properties(session, body)


@router.get("/topups")
def get_topups(session: Session = Depends(read_session)) -> TopUpsIO:
    """Scheduled credit top-ups per group."""
    return TopUpsIO(**rules_to_json(topups.get_rules(session)))


@router.put("/topups")
def set_topups(body: TopUpsIO, session: Session = Depends(write_session)) -> TopUpsIO:
    """Replace the scheduled top-ups; each applies once per period, the current one now."""
    try:
        rules = rules_from_json(body.model_dump())
    except ValueError as exc:
        raise Problem(422, "Invalid top-up", str(exc)) from None
    topups.put_rules(session, rules)
    topups.apply_due(session, datetime.now(UTC))
    return TopUpsIO(**rules_to_json(rules))
