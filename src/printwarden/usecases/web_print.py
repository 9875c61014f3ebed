"""Web Print and Email to Print: the use cases every face shares (the API, the portal and the
mail listener). A submission is rendered to PDF by :mod:`printwarden.service.web_print`,
then fetched by its queue's provider, which spools it as a job of that person: from there it
is analysed, decided, held, released and charged like any IPP job.

A server offers the queues of its own providers: HQ those of no site, a Site Server its
site's. That keeps a document at the site it is printed at, and makes Web Print at a site
independent of the WAN link (the Site Server answers these routes itself, online or not).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden.api.web_print import (
    ProviderSubmission,
    SubmissionResult,
    WebPrintOut,
    WebPrintQueueOut,
)
from printwarden.domain.costs import job_cost
from printwarden.domain.release import HeldSettings, Incompatible, plan_release
from printwarden.domain.web_print import (
    SETTING_KEY,
    PrintOptions,
    Rendered,
    Stage,
    WebPrintPolicy,
    wording,
)
from printwarden.store import printers, providers, settings, sites, users, web_prints
from printwarden.store.db import utc
from printwarden.store.models import HeldJobRow, ProviderRow, SiteRow, UserRow, WebPrintRow
from printwarden.usecases.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from printwarden.usecases.release import capabilities

OFFERED_KINDS = ("hold", "findme", "direct")


@dataclass(frozen=True, slots=True)
class WebPrintQueue:
    provider: str
    queue: str
    kind: str
    printer: str

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.queue}"

    def out(self) -> WebPrintQueueOut:
        return WebPrintQueueOut(
            key=self.key,
            provider=self.provider,
            queue=self.queue,
            kind=self.kind,
            printer=self.printer,
        )


def policy(session: Session) -> WebPrintPolicy:
    """The administrator's limits (setting ``web-print``), the defaults where unset."""
    return WebPrintPolicy.from_json(settings.get(session, SETTING_KEY) or {})


def site_of_issuer(issuer: str) -> str | None:
    """The site a server is ("site:<name>"), None for HQ."""
    return issuer.removeprefix("site:") if issuer.startswith("site:") else None


def queues_here(session: Session, site: str | None, rules: WebPrintPolicy) -> list[WebPrintQueue]:
    """The queues Web Print may send to from here: at HQ every provider's (a site's
    provider fetches what HQ renders through its Site Server, while the site is online), at
    a Site Server its own site's."""
    found = []
    for row in providers.list_providers(session):
        if site is not None and providers.site_of(session, row) != site:
            continue
        for queue in row.queues or []:
            if not isinstance(queue, dict):
                continue
            kind = str(queue.get("kind", ""))
            if kind not in OFFERED_KINDS or (kind == "direct" and not rules.allow_direct):
                continue
            found.append(
                WebPrintQueue(row.name, str(queue["name"]), kind, str(queue.get("printer") or ""))
            )
    return found


def find_queue(session: Session, site: str | None, key: str) -> WebPrintQueue:
    """The queue ``key`` ("provider/queue", or a queue name that is unique here)."""
    offered = queues_here(session, site, policy(session))
    chosen = [q for q in offered if key in (q.key, q.queue)]
    if len(chosen) != 1:
        names = ", ".join(q.key for q in offered) or "none"
        raise Invalid(f"no queue {key!r} takes Web Print here (queues: {names})")
    if site is None:
        _check_site_reachable(session, chosen[0])
    return chosen[0]


def queue_of_printer(session: Session, site: str | None, printer: str) -> WebPrintQueue:
    """The queue Web Print uses for ``printer``: its hold queue, else any it has here."""
    offered = [q for q in queues_here(session, site, policy(session)) if q.printer == printer]
    held = [q for q in offered if q.kind == "hold"] or offered
    if not held:
        raise Invalid(f"no queue of printer {printer!r} takes Web Print here")
    return held[0]


def _check_site_reachable(session: Session, queue: WebPrintQueue) -> None:
    """At HQ: a queue at a site HQ cannot reach now is refused (not queued for later)."""
    provider = providers.find(session, queue.provider)
    where = providers.site_of(session, provider) if provider is not None else None
    row = session.scalar(select(SiteRow).where(SiteRow.name == where)) if where else None
    if row is None or (sites.reachable(row) and not row.forced_offline):
        return
    raise Unavailable(
        f"{queue.queue} is at site {row.name}, which HQ cannot reach now: print from that "
        "site's own Web Print page (it works offline), or here once the link is back",
        title="Site offline",
        site=row.name,
    )


def check_person(session: Session, user: UserRow, client: str, rules: WebPrintPolicy) -> None:
    groups = users.groups_of(session, user.id)
    refusal = rules.refusal(groups, client)
    if refusal:
        raise Forbidden(refusal)


def begin(
    session: Session,
    user: UserRow,
    queue: WebPrintQueue,
    filename: str,
    size: int,
    options: PrintOptions,
    *,
    submit: bool,
    source: str = "web",
    source_key: str | None = None,
) -> WebPrintRow:
    """Record a document handed in, to be rendered."""
    rules = policy(session)
    if size <= 0:
        raise Invalid("the file is empty")
    if size > rules.max_bytes:
        raise Invalid(f"the file is larger than the {rules.max_bytes // 1024**2} MB allowed")
    return web_prints.create(
        session,
        web_prints.NewSubmission(
            user_id=user.id,
            source=source,
            provider=queue.provider,
            queue=queue.queue,
            queue_kind=queue.kind,
            printer=queue.printer,
            filename=filename or "document",
            size=size,
            options=options.to_json(),
            submit=submit,
            keep_hours=rules.keep_hours,
            source_key=source_key,
        ),
    )


