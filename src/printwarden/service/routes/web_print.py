"""Web Print over the API: a person uploads a document (``/me/web-print``); the queue's
provider fetches it once rendered (``/providers/{name}/submissions…``).

At a Site Server these routes are always answered by the site itself (``site/gateway.py``
``answered_here``): the document stays at the site, online or not.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from printwarden.api.web_print import (
    ProviderSubmissionsOut,
    SubmissionResultsIn,
    SubmissionResultsOut,
    WebPrintOut,
    WebPrintQueueOut,
)
from printwarden.domain.accounts import Role
from printwarden.domain.functions import Function
from printwarden.domain.web_print import PrintOptions
from printwarden.service.auth import require
from printwarden.service.client_address import client_address
from printwarden.service.offline_functions import serves
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import read_session, write_session
from printwarden.service.routes.providers import own_provider, registering
from printwarden.service.state import AppState, app_state
from printwarden.service.web_print import hand_in, service_of
from printwarden.store import web_prints
from printwarden.store.tokens import Caller
from printwarden.usecases import web_print
from printwarden.usecases.errors import Invalid

router = APIRouter(tags=["web print"])
a_user = require(Role.USER)
CHUNK = 1 << 20


@router.get("/me/web-print/queues", dependencies=[serves(Function.MOBILE_PRINT)])
def web_print_queues(
    caller: Caller = Depends(a_user),
    session: Session = Depends(read_session),
    state: AppState = Depends(app_state),
) -> list[WebPrintQueueOut]:
    """The queues Web Print sends to from this server."""
    site = web_print.site_of_issuer(state.issuer)
    return [q.out() for q in web_print.queues_here(session, site, web_print.policy(session))]


@router.post("/me/web-print", status_code=202, dependencies=[serves(Function.MOBILE_PRINT)])
async def upload(
    request: Request,
    file: UploadFile = File(description="the document: PDF, image, text, PostScript, office"),
    queue: str = Form("", max_length=200, description='"provider/queue" or a queue name'),
    printer: str = Form("", max_length=128, description="or: the printer whose queue to use"),
    copies: int = Form(1, ge=1, le=999),
    grayscale: bool = Form(False),
    duplex: bool = Form(False),
    page_ranges: str = Form("", max_length=200, description='e.g. "1-3,5"; "" is all'),
    caller: Caller = Depends(a_user),
    state: AppState = Depends(app_state),
) -> WebPrintOut:
    """Print a document: it is rendered, then held in the queue (or printed, on a direct
    queue an administrator allows). Answers at once with the job's id and ``rendering``;
    ``GET /me/web-print/{id}`` follows it."""
    try:
        options = PrintOptions(copies, grayscale, duplex, page_ranges)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    client = await client_address(request, state)
    by_printer = bool(printer and not queue)
    row = await hand_in(
        state, caller.username or "", queue or printer, file, options, client,
        submit=True, by_printer=by_printer,
    )  # fmt: skip
    return web_print.view(row)


@router.get("/me/web-print", dependencies=[serves(Function.MOBILE_PRINT)])
def my_web_prints(
    caller: Caller = Depends(a_user),
    session: Session = Depends(read_session),
    limit: int = Query(50, ge=1, le=200),
) -> list[WebPrintOut]:
    """Your latest Web Print and Email to Print documents, newest first."""
    assert caller.user_id is not None
    return web_print.views(session, web_prints.of_user(session, caller.user_id, limit))


@router.get("/me/web-print/{submission_id}", dependencies=[serves(Function.MOBILE_PRINT)])
def my_web_print(
    submission_id: str,
    caller: Caller = Depends(a_user),
    session: Session = Depends(read_session),
) -> WebPrintOut:
    assert caller.user_id is not None
    row = web_print.owned(session, submission_id, caller.user_id)
    return web_print.views(session, [row])[0]


@router.post("/me/web-print/{submission_id}/cancel", dependencies=[serves(Function.MOBILE_PRINT)])
def cancel_web_print(
    submission_id: str,
    caller: Caller = Depends(a_user),
    session: Session = Depends(write_session),
) -> WebPrintOut:
    """Cancel a document its provider does not have yet."""
    assert caller.user_id is not None
    row = web_print.owned(session, submission_id, caller.user_id)
    web_print.cancel(row)
    return web_print.view(row)


@router.get("/providers/{name}/submissions")
def submissions(
    name: str, caller: Caller = Depends(registering), session: Session = Depends(read_session)
) -> ProviderSubmissionsOut:
    """The rendered documents this provider is to spool (at most 100, oldest first)."""
    provider = own_provider(caller, session, name)
    return ProviderSubmissionsOut(submissions=web_print.for_provider(session, provider))


@router.get("/providers/{name}/submissions/{submission_id}/document")
def submission_document(
    name: str,
    submission_id: str,
    caller: Caller = Depends(registering),
    session: Session = Depends(read_session),
    state: AppState = Depends(app_state),
) -> FileResponse:
    """The rendered PDF of one submission of this provider's."""
    row = web_print.document_of(session, own_provider(caller, session, name), submission_id)
    path = service_of(state).document(row.document)
    if not path.exists():
        raise Problem(404, "Not found", "the document is no longer here")
    return FileResponse(path, media_type="application/pdf")


@router.post("/providers/{name}/submissions/results")
def submission_results(
    name: str,
    body: SubmissionResultsIn,
    caller: Caller = Depends(registering),
    session: Session = Depends(write_session),
    state: AppState = Depends(app_state),
) -> SubmissionResultsOut:
    """What the provider did with the submissions it fetched: their documents go."""
    provider = own_provider(caller, session, name)
    done = web_print.apply_results(session, provider, list(body.results))
    if state.web_print is not None:
        state.web_print.taken(done)
    for row in done:
        row.document = ""
    return SubmissionResultsOut(applied=len(done))
