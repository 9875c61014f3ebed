"""Print scripts: per scope an editor (save refused when the script does not compile),
remove, a dry run against a sample job, and the newest script errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from printwarden.api.scripts import SampleJobIn, ScriptTestIn, ScriptTestOut
from printwarden.scripting import check_script
from printwarden.store import scripts
from printwarden.usecases import script_dry_run
from printwarden.web import forms
from printwarden.web.guards import PageContext, WebError, admin_form, admin_page
from printwarden.web.messages import done
from printwarden.web.routes.scopes import checked_scope, printer_names, scope_label

router = APIRouter()
PATH = "/web/admin/scripts"
MAX_SOURCE = 200_000
SHOWN_ERRORS = 20
SAMPLE = {"pages": "1", "colour_pages": "0", "cost": "0.10", "document_name": "sample.pdf",
          "username": "someone", "groups": "", "balance": "10.00"}  # fmt: skip


@dataclass(slots=True)
class Editor:
    """What the editor shows: a script's text, its switch, the sample job, a dry run's result."""

    source: str = ""
    enabled: bool = True
    sample: dict[str, str] = field(default_factory=lambda: dict(SAMPLE))
    result: ScriptTestOut | None = None
    error: str = ""


@router.get(PATH)
async def scripts_page(
    ctx: PageContext = Depends(admin_page), printer: str = Query("", max_length=128)
) -> Response:
    return await run_in_threadpool(_scripts_page, ctx, printer)


def _scripts_page(ctx: PageContext, printer: str, editor: Editor | None = None) -> Response:
    with ctx.app.database.read() as session:
        scope = checked_scope(session, printer)
        saved = scripts.get(session, scope)
        if editor is None:
            editor = Editor(saved.source, saved.enabled) if saved else Editor()
        return ctx.render(
            "admin/scripts.html",
            422 if editor.error else 200,
            scope=scope,
            scope_label=scope_label(scope),
            printers=printer_names(session),
            saved=sorted(scripts.all_scripts(session), key=lambda s: s.printer),
            has_script=saved is not None,
            editor=editor,
            errors=scripts.recent_errors(session, SHOWN_ERRORS),
        )


def scope_path(printer: str) -> str:
    return f"{PATH}?printer={quote(printer, safe='')}" if printer else PATH


def _posted_editor(form: FormData) -> Editor:
    sample = {name: forms.text(form, name, 256) for name in SAMPLE}
    source = forms.text(form, "source", MAX_SOURCE).replace("\r\n", "\n")  # browsers send CRLF
    return Editor(source, forms.checked(form, "enabled"), sample)


@router.post(PATH)
async def save_script(posted: tuple[PageContext, FormData] = Depends(admin_form)) -> Response:
    ctx, form = posted
    printer, editor = forms.text(form, "printer", 128), _posted_editor(form)
    editor.error = await run_in_threadpool(_problem, editor.source)
    if editor.error:
        return await run_in_threadpool(_scripts_page, ctx, printer, editor)
    await run_in_threadpool(_save, ctx, scripts.Script(printer, editor.source, editor.enabled))
    return RedirectResponse(done(scope_path(printer), "script-saved"), status_code=303)


def _problem(source: str) -> str:
    if not source:
        return "The script is empty; use Remove to take a script away."
    return check_script(source)


def _save(ctx: PageContext, script: scripts.Script) -> None:
    with ctx.app.database.session() as session:
        checked_scope(session, script.printer)
        scripts.put(session, script)


@router.post(f"{PATH}/remove")
async def remove_script(posted: tuple[PageContext, FormData] = Depends(admin_form)) -> Response:
    ctx, form = posted
    printer = forms.text(form, "printer", 128)
    await run_in_threadpool(_remove, ctx, printer)
    return RedirectResponse(done(scope_path(printer), "script-removed"), status_code=303)


def _remove(ctx: PageContext, printer: str) -> None:
    with ctx.app.database.session() as session:
        scripts.remove(session, checked_scope(session, printer))


@router.post(f"{PATH}/test")
async def dry_run_page(posted: tuple[PageContext, FormData] = Depends(admin_form)) -> Response:
    """A dry run of the script in the editor (saved or not): nothing is stored."""
    ctx, form = posted
    printer, editor = forms.text(form, "printer", 128), _posted_editor(form)
    try:
        body = _test_body(ctx, printer, editor)
    except (ValueError, WebError) as exc:
        editor.error = exc.detail if isinstance(exc, WebError) else str(exc)
    else:
        editor.result = await run_in_threadpool(_dry_run, ctx, body)
    return await run_in_threadpool(_scripts_page, ctx, printer, editor)


def _test_body(ctx: PageContext, printer: str, editor: Editor) -> ScriptTestIn:
    if not editor.source:
        raise ValueError("The script is empty.")
    sample = FormData(editor.sample)
    groups = forms.text(sample, "groups", 4000).split(",")
    job = SampleJobIn(
        pages=forms.number(sample, "pages", 0, 1_000_000),
        colour_pages=forms.number(sample, "colour_pages", 0, 1_000_000),
        cost=forms.money(sample, "cost", ctx.currency),
        document_name=forms.text(sample, "document_name"),
        printer=printer or "printer",
        username=forms.text(sample, "username", 128),
        groups=[name.strip() for name in groups if name.strip()],
        balance=forms.money(sample, "balance", ctx.currency),
    )
    return ScriptTestIn(source=editor.source, printer=printer, job=job)


def _dry_run(ctx: PageContext, body: ScriptTestIn) -> ScriptTestOut:
    with ctx.app.database.read() as session:  # read-only: the run's property writes are dropped
        return script_dry_run.with_stored_properties(session, body)