def estimate(session: Session, row: WebPrintRow, rendered: Rendered) -> int | None:
    """What the document costs at its queue's printer, as a release there prices it; None
    for a Find-Me queue (the printer is chosen at release) or one the price is unknown."""
    if not row.printer:
        return None
    provider = providers.find(session, row.provider)
    try:
        printer = printers.find_printer(session, row.printer)
    except NotFound:  # a printer the registry does not know has no price
        return None
    if provider is None:
        return None
    options = PrintOptions.from_json(row.options)
    settings_ = HeldSettings(
        pages=rendered.pages,
        colour_pages=rendered.colour_pages,
        copies=options.copies,
        duplex=options.duplex,
        grayscale=options.grayscale,
        paper_size=rendered.paper_size or "A4",
    )
    try:
        plan = plan_release(settings_, capabilities(provider, printer))
    except Incompatible:
        return None
    groups = users.groups_of(session, row.user_id)
    return job_cost(printers.cost_model_from_json(printer.cost_model), plan.usage, groups)


def owned(session: Session, submission_id: str, user_id: int) -> WebPrintRow:
    """The person's own submission; NotFound for anyone else's."""
    row = web_prints.get(session, submission_id)
    if row is None or row.user_id != user_id:
        raise NotFound(f"no Web Print job {submission_id!r}")
    return row


def confirm(row: WebPrintRow) -> None:
    """The person looked at the preview and prints it."""
    if row.stage != Stage.READY:
        raise Conflict(f"the document is {row.stage}, not ready to print")
    web_prints.set_stage(row, Stage.SUBMITTED)


def cancel(row: WebPrintRow) -> None:
    """Cancel before the provider has it (afterwards it is a held job, canceled as such)."""
    if row.stage not in (Stage.RENDERING, Stage.READY, Stage.SUBMITTED):
        raise Conflict(f"the document is {row.stage}: cancel it in your held jobs")
    web_prints.set_stage(row, Stage.CANCELED)


def views(session: Session, rows: list[WebPrintRow]) -> list[WebPrintOut]:
    held = web_prints.held_records(session, [r.id for r in rows if r.stage == Stage.ACCEPTED.value])
    return [view(row, held.get(row.id)) for row in rows]


def view(row: WebPrintRow, held: HeldJobRow | None = None) -> WebPrintOut:
    options = PrintOptions.from_json(row.options)
    status, reason = (held.status, held.status_reason) if held is not None else ("", "")
    return WebPrintOut(
        id=row.id,
        document_name=row.filename,
        source=row.source,
        provider=row.provider,
        queue=row.queue,
        queue_kind=row.queue_kind,
        printer=row.printer,
        stage=row.stage,
        state=wording(row.stage, row.detail, status, reason, row.queue_kind != "direct"),
        detail=row.detail,
        held_status=status,
        pages=row.pages,
        colour_pages=row.colour_pages,
        paper_size=row.paper_size,
        copies=options.copies,
        grayscale=options.grayscale,
        duplex=options.duplex,
        page_ranges=options.pages,
        cost=row.cost,
        created_at=utc(row.created_at),
    )


def for_provider(session: Session, provider: ProviderRow) -> list[ProviderSubmission]:
    """The rendered documents ``provider`` is to spool, oldest first."""
    found = []
    for row in web_prints.for_provider(session, provider.name):
        owner = session.get(UserRow, row.user_id)
        assert owner is not None
        options = PrintOptions.from_json(row.options)
        found.append(
            ProviderSubmission(
                id=row.id,
                queue=row.queue,
                username=owner.username,
                document_name=row.filename,
                size=row.size,
                sha256=row.sha256,
                copies=options.copies,
                grayscale=options.grayscale,
                duplex=options.duplex,
            )
        )
    return found


def document_of(session: Session, provider: ProviderRow, submission_id: str) -> WebPrintRow:
    """The submission whose document ``provider`` may fetch (its own, not yet taken)."""
    row = web_prints.get(session, submission_id)
    if row is None or row.provider != provider.name or not row.document:
        raise NotFound(f"no submission {submission_id!r} for provider {provider.name!r}")
    return row


def apply_results(
    session: Session, provider: ProviderRow, results: list[SubmissionResult]
) -> list[WebPrintRow]:
    """Record what the provider did; the submissions whose documents may now go."""
    done = []
    for result in results:
        row = web_prints.get(session, result.id)
        if row is None or row.provider != provider.name or row.stage != Stage.SUBMITTED:
            continue  # not its own, or already recorded (a repeated report)
        if result.outcome == "accepted":
            web_prints.set_stage(row, Stage.ACCEPTED)
            row.provider_job_id = result.provider_job_id
        else:
            web_prints.set_stage(row, Stage.REFUSED, result.detail or "the print server refused it")
        done.append(row)
    return done


def now() -> datetime:
    return datetime.now(UTC)
