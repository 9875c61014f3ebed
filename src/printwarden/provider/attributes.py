"""Building IPP attributes: printer descriptions of queues and job descriptions of jobs."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from printwarden.analysis.papersize import pwg_points
from printwarden.provider import clock
from printwarden.provider.config import PrinterConfig, QueueConfig, QueueKind
from printwarden.provider.ipp import (
    Attribute,
    Collection,
    IntRange,
    Operation,
    OutOfBand,
    Resolution,
    Value,
)
from printwarden.provider.ipp import ValueTag as T
from printwarden.provider.spool import Job, more_documents

DOCUMENT_FORMATS = (
    "application/pdf",
    "application/postscript",
    "image/pwg-raster",
    "image/urf",
    "image/jpeg",
    "image/png",
    "text/plain",
    "application/octet-stream",
)
OPERATIONS = (
    Operation.PRINT_JOB,
    Operation.VALIDATE_JOB,
    Operation.CREATE_JOB,
    Operation.SEND_DOCUMENT,
    Operation.CANCEL_JOB,
    Operation.GET_JOB_ATTRIBUTES,
    Operation.GET_JOBS,
    Operation.GET_PRINTER_ATTRIBUTES,
    Operation.HOLD_JOB,
    Operation.RELEASE_JOB,
    Operation.CANCEL_MY_JOBS,
    Operation.CLOSE_JOB,
)
MEDIA_SIZES = {  # PWG self-describing name → size in hundredths of millimetres
    "iso_a4_210x297mm": (21000, 29700),
    "na_letter_8.5x11in": (21590, 27940),
    "iso_a3_297x420mm": (29700, 42000),
    "na_legal_8.5x14in": (21590, 35560),
    "na_index-4x6_4x6in": (10160, 15240),
}


# Job attribute (not IPP): the document-name of the first document, when set apart.
FIRST_DOCUMENT_NAME = "printwarden-document-name"


def a(name: str, tag: int, *values: Value) -> Attribute:
    return Attribute(name, tag, list(values))


def media_dimensions(media: str) -> tuple[int, int]:
    """Hundredths of millimetres of a PWG media name (A4 for a name without a size)."""
    if media in MEDIA_SIZES:
        return MEDIA_SIZES[media]
    points = pwg_points(media)
    if points is None:
        return 21000, 29700
    width, height = points
    return round(width * 2540 / 72), round(height * 2540 / 72)


def media_col(media: str) -> Collection:
    width, height = media_dimensions(media)
    size = Collection([a("x-dimension", T.INTEGER, width), a("y-dimension", T.INTEGER, height)])
    return Collection(
        [
            a("media-size", T.BEG_COLLECTION, size),
            a("media-size-name", T.KEYWORD, media),
            a("media-source", T.KEYWORD, "auto"),
            a("media-type", T.KEYWORD, "stationery"),
        ]
    )


def printer_attributes(
    queue: QueueConfig,
    printer: PrinterConfig | None,
    printer_uri: str,
    queued_jobs: int,
    printer_uuid: str,
    max_document_bytes: int = 2**31 - 1,
    *,
    formats: Sequence[str] = DOCUMENT_FORMATS,
    extras: Iterable[Attribute] = (),
) -> list[Attribute]:
    """Every printer attribute of one queue, as IPP Everywhere clients expect them.

    ``formats`` is the queue's ``document-format-supported``: what can reach its printer
    (``provider/submission_checks.py``); the raster attributes are listed only with their
    format. ``extras`` (``provider/queue_description.py``) replace the attributes of the
    same name and add the others."""
    base = _base_attributes(queue, printer, printer_uri, queued_jobs, printer_uuid,
                            max_document_bytes, formats)  # fmt: skip
    merged = {attribute.name: attribute for attribute in base}
    for extra in extras:
        merged[extra.name] = extra
    return list(merged.values())


def _base_attributes(
    queue: QueueConfig,
    printer: PrinterConfig | None,
    printer_uri: str,
    queued_jobs: int,
    printer_uuid: str,
    max_document_bytes: int,
    formats: Sequence[str],
) -> list[Attribute]:
    colour = printer.colour if printer else True
    duplex = printer.duplex if printer else True
    media = (printer.media if printer else None) or ["iso_a4_210x297mm"]
    sides = (
        ["one-sided", "two-sided-long-edge", "two-sided-short-edge"] if duplex else ["one-sided"]
    )
    colour_modes = ["auto", "color", "monochrome"] if colour else ["monochrome"]
    now = datetime.now(UTC)
    kind = {
        QueueKind.DIRECT: "direct",
        QueueKind.HOLD: "secure release",
        QueueKind.FINDME: "Find-Me",
    }[queue.kind]
    secure = printer_uri.startswith("ipps:")
    return [
        a("printer-uri-supported", T.URI, printer_uri),
        a("uri-security-supported", T.KEYWORD, "tls" if secure else "none"),
        a(
            "uri-authentication-supported",
            T.KEYWORD,
            "basic" if queue.require_authentication else "requesting-user-name",
        ),
        a("printer-name", T.NAME_WITHOUT_LANGUAGE, queue.name),
        # What Windows' IPP class driver and Mopria clients read besides IPP Everywhere's.
        a("printer-dns-sd-name", T.NAME_WITHOUT_LANGUAGE, (queue.dns_sd_name or queue.name)[:63]),
        a("mopria-certified", T.TEXT_WITHOUT_LANGUAGE, "2.0"),
        a("document-format-preferred", T.MIME_MEDIA_TYPE, _preferred(formats)),
        a("printer-info", T.TEXT_WITHOUT_LANGUAGE, f"printwarden {kind} queue {queue.name}"[:127]),
        a("printer-location", T.TEXT_WITHOUT_LANGUAGE, ""),
        a("printer-make-and-model", T.TEXT_WITHOUT_LANGUAGE, "printwarden Print Provider"),
        a("printer-more-info", T.URI, ("https" if secure else "http") + printer_uri[3 + secure :]),
        a("printer-uuid", T.URI, f"urn:uuid:{printer_uuid}"),
        a("printer-state", T.ENUM, 3),
        a("printer-state-reasons", T.KEYWORD, "none"),
        a("printer-state-message", T.TEXT_WITHOUT_LANGUAGE, ""),
        a("printer-is-accepting-jobs", T.BOOLEAN, True),
        a("queued-job-count", T.INTEGER, queued_jobs),
        a("printer-up-time", T.INTEGER, up_time()),
        a("printer-current-time", T.DATE_TIME, now),
        a("printer-config-change-time", T.INTEGER, 0),
        a("printer-state-change-time", T.INTEGER, 0),
        a("ipp-versions-supported", T.KEYWORD, "1.0", "1.1", "2.0", "2.1", "2.2"),
        a("ipp-features-supported", T.KEYWORD, "ipp-everywhere"),
        a("operations-supported", T.ENUM, *[int(op) for op in OPERATIONS]),
        a("charset-configured", T.CHARSET, "utf-8"),
        a("charset-supported", T.CHARSET, "us-ascii", "utf-8"),
        a("natural-language-configured", T.NATURAL_LANGUAGE, "en"),
        a("generated-natural-language-supported", T.NATURAL_LANGUAGE, "en"),
        a("document-format-default", T.MIME_MEDIA_TYPE, "application/octet-stream"),
        a("document-format-supported", T.MIME_MEDIA_TYPE, *formats),
        a("compression-supported", T.KEYWORD, "none"),
        a("pdl-override-supported", T.KEYWORD, "attempted"),
        a("multiple-document-jobs-supported", T.BOOLEAN, False),
        a("multiple-operation-time-out", T.INTEGER, 60),
        a("multiple-operation-time-out-action", T.KEYWORD, "abort-job"),
        a("job-ids-supported", T.BOOLEAN, True),
        a(
            "job-k-octets-supported",
            T.RANGE_OF_INTEGER,
            IntRange(0, min(max_document_bytes // 1024, 2**31 - 1)),
        ),
        a("which-jobs-supported", T.KEYWORD, "completed", "not-completed", "all"),
        a(
            "job-creation-attributes-supported",
            T.KEYWORD,
            "copies",
            "sides",
            "media",
            "media-col",
            "print-color-mode",
            "print-quality",
            "job-hold-until",
            "job-account-id",
            "orientation-requested",
            "printer-resolution",
            "finishings",
            "output-bin",
            "multiple-document-handling",
            "job-priority",
            "job-sheets",
            "page-ranges",
            "number-up",
            "overrides",
            "print-content-optimize",
            "print-rendering-intent",
        ),
        a("copies-default", T.INTEGER, 1),
        a("copies-supported", T.RANGE_OF_INTEGER, IntRange(1, 999)),
        a("finishings-default", T.ENUM, 3),
        a("finishings-supported", T.ENUM, 3),
        a("job-hold-until-default", T.KEYWORD, "no-hold"),
        a("job-hold-until-supported", T.KEYWORD, "no-hold", "indefinite"),
        a("job-account-id-supported", T.BOOLEAN, True),
        a("job-account-id-default", T.NO_VALUE, _no_value()),
        a("media-default", T.KEYWORD, media[0]),
        a("media-supported", T.KEYWORD, *media),
        a("media-ready", T.KEYWORD, *media),
        a("media-col-default", T.BEG_COLLECTION, media_col(media[0])),
        a("media-col-ready", T.BEG_COLLECTION, *[media_col(m) for m in media]),
        a(
            "media-col-supported",
            T.KEYWORD,
            "media-size",
            "media-size-name",
            "media-source",
            "media-type",
        ),
        a(
            "media-size-supported",
            T.BEG_COLLECTION,
            *[media_col(m)["media-size"].value for m in media],
        ),
        a("media-source-supported", T.KEYWORD, "auto"),
        a("media-type-supported", T.KEYWORD, "stationery"),
        a(
            "multiple-document-handling-supported",
            T.KEYWORD,
            "separate-documents-uncollated-copies",
            "separate-documents-collated-copies",
        ),
        a("orientation-requested-default", T.ENUM, 3),
        a("orientation-requested-supported", T.ENUM, 3, 4, 5, 6),
        a("output-bin-default", T.KEYWORD, "face-down"),
        a("output-bin-supported", T.KEYWORD, "face-down"),
        a("pages-per-minute", T.INTEGER, 30),
        *([a("pages-per-minute-color", T.INTEGER, 20)] if colour else []),
        a("color-supported", T.BOOLEAN, colour),
        a("print-color-mode-default", T.KEYWORD, colour_modes[0]),
        a("print-color-mode-supported", T.KEYWORD, *colour_modes),
        a("print-quality-default", T.ENUM, 4),
        a("print-quality-supported", T.ENUM, 3, 4, 5),
        a("printer-resolution-default", T.RESOLUTION, Resolution(600, 600, 3)),
        a(
            "printer-resolution-supported",
            T.RESOLUTION,
            Resolution(300, 300, 3),
            Resolution(600, 600, 3),
        ),
        a("sides-default", T.KEYWORD, "one-sided"),
        a("sides-supported", T.KEYWORD, *sides),
        *(_PWG_RASTER if "image/pwg-raster" in formats else []),
        *(_URF if "image/urf" in formats else []),
    ]


_PWG_RASTER = [
    a("pwg-raster-document-resolution-supported", T.RESOLUTION, Resolution(300, 300, 3)),
    a("pwg-raster-document-type-supported", T.KEYWORD, "black_1", "sgray_8", "srgb_8"),
    a("pwg-raster-document-sheet-back", T.KEYWORD, "normal"),
]
_URF = [a("urf-supported", T.KEYWORD, "V1.4", "CP1", "W8", "SRGB24", "RS300", "DM1")]


def _preferred(formats: Sequence[str]) -> str:
    """The format clients should send: PDF where the queue takes it (it prints as sent)."""
    for candidate in ("application/pdf", "image/urf", "image/pwg-raster"):
        if candidate in formats:
            return candidate
    return next(iter(formats), "application/octet-stream")


def _no_value() -> Value:
    return OutOfBand(T.NO_VALUE)


def new_printer_uuid(provider: str, queue: str) -> str:
    """A stable printer-uuid for a queue of a provider."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"printwarden:{provider}:{queue}"))


