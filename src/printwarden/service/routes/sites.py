"""Sites: administrators define them; each Site Server pulls its changes, reports its
status and uploads its offline journal — with a site token that reaches only its own site."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, NamedTuple, cast

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from pydantic_core import to_json
from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden import keys
from printwarden.api.journal import JOURNAL_UPLOAD, JournalOut, SiteRejectionOut
from printwarden.api.sites import (
    ChangesOut,
    OfflinePoliciesIO,
    SiteForceIn,
    SiteIn,
    SiteKeysOut,
    SiteOut,
    SiteStatusIn,
    SiteStatusOut,
)
from printwarden.domain.accounts import Role
from printwarden.domain.ids import normalize_id
from printwarden.domain.offline_policies import SETTING_KEY, OfflinePolicies
from printwarden.service import journal_uploads, views
from printwarden.service.auth import require
from printwarden.service.beat_clock import BeatClock
from printwarden.service.parking import Parked
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import admin_only, read_session, write_session
from printwarden.service.state import AppState, app_state
from printwarden.store import replication, settings, sites
from printwarden.store import snapshot as snapshots
from printwarden.store.change_bell import Waiter
from printwarden.store.errors import AlreadyExists, NotFound
from printwarden.store.feed_windows import WINDOWS
from printwarden.store.models import ChangeCounter, SiteRow
from printwarden.store.replicated_kinds import KINDS
from printwarden.store.site_numbers import SiteNumbers
from printwarden.store.tokens import Caller

router = APIRouter(tags=["sites"])
MAX_WAIT_SECONDS = 55.0  # under a load balancer's usual 60 s idle timeout
QUIET_MAX_WAIT_SECONDS = 300.0  # a quiet poll: its beats keep proxies from closing it
# A poll woken by a change for other sites answers (empty, with the new number) this long
# after it began at the latest: the site's replica number (HQ's view of how far it has
# caught up) then lags at most this much, while an idle site's poll lasts its whole wait.
CATCH_UP_SECONDS = 10.0
BEAT_HEADER = "X-Beat-Seconds"
# Once admitted, a journal upload's body arrives at least this fast (a slow WAN's site
# sends a full upload of 2.5 MB in 40 s at 64 KiB/s), or within BODY_SECONDS.
BODY_BYTES_PER_SECOND = 64 * 1024
BODY_SECONDS = 30.0


async def site_of(name: str, caller: Caller = Depends(require(Role.SITE))) -> str:
    """The site this token belongs to, which must be the one in the path."""
    if caller.scope != name:
        raise Problem(403, "Forbidden", "a site token reaches only its own site")
    return name


def _site(session: Session, name: str) -> SiteRow:
    try:
        return sites.find_site(session, name)
    except NotFound as exc:
        raise Problem(404, "Not found", str(exc)) from None


@router.post("/sites", status_code=201, dependencies=[Depends(admin_only)])
def add_site(body: SiteIn, session: Session = Depends(write_session)) -> SiteOut:
    try:
        return views.site_out(sites.create_site(session, body.name, body.description))
    except AlreadyExists as exc:
        raise Problem(409, "Conflict", str(exc)) from None


@router.get("/sites", dependencies=[Depends(admin_only)])
def list_sites(session: Session = Depends(read_session)) -> list[SiteOut]:
    """Every site: its mode, last contact, outages, journal backlog, last reconciliation."""
    return [views.site_out(row) for row in sites.list_sites(session)]


@router.get("/sites/{name}", dependencies=[Depends(admin_only)])
def get_site(name: str, session: Session = Depends(read_session)) -> SiteOut:
    return views.site_out(_site(session, name))


@router.get("/sites/{name}/rejections", dependencies=[Depends(admin_only)])
def site_rejections(
    name: str,
    session: Session = Depends(read_session),
    limit: int = Query(100, ge=1, le=10_000),
) -> list[SiteRejectionOut]:
    """The journal entries HQ rejected from this site, newest first, with HQ's reasons (its
    own record: not the report the site sends back)."""
    _site(session, name)
    return [
        SiteRejectionOut(
            id=row.entry_id, kind=row.kind, reason=row.outcome, rejected_at=row.applied_at
        )
        for row in sites.rejections(session, name, limit)
    ]


@router.put("/sites/{name}/forced-offline", dependencies=[Depends(admin_only)])
def force_offline(
    name: str, body: SiteForceIn, session: Session = Depends(write_session)
) -> SiteOut:
    """Take a site offline for maintenance (or bring it back); its long poll answers at once
    (the change number taken here wakes every process's polls)."""
    return views.site_out(sites.force_offline(session, _site(session, name), body.offline))


@router.post("/sites/{name}/rekey", dependencies=[Depends(admin_only)])
def rekey_site(name: str, session: Session = Depends(write_session)) -> SiteOut:
    """Give the site a new card key (after a theft, say): the old one matches nothing sent
    from now on, and the site, told by its next page of changes, takes a fresh snapshot."""
    return views.site_out(sites.rekey(session, _site(session, name)))


@router.get("/sites/{name}/keys")
def site_keys(
    name: str = Depends(site_of),
    session: Session = Depends(read_session),
    state: AppState = Depends(app_state),
) -> SiteKeysOut:
    """The site's own card key and HQ's public cookie key; never HQ's secret."""
    row = _site(session, name)
    public = keys.cookie_key(state.secret).public_key().public_bytes_raw()
    return SiteKeysOut(
        site=name,
        key_generation=row.key_generation,
        card_key=keys.site_card_key(state.secret, name, row.key_generation).hex(),
        hq_cookie_key=public.hex(),
        voucher_key=keys.voucher_key(state.secret).hex(),
    )


@router.post("/sites/{name}/status")
async def site_status(
    body: SiteStatusIn,
    name: str = Depends(site_of),
    state: AppState = Depends(app_state),
) -> SiteStatusOut:
    """A Site Server's heartbeat: its mode and backlog; the answer says if it must stay offline
    and, where HQ has a beacon (``service/beacon.py``), its port and a ticket to hold one
    (stored without a write each: ``service/site_contacts.py``; a status with no news is
    answered on the event loop, the others in a worker thread)."""
    status = body.model_dump(mode="json")
    contacts = state.site_contacts
    forced = contacts.heard_quietly(name, status)
    if forced is None:
        try:
            forced = await run_in_threadpool(contacts.heard, state.database, name, status)
        except NotFound as exc:
            raise Problem(404, "Not found", str(exc)) from None
    generation = None if state.beacon is None else contacts.generation(name)
    if state.beacon is None or generation is None:
        return SiteStatusOut(forced_offline=forced)
    ticket = state.beacon.ticket(name, generation)
    return SiteStatusOut(forced_offline=forced, beacon_port=state.beacon.port,
                         beacon_ticket=ticket)  # fmt: skip


@router.get("/sites/{name}/changes", response_model=ChangesOut)
async def site_changes(
    name: str = Depends(site_of),
    since: int = Query(0, ge=0),
    limit: int = Query(5000, ge=1, le=50_000),
    wait: float = Query(0.0, ge=0.0, le=QUIET_MAX_WAIT_SECONDS),
    snapshot: bool = Query(False),
    at: int | None = Query(None, ge=0),
    kind: int = Query(0, ge=0, le=len(KINDS)),
    after: str | None = Query(None, max_length=128),
    forced: bool | None = Query(None, description="what the site believes of its forced mode"),
    beats: bool = Query(False, description="send a space each beat while the poll waits"),
    quiet: bool = Query(False, description="beats only every 20 s: the site has a beacon"),
    state: AppState = Depends(app_state),
) -> ChangesOut | Response:
    """Entities the site needs changed after ``since`` (0: everything). With ``wait``, a
    long poll: answers as soon as something changes, or empty after ``wait`` seconds.

    With ``forced`` (what the site believes), a change of its forced mode answers at once.
    With ``beats`` the answer is streamed: a space each beat (``X-Beat-Seconds`` apart)
    while the poll waits, then the JSON, so that the site knows its link is alive; with
    ``quiet`` too, a space every 20 s only (a site with a beacon hears its link there), and
    the poll may wait up to 300 s (else 55).

    With ``snapshot``, a new site's first copy instead, paged by key (``store/snapshot.py``):
    ``{schema_revision, at, next: {kind, after} | null, entities}``; the first page (no
    ``at``) fixes ``at``, the site passes it and ``next`` back for the following pages and
    then pulls changes since ``at``."""
    if snapshot:
        cursor = snapshots.Cursor(kind, after)
        body = await run_in_threadpool(_snapshot_page, state, name, at, cursor, limit)
        return Response(body, media_type="application/json")

    async def reading() -> _Found:
        return await run_in_threadpool(_page, state, name, since, limit)

    bell = state.database.changes
    quiet = quiet and beats
    wait = min(wait, QUIET_MAX_WAIT_SECONDS if quiet else MAX_WAIT_SECONDS)
    waiter: Waiter | None = bell.register()  # before the read: a commit then still wakes it
    try:
        found = await reading()
        if found.answers(forced) or wait <= 0 or state.stopping.is_set():
            return found.out()
        believed = _Belief(forced, found.generation)
        assert waiter is not None
        state.site_polls.opened(name, waiter)  # the oldest of too many answer now
        term = _Term(time.monotonic(), wait)
        if beats:
            clock = state.quiet_beats if quiet else state.beats
            stream = _beating(state, clock, name, waiter, reading, term, believed)
            headers = {BEAT_HEADER: str(clock.interval)}
            answer = Parked(stream, waiter.end, media_type="application/json", headers=headers)
            waiter = None  # the stream unregisters it
            return answer
        return await _polled(state, waiter, reading, term, believed)
    finally:
        if waiter is not None:
            bell.unregister(waiter)
            state.site_polls.closed(name, waiter)


class _Belief(NamedTuple):
    """What a waiting poll's answer would tell the site that it does not know yet: its
    forced mode (as the site believes it, if it says) and its card key generation."""

    forced: bool | None
    generation: int


@dataclass(slots=True)
class _Term:
    """When a long poll began and when it answers at the latest (monotonic seconds)."""

    began: float
    wait: float

    @property
    def deadline(self) -> float:
        return self.began + self.wait

    def others_changed(self) -> None:
        """A change came for other sites: answer within :data:`CATCH_UP_SECONDS` of the
        start (with the new number), not at the end of a long wait."""
        self.wait = min(self.wait, CATCH_UP_SECONDS)


async def _polled(
    state: AppState,
    waiter: Waiter,
    reading: Callable[[], Awaitable[_Found]],
    term: _Term,
    believed: _Belief,
) -> ChangesOut:
    """A long poll: woken by a commit of this process, another's NOTIFY, or the database's
    watch of commits no bell heard (store/change_bell.py); an idle poll asks nothing."""
    while True:
        if await waiter.wait(term.deadline - time.monotonic()):
            term.others_changed()
        waiter.event.clear()
        found = await reading()
        if found.answers(*believed) or _over(state, waiter, term):
            return found.out()


def _over(state: AppState, waiter: Waiter, term: _Term) -> bool:
    """Whether a long poll answers now whatever it finds: its time is up, the server is
    stopping, or a newer poll of its site took its place (``service/site_polls.py``)."""
    return time.monotonic() >= term.deadline or state.stopping.is_set() or waiter.ended


async def _beating(
    state: AppState,
    clock: BeatClock,
    name: str,
    waiter: Waiter,
    reading: Callable[[], Awaitable[_Found]],
    term: _Term,
    believed: _Belief,
) -> AsyncGenerator[bytes, None]:
    """A long poll that sends a space each beat of ``clock`` until it answers (JSON allows
    leading whitespace): the site hears its link is alive, and notices a cut within a
    fraction of a second (``site/upstream.py``)."""
    clock.add(waiter)
    loop = asyncio.get_running_loop()  # its clock is time.monotonic()
    alarm = loop.call_at(term.deadline, waiter.beat)  # a quiet clock's beat may come late
    try:
        while True:
            rung = await waiter.woken()
            if rung:
                term.others_changed()
                alarm.cancel()
                alarm = loop.call_at(term.deadline, waiter.beat)
            over = _over(state, waiter, term)
            if not (rung or over):
                yield b" "
                continue
            found = await reading()
            if found.answers(*believed) or over:
                yield to_json(found.out())
                return
    finally:
        alarm.cancel()
        clock.discard(waiter)
        state.database.changes.unregister(waiter)
        state.site_polls.closed(name, waiter)


@cache
def _revision() -> str:
    """This process's schema revision (read from the migration scripts' text once, on the
    first page asked for)."""
    from printwarden.store.migrate import head_revision

    return head_revision() or ""


def _snapshot_page(
    state: AppState, name: str, at: int | None, cursor: snapshots.Cursor, limit: int
) -> bytes:
    """One snapshot page as JSON, serialised by pydantic-core straight from plain rows."""
    with state.database.read() as session:
        numbers = SiteNumbers.of(state.secret, _site(session, name))
        try:
            typed = snapshots.typed(cursor)
        except ValueError as exc:
            raise Problem(422, "Invalid snapshot cursor", str(exc)) from None
        page = snapshots.snapshot(session, name, at, typed, limit, numbers=numbers)
    following = None if page.next is None else {"kind": page.next.kind, "after": page.next.after}
    body = {"schema_revision": _revision(), "key_generation": numbers.generation, "at": page.at,
            "next": following, "entities": page.entities}  # fmt: skip
    return to_json(body)


@dataclass(frozen=True, slots=True)
class _Found:
    """A page of changes, the site key generation its hashes are under, and whether an
    administrator forces the site offline."""

    page: replication.Page
    generation: int
    forced: bool

    def answers(self, forced: bool | None, generation: int | None = None) -> bool:
        """Worth answering a long poll with: changes, news of the forced mode (``forced``:
        what the site believes), or a card key generation other than ``generation`` (the
        one when the poll began: a re-key numbers no row the site receives)."""
        news = forced is not None and forced != self.forced
        rekeyed = generation is not None and generation != self.generation
        return bool(self.page.entities) or news or rekeyed

    def out(self) -> ChangesOut:
        page = self.page
        return ChangesOut(schema_revision=_revision(), key_generation=self.generation,
                          upto=page.upto, more=page.more, entities=page.entities,
                          forced_offline=self.forced)  # fmt: skip


# One round trip, no ORM: what a long poll asks each time it wakes, mostly to learn that
# nothing changed (a thousand sites' polls renew all the time).
_HEAD = select(
    SiteRow.forced_offline,
    SiteRow.key_generation,
    select(ChangeCounter.value).where(ChangeCounter.id == 1).scalar_subquery(),
)


def _page(state: AppState, name: str, since: int, limit: int) -> _Found:
    """What a poll answers. The page is read in one snapshot: read statement by statement,
    a row could come without the row it refers to, changed (so numbered past the page)
    between two of them, and the site's replica refuse the page for it."""
    with state.database.read() as session:
        head = session.execute(_HEAD.where(SiteRow.name == name)).first()
    if head is None:
        raise Problem(404, "Not found", f"no site named {name!r}")
    forced, generation, last = head
    if since and last <= since:
        return _Found(replication.Page(since, False, []), generation, forced)
    numbers = SiteNumbers(state.secret, name, generation)
    url = str(state.database.engine.url)
    # A change wakes every site's poll at once: the first reads the window, the others
    # take it as kept (store/feed_windows.py).
    with WINDOWS.first_reader(url, since, last):
        page = replication.kept_changes(url, since, last, limit, numbers)
        if page is None:
            with state.database.snapshot() as session:
                page = replication.changes(session, name, since, limit, numbers=numbers)
    return _Found(page, generation, forced)


_JOURNAL_BODY = {"application/json": {"schema": JOURNAL_UPLOAD.json_schema()}}


@router.post(
    "/sites/{name}/journal",
    response_model=JournalOut,
    openapi_extra={"requestBody": {"required": True, "content": _JOURNAL_BODY}},
)
async def upload_journal(
    request: Request, name: str = Depends(site_of), state: AppState = Depends(app_state)
) -> Response:
    """Apply the site's offline journal, in order, each entry once (a replay changes nothing).

    Each entry's outcome is in ``results``; an entry HQ may not accept from this site (a
    credit, a charge its published prices cannot explain, another site's printer…) is
    rejected with the reason, changes nothing, and stays rejected if sent again."""
    size = _declared_size(request, state)
    async with state.journal_senders.turn(name), state.journal_intake.admit(size):
        entries = _journal_entries(await _body_in_time(request, size))
        body = await journal_uploads.apply(state, name, entries)
    return Response(body, media_type="application/json")


def _declared_size(request: Request, state: AppState) -> int:
    """The body's size as its Content-Length says (a chunked one: the largest allowed)."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit():
        return int(declared)
    return state.settings.limits.journal_bytes


async def _body_in_time(request: Request, size: int) -> bytes:
    """The body, which must come at ``BODY_BYTES_PER_SECOND`` at least (or within
    ``BODY_SECONDS``) once admitted: a body that trickles in would hold its share of the
    memory budget from the uploads of every other site (408, and the site tries again)."""
    seconds = max(BODY_SECONDS, size / BODY_BYTES_PER_SECOND)
    try:
        async with asyncio.timeout(seconds):
            return await request.body()
    except TimeoutError:
        detail = f"the upload's body did not arrive within {seconds:.0f} s"
        raise Problem(408, "Request Timeout", detail, headers={"Connection": "close"}) from None


def _journal_entries(body: bytes) -> list[dict[str, Any]]:
    """The uploaded entries, parsed and validated in one pass by pydantic into plain dicts
    (FastAPI would decode the JSON with the standard library first, then build a model per
    entry: together most of an upload's CPU)."""
    try:
        entries = cast(list[dict[str, Any]], JOURNAL_UPLOAD.validate_json(body)["entries"])
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None
    for n, entry in enumerate(entries):
        try:
            entry["id"] = normalize_id(entry["id"])
        except ValueError as exc:
            where = ("body", "entries", n, "id")
            error = {"type": "value_error", "loc": where, "msg": str(exc), "input": entry["id"]}
            raise RequestValidationError([error]) from None
        entry.setdefault("body", {})
    return entries


@router.get("/offline-policies", dependencies=[Depends(admin_only)])
def get_offline_policies(session: Session = Depends(read_session)) -> OfflinePoliciesIO:
    return OfflinePoliciesIO(**_policies(session).to_json())


@router.put("/offline-policies", dependencies=[Depends(admin_only)])
def set_offline_policies(
    body: OfflinePoliciesIO, session: Session = Depends(write_session)
) -> OfflinePoliciesIO:
    """Set the Offline Policies every site applies while the App Server is unreachable."""
    policies = OfflinePolicies.from_json(body.model_dump())
    settings.put(session, SETTING_KEY, policies.to_json())
    return OfflinePoliciesIO(**policies.to_json())


def _policies(session: Session) -> OfflinePolicies:
    return OfflinePolicies.from_json(settings.get(session, SETTING_KEY) or {})
