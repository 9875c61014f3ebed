"""The portal's Questions page: the person's jobs held until they confirm the cost or choose
the account, answered with a plain form (the API's ``answer``, by ``Answerer.PORTAL``); the
portal's event stream (the User Client's generator, authenticated by the session cookie);
and the installable web app's files (manifest, service worker, script, icons)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from pydantic import ValidationError
from starlette.datastructures import FormData

from printwarden.api.questions import AnswerIn
from printwarden.domain.accounts import Role
from printwarden.domain.questions import Answerer
from printwarden.service import answers, client_tokens, event_stream
from printwarden.service.problems import Problem, problem_of
from printwarden.service.throttle import Throttled
from printwarden.store import tokens
from printwarden.store.errors import NotFound
from printwarden.store.tokens import Caller
from printwarden.usecases import questions
from printwarden.usecases.errors import REFUSALS, Unavailable
from printwarden.web import forms
from printwarden.web.guards import PageContext, WebError, user_form, user_page
from printwarden.web.routes import static
from printwarden.web.templating import HEADERS

router = APIRouter()
# Public files, like /web/static: kept out of mount.ROUTERS, whose routes all need a login.
assets = APIRouter()

PAGE = "/web/portal/questions"
EVENTS = "/web/portal/events"
SCOPE = "/web/portal/"
WORKER = "sw.js"
ANSWERED = {
    "printing": "Printing: the job went to its printer.",
    "held": "Answered: the job waits for you to release it at a printer.",
    "canceled": "Job canceled.",
    "revoked": "That computer is logged out: its User Client must log in again.",
}
APP_FILES = {
    "questions.js": "text/javascript; charset=utf-8",
    WORKER: "text/javascript; charset=utf-8",
    "manifest.webmanifest": "application/manifest+json",
    "icon-192.png": "image/png",
    "icon-512.png": "image/png",
}
# The worker is checked for updates at each visit, and may control all of the portal.
WORKER_HEADERS = {**static.CACHED, "Cache-Control": "no-cache", "Service-Worker-Allowed": SCOPE}


@router.get(PAGE)
async def questions_page(
    ctx: PageContext = Depends(user_page), answered: str = Query("", max_length=16)
) -> Response:
    return await run_in_threadpool(_page, ctx, ANSWERED.get(answered, ""))


def _page(ctx: PageContext, notice: str = "", error: str = "", status: int = 200) -> Response:
    with ctx.app.database.read() as session:
        asked = questions.open_questions(session, ctx.session.user_id, ctx.currency)
        clients = tokens.client_tokens(session, ctx.session.user_id)
    return ctx.render("portal/questions.html", status, questions=asked, clients=clients,
                      question_count=len(asked), notice=notice, error=error)  # fmt: skip


@router.post(PAGE + "/{job_ref}")
async def answer_question(
    job_ref: str, posted: tuple[PageContext, FormData] = Depends(user_form)
) -> Response:
    """Print or cancel: the same checks as ``POST /api/v1/me/questions/{job}`` (the PIN
    throttled, outside any transaction); a refusal shows on the page, the question kept."""
    ctx, form = posted
    try:
        outcome = await answers.answer(ctx.app, _caller(ctx), job_ref, _answer_of(form),
                                      Answerer.PORTAL)  # fmt: skip
    except Problem as exc:
        return await _refused(ctx, exc.detail or exc.title, exc.status)
    except Throttled as exc:
        return await _refused(ctx, str(exc), 429)
    except REFUSALS as exc:
        found = problem_of(exc)
        return await _refused(ctx, found.detail or found.title, found.status)
    return RedirectResponse(f"{PAGE}?answered={outcome.value}", status_code=303)


@router.post(PAGE + "/clients/{token_id}/revoke")
async def revoke_client(
    token_id: int, posted: tuple[PageContext, FormData] = Depends(user_form)
) -> Response:
    """Log out one of the person's computers (a lost laptop): its client token is revoked."""
    ctx, _form = posted
    await run_in_threadpool(_revoke, ctx, token_id)
    return RedirectResponse(f"{PAGE}?answered=revoked", status_code=303)


def _revoke(ctx: PageContext, token_id: int) -> None:
    try:
        client_tokens.revoke(ctx.app, ctx.session.user_id, token_id)
    except Unavailable:
        raise WebError(503, client_tokens.OFFLINE, "Log it out once the site is online.") from None
    except NotFound:
        raise WebError(404, "Not found", "No such computer of yours.") from None


def _answer_of(form: FormData) -> AnswerIn:
    fields = {name: forms.text(form, name, 500) for name in ("action", "account", "pin", "comment")}
    try:
        return AnswerIn.model_validate(fields)
    except ValidationError:
        raise WebError(422, "Invalid input", "Choose Print or Cancel; a PIN is at most "
                       "64 characters, a comment 500.") from None  # fmt: skip


def _caller(ctx: PageContext) -> Caller:
    """The session's person, as the API's answer takes them (no token: a cookie session)."""
    return Caller(Role.USER, 0, ctx.session.user_id, ctx.session.username)


async def _refused(ctx: PageContext, detail: str, status: int) -> Response:
    return await run_in_threadpool(_page, ctx, "", detail, status)


@router.get(EVENTS)
async def portal_events(
    ctx: PageContext = Depends(user_page),
    last_event_id: str | None = Header(None, max_length=64),
) -> StreamingResponse:
    """The person's events as Server-Sent Events: the User Client's stream."""
    stream = event_stream.stream(ctx.app, ctx.session.user_id, last_event_id)
    headers = {**HEADERS, **event_stream.SSE_HEADERS}
    return StreamingResponse(stream, media_type="text/event-stream", headers=headers)


@assets.get("/web/portal/app/{name}")
def app_file(name: str) -> Response:
    """The web app's manifest, service worker (scope ``/web/portal/``), script and icons."""
    media_type = APP_FILES.get(name)
    if media_type is None:
        raise WebError(404, "Not found", "No such file.")
    headers = WORKER_HEADERS if name == WORKER else static.CACHED
    return Response(static.asset(name), media_type=media_type, headers=headers)
