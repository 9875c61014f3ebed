"""The user portal's "Set up printing on this device": how each kind of device finds the
announced queues (with each queue's address and a QR code of it), and, for Windows, the
person's own print URL for a queue that is reached only that way (a token-url queue).

A print URL is made as ``POST /api/v1/me/print-tokens`` makes it (:mod:`printwarden.store.
print_tokens`) and shown once, in the answer to the form that made it; afterwards the page
lists it without its token, with a Revoke button. Made and revoked at HQ only, as the API
does: a Site Server answering offline refuses (nothing it writes reaches HQ).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from printwarden.store import print_tokens
from printwarden.store.errors import AlreadyExists, NotFound
from printwarden.web import forms
from printwarden.web.guards import PageContext, WebError, user_form, user_page
from printwarden.web.messages import done
from printwarden.web.routes.discovery import RegisteredQueue, host_part, registered_queues

router = APIRouter()
SETUP_PATH = "/web/portal/setup"
PRINT_URLS_PATH = SETUP_PATH + "/print-urls"
QR_QUIET_ZONE = 4  # modules of white around the code, as the standard asks
QR_MODULE_PX = 4
KINDS = {
    "direct": "prints at once",
    "hold": "held until you release it at a printer",
    "findme": "held until you release it at any printer (Find-Me)",
}
AT_HQ_ONLY = "Print URLs are made and revoked at HQ: not while this site is offline."


@dataclass(frozen=True, slots=True)
class QrCode:
    """A QR code laid out for an inline SVG: its size in modules (quiet zone included) and
    the path of its dark modules (numbers and path commands only, nothing of its text)."""

    size: int
    path: str

    @property
    def pixels(self) -> int:
        return self.size * QR_MODULE_PX


def qr_code(text: str) -> QrCode:
    """``text`` as a QR code (segno, error correction M), one rectangle per run of dark
    modules in a row."""
    import segno  # loaded on first use, with the first setup page

    code = segno.make_qr(text, error="m")
    runs = []
    size = 0
    for y, row in enumerate(code.matrix_iter(scale=1, border=QR_QUIET_ZONE)):
        cells = [bool(cell) for cell in row]
        size = len(cells)
        x = 0
        while x < size:
            if not cells[x]:
                x += 1
                continue
            start = x
            while x < size and cells[x]:
                x += 1
            runs.append(f"M{start} {y}h{x - start}v1h-{x - start}z")
    return QrCode(size, "".join(runs))


@dataclass(frozen=True, slots=True)
class Announced:
    """An announced queue as a device adds it."""

    queue: RegisteredQueue
    uri: str
    qr: QrCode
    lpadmin: str  # the Linux command that adds it (its arguments shell-quoted)

    @property
    def kind(self) -> str:
        return KINDS.get(self.queue.kind, self.queue.kind)


@dataclass(frozen=True, slots=True)
class ByUrl:
    """A queue reached only by address (not announced): one a print URL is made for.

    ``base`` is where its print URLs go (``https://host:tlsport/ipp/print/<queue>``), from
    the TLS address its provider announces its other queues at; "" when it announces none:
    a print URL travels only over TLS."""

    queue: RegisteredQueue
    base: str

    @property
    def key(self) -> str:
        return f"{quote(self.queue.provider, safe='')}/{quote(self.queue.queue, safe='')}"


@dataclass(frozen=True, slots=True)
class MadeUrl:
    """A print URL just made: shown in this answer only."""

    queue: str
    https: str  # for Windows' "Add a printer by URL"
    ipps: str  # the same address for IPP clients


def _announced(queue: RegisteredQueue) -> Announced | None:
    uri = queue.uri if queue.advert else ""
    if not uri:
        return None
    name = shlex.quote(queue.queue)
    command = f"lpadmin -p {name} -E -v {shlex.quote(uri)} -m everywhere"
    return Announced(queue, uri, qr_code(uri), command)


def _reached_by_url(queues: list[RegisteredQueue]) -> list[ByUrl]:
    """The token-url queues (never announced); for a provider that does not say which its
    are, every queue it does not announce."""
    return [
        _by_url(queue, queues)
        for queue in queues
        if queue.identity == "token-url" or (not queue.identity and queue.advert is None)
    ]


def _by_url(queue: RegisteredQueue, queues: list[RegisteredQueue]) -> ByUrl:
    """Where the queue's print URLs go: its own ipps:// address, else (a provider that does
    not say) the TLS address its provider announces its other queues at."""
    path = quote(queue.queue, safe="")
    if queue.ipps_uri:
        parts = urlsplit(queue.ipps_uri)
        return ByUrl(queue, f"https://{parts.netloc}/ipp/print/{path}")
    tls = next(
        (q.advert for q in queues if q.provider == queue.provider and q.advert and q.ipps_port),
        None,
    )
    if tls is None:
        return ByUrl(queue, "")
    host = host_part(str(tls.get("host", "")))
    return ByUrl(queue, f"https://{host}:{tls['ipps_port']}/ipp/print/{path}")


@router.get(SETUP_PATH)
async def setup_page(ctx: PageContext = Depends(user_page)) -> Response:
    return await run_in_threadpool(_setup_page, ctx)


def _setup_page(
    ctx: PageContext, made: MadeUrl | None = None, error: str = "", status: int = 200
) -> Response:
    with ctx.app.database.read() as session:
        queues = registered_queues(session)
        urls = print_tokens.live(session, ctx.session.username)
    announced = [found for found in map(_announced, queues) if found is not None]
    by_url = _reached_by_url(queues)
    return ctx.render(
        "portal/setup.html",
        status,
        announced=announced,
        by_url=by_url,
        reachable=[queue for queue in by_url if queue.base],
        urls=urls,
        made=made,
        error=error,
        at_hq=ctx.app.authority.at_hq,
        print_urls_path=PRINT_URLS_PATH,
    )


@router.post(PRINT_URLS_PATH)
async def make_print_url(posted: tuple[PageContext, FormData] = Depends(user_form)) -> Response:
    """A new print URL of the person's own for the chosen queue, shown in this answer only."""
    ctx, form = posted
    _at_hq(ctx)
    key = forms.text(form, "queue", 600)
    try:
        made = await run_in_threadpool(_make, ctx, key)
    except AlreadyExists as exc:
        return await run_in_threadpool(_setup_page, ctx, None, str(exc), 409)
    return await run_in_threadpool(_setup_page, ctx, made, "", 201)


