"""The job log: filters (user, printer, dates), newest first, paged; and its CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import iterate_in_threadpool, run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from printwarden.store import reports
from printwarden.web.guards import PageContext, WebError, admin_page
from printwarden.web.templating import HEADERS

router = APIRouter()
PAGE_SIZE = 50
CSV_COLUMNS = (
    *("printed_at", "username", "printer", "account", "document_name", "pages"),
    *("colour_pages", "copies", "duplex", "paper_size", "cost", "origin", "job_ref"),
)


def job_filter(
    user: str = Query("", max_length=128),
    printer: str = Query("", max_length=128),
    since: str = Query("", max_length=10, alias="from"),
    until: str = Query("", max_length=10, alias="to"),
) -> reports.JobFilter:
    """The filters of the page's form; dates are whole UTC days, ``to`` included."""
    last = _day(until)
    return reports.JobFilter(
        username=user.strip(),
        printer=printer.strip(),
        since=_day(since),
        until=last + timedelta(days=1) if last is not None else None,
    )


def _day(text: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), time(), tzinfo=UTC)
    except ValueError:
        raise WebError(422, "Invalid date", f"{text!r} is not a date (YYYY-MM-DD)") from None


@router.get("/web/admin/jobs")
async def job_log(
    ctx: PageContext = Depends(admin_page),
    where: reports.JobFilter = Depends(job_filter),
    before: int | None = Query(None, ge=1),
) -> Response:
    return await run_in_threadpool(_job_log, ctx, where, before)


def _job_log(ctx: PageContext, where: reports.JobFilter, before: int | None) -> Response:
    with ctx.app.database.read() as session:
        found = reports.job_log(session, where, before=before, limit=PAGE_SIZE)
    fields = form_values(where)
    return ctx.render("admin/jobs.html", jobs=found, form=fields, show_user=True,
                      more=len(found) == PAGE_SIZE, query=urlencode(fields))  # fmt: skip


def form_values(where: reports.JobFilter) -> dict[str, str]:
    """The filter as the form's fields (``to`` is the last day included)."""
    until = (where.until - timedelta(days=1)).date().isoformat() if where.until else ""
    since = where.since.date().isoformat() if where.since else ""
    return {"user": where.username, "printer": where.printer, "from": since, "to": until}


@router.get("/web/admin/jobs.csv")
async def job_log_csv(
    ctx: PageContext = Depends(admin_page), where: reports.JobFilter = Depends(job_filter)
) -> Response:
    """Every job matching the filters, as CSV (streamed, read in pages)."""
    rows = iterate_in_threadpool(_csv_lines(ctx, where))
    headers = {**HEADERS, "Content-Disposition": 'attachment; filename="job-log.csv"'}
    return StreamingResponse(rows, media_type="text/csv; charset=utf-8", headers=headers)


def _csv_lines(ctx: PageContext, where: reports.JobFilter) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    with ctx.app.database.read() as session:
        for count, job in enumerate(reports.iter_job_log(session, where), start=1):
            writer.writerow(_csv_row(ctx, job))
            if count % 500 == 0:
                yield _drain(buffer)
    yield _drain(buffer)


def _csv_row(ctx: PageContext, job: reports.LoggedJob) -> list[str]:
    values = [job.printed_at.isoformat(), job.username, job.printer, job.account,
              job.document_name, job.pages, job.colour_pages, job.copies, job.duplex,
              job.paper_size, ctx.money(job.cost), job.origin, job.job_ref]  # fmt: skip
    return [_safe_cell(str(v)) for v in values]


def _safe_cell(text: str) -> str:
    """Spreadsheets run cells starting with = + - @ as formulas: quote those (CSV injection)."""
    return (
        "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(text) else text
    )


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