# What refused a job (the server's ``denied_by``) as the job-state-reasons keyword IPP
# clients know: CUPS' ipp backend maps the account-* ones to its own job states.
DENIAL_REASONS = {"credit": "account-limit-reached", "account": "account-authorization-failed"}


def denial_reasons(denied_by: str) -> str:
    """The job-state-reasons of a job the server denied (by default: the administrator's
    rules canceled it)."""
    return DENIAL_REASONS.get(denied_by, "job-canceled-by-operator")


def job_attributes(job: Job, printer_uri: str) -> list[Attribute]:
    """The job description attributes of a spooled job."""
    attributes = [
        a("job-id", T.INTEGER, job.id),
        a("job-uri", T.URI, f"{printer_uri}/{job.id}"),
        a("job-uuid", T.URI, f"urn:uuid:{job.uuid}"),
        a("job-printer-uri", T.URI, printer_uri),
        a("job-name", T.NAME_WITHOUT_LANGUAGE, job.name or f"job-{job.id}"),
        a("job-originating-user-name", T.NAME_WITHOUT_LANGUAGE, job.user),
        a("job-state", T.ENUM, job.state),
        a("job-state-reasons", T.KEYWORD, *job.reasons.split(",")),
        a("job-state-message", T.TEXT_WITHOUT_LANGUAGE, job.message[:255]),
        # CUPS' clients (lpstat -l: "Status:") show this, not job-state-message.
        a("job-printer-state-message", T.TEXT_WITHOUT_LANGUAGE, job.message[:255]),
        a("job-printer-up-time", T.INTEGER, up_time()),
        a("time-at-creation", T.INTEGER, clock.ipp_time(job.created)),
        a("time-at-processing", *_time(job.processing)),
        a("time-at-completed", *_time(job.completed)),
        a("date-time-at-creation", T.DATE_TIME, clock.date_time(job.created)),
        a("date-time-at-processing", *_date(job.processing)),
        a("date-time-at-completed", *_date(job.completed)),
        a("document-format", T.MIME_MEDIA_TYPE, job.format),
        a("job-k-octets", T.INTEGER, (job.size + 1023) // 1024),
        a("copies", T.INTEGER, int(job.attributes.get("copies", 1))),
        a("job-hold-until", T.KEYWORD, str(job.attributes.get("job-hold-until", "no-hold"))),
        a("job-priority", T.INTEGER, int(job.attributes.get("job-priority", 50))),
        a("job-sheets", T.NAME_WITHOUT_LANGUAGE, "none"),
        a("number-up", T.INTEGER, int(job.attributes.get("number-up", 1))),
        a("number-of-documents", T.INTEGER, len(job_documents(job))),
        *_page_ranges(job),
    ]
    pages = job.analysis.get("pages")
    if pages is not None:
        attributes.append(a("job-impressions", T.INTEGER, int(pages)))
    if job.state == 9 and pages is not None:
        attributes.append(a("job-impressions-completed", T.INTEGER, int(pages)))
    if job.account:
        attributes.append(a("job-account-id", T.NAME_WITHOUT_LANGUAGE, job.account))
    return attributes


def job_summary(job: Job, printer_uri: str) -> list[Attribute]:
    """What a job-creating answer carries of the job (RFC 8011 4.2.1.2): those of
    :func:`job_attributes`, without building the rest."""
    return [
        a("job-id", T.INTEGER, job.id),
        a("job-uri", T.URI, f"{printer_uri}/{job.id}"),
        a("job-uuid", T.URI, f"urn:uuid:{job.uuid}"),
        a("job-state", T.ENUM, job.state),
        a("job-state-reasons", T.KEYWORD, *job.reasons.split(",")),
        a("job-state-message", T.TEXT_WITHOUT_LANGUAGE, job.message[:255]),
    ]


def up_time() -> int:
    """printer-up-time: seconds since the provider started (``provider/clock.py``)."""
    return clock.up_time()


def job_documents(job: Job) -> list[dict[str, Any]]:
    """The documents of a job: its first, then those Send-Document added."""
    first: list[dict[str, Any]] = []
    if job.document:
        name = str(job.attributes.get(FIRST_DOCUMENT_NAME) or job.name)
        first = [{"file": job.document, "format": job.format, "size": job.size,
                  "document-name": name}]  # fmt: skip
    return first + more_documents(job)


def _page_ranges(job: Job) -> list[Attribute]:
    ranges = job.attributes.get("page-ranges")
    if not isinstance(ranges, list) or not ranges:
        return []
    return [a("page-ranges", T.RANGE_OF_INTEGER, *[IntRange(lo, hi) for lo, hi in ranges])]


def _time(stamp: float | None) -> tuple[int, Value]:
    if stamp is None:
        return T.NO_VALUE, OutOfBand(T.NO_VALUE)
    return T.INTEGER, clock.ipp_time(stamp)


def _date(stamp: float | None) -> tuple[int, Value]:
    if stamp is None:
        return T.NO_VALUE, OutOfBand(T.NO_VALUE)
    return T.DATE_TIME, clock.date_time(stamp)