def _make(ctx: PageContext, key: str) -> MadeUrl:
    with ctx.app.database.session() as session:
        queues = registered_queues(session)
        chosen = next((q for q in _reached_by_url(queues) if q.key == key and q.base), None)
        if chosen is None:
            raise WebError(422, "Invalid input", "Choose a queue that takes print URLs.")
        token = print_tokens.create(session, ctx.session.username, chosen.queue.queue).token
    https = f"{chosen.base}/u/{token}"
    return MadeUrl(chosen.queue.queue, https, "ipps://" + https.removeprefix("https://"))


@router.post(PRINT_URLS_PATH + "/revoke")
async def revoke_print_url(
    posted: tuple[PageContext, FormData] = Depends(user_form),
) -> Response:
    ctx, form = posted
    _at_hq(ctx)
    token_id = forms.number(form, "token_id", 1, 2**62)
    await run_in_threadpool(_revoke, ctx, token_id)
    return RedirectResponse(done(SETUP_PATH, "print-url-revoked"), status_code=303)


def _revoke(ctx: PageContext, token_id: int) -> None:
    with ctx.app.database.session() as session:
        try:
            print_tokens.revoke(session, ctx.session.username, token_id)
        except NotFound as exc:
            raise WebError(404, "Not found", str(exc)) from None


def _at_hq(ctx: PageContext) -> None:
    if not ctx.app.authority.at_hq:
        raise WebError(503, "Unavailable at a site", AT_HQ_ONLY)
