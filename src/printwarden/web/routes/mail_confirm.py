"""Email to Print's confirmation page: a message whose sender could not be trusted (not
DMARC-aligned, or an address no one has yet) waits until its person, logged in here, says
it is theirs; then it is processed as theirs (and an unknown address becomes theirs)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import FormData

from printwarden.mail.pending import NotYours, UnknownToken
from printwarden.mail.target import Outcome
from printwarden.service.email_print import CONFIRM_PATH, EmailPrint
from printwarden.web.guards import PageContext, WebError, user_form, user_page

if TYPE_CHECKING:
    from printwarden.mail.listener import MailService

router = APIRouter()
GONE = "No message is waiting under this link: it was confirmed already, or it expired."


@router.get(CONFIRM_PATH + "/{token}")
async def confirm_page(token: str, ctx: PageContext = Depends(user_page)) -> Response:
    mail = _mail(ctx)
    try:
        held = await run_in_threadpool(mail.pending.load, token)
    except UnknownToken:
        raise WebError(404, "Not found", GONE) from None
    if held.username is not None and held.username != ctx.session.username:
        raise WebError(404, "Not found", GONE)  # someone else's: as if there were none
    return ctx.render("portal/mail_confirm.html", token=token, sender=held.sender, done=None)


@router.post(CONFIRM_PATH + "/{token}")
async def confirm(
    token: str, posted: tuple[PageContext, FormData] = Depends(user_form)
) -> Response:
    """Print the held message as the person logged in."""
    ctx, _ = posted
    mail = _mail(ctx)
    try:
        outcomes: list[Outcome] = await run_in_threadpool(mail.confirm, token, ctx.session.username)
    except (UnknownToken, NotYours):
        raise WebError(404, "Not found", GONE) from None
    return ctx.render("portal/mail_confirm.html", token=token, sender="", done=outcomes)


def _mail(ctx: PageContext) -> MailService:
    running = ctx.app.mail
    if not isinstance(running, EmailPrint):
        raise WebError(404, "Not found", "Email to Print is not set up on this server.")
    return running.service
