"""What a queue says of itself beyond RFC 8011's basics: IPP/2.1, IPP/2.2 (PWG 5100.12) and
IPP Everywhere (PWG 5100.14) printer description attributes, each one true of the queue.

* its state as :mod:`.printer_states` computes it, with the times it changed;
* what its operator set (:mod:`.queue_admin`) and what may be set;
* its real printer's supplies, alerts, device ID and margins (:mod:`.printer_status`);
* event subscriptions (:mod:`.subscriptions`);
* page ranges, number-up, overrides and several documents per job for formats that can be
  laid out (:mod:`printwarden.domain.imposition`): ``Get-Printer-Attributes`` with a
  ``document-format`` answers for that format (``printer-get-attributes-supported``);
* icons and an information page the provider serves itself (:mod:`.queue_pages`).

:func:`describe` returns attributes that replace those of the same name in the base
description (:func:`.attributes.printer_attributes`) and add the others.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote

from printwarden.domain import imposition
from printwarden.provider import printer_status, subscriptions
from printwarden.provider.attributes import media_dimensions
from printwarden.provider.capabilities import Capabilities
from printwarden.provider.clock import date_time, ipp_time, started, up_time
from printwarden.provider.config import PrinterConfig, ProviderConfig, QueueConfig, QueueKind
from printwarden.provider.desk import MULTIPLE_OPERATION_TIME_OUT
from printwarden.provider.ipp import Attribute, Collection, IntRange, OutOfBand, Resolution
from printwarden.provider.ipp import ValueTag as T
from printwarden.provider.printer_states import PrinterState
from printwarden.provider.printer_status import PrinterStatus
from printwarden.provider.queue_admin import SETTABLE, QueueState

IPP_VERSIONS = ("1.0", "1.1", "2.0", "2.1", "2.2")
PRIORITY_DEFAULT, PRIORITY_LEVELS = 50, 100
JOB_SETTABLE = ("job-name", "job-priority")
WHICH_JOBS = ("completed", "not-completed", "all", "aborted", "canceled", "pending",
              "pending-held", "processing", "processing-stopped", "proof-print")  # fmt: skip
OVERRIDE_SELECTORS = ("pages", "document-numbers", "document-number")
ICON_SIZES = (48, 128, 512)
# Job Template attributes a queue takes besides RFC 8011's (job-creation-attributes).
CREATION_ATTRIBUTES = (
    "job-priority",
    "job-sheets",
    "page-ranges",
    "number-up",
    "overrides",
    "print-content-optimize",
    "print-rendering-intent",
)


@dataclass(frozen=True, slots=True)
class QueueView:
    """Everything a queue's description is made of."""

    queue: QueueConfig
    printer_uri: str
    admin: QueueState
    state: PrinterState
    state_changed: float
    status: PrinterStatus | None
    formats: Sequence[str]
    media: Sequence[str]
    operations: Sequence[int]
    document_format: str = ""
    raster: Raster | None = None  # what the printer takes of PWG raster and URF, if known


@dataclass(frozen=True, slots=True)
class Raster:
    """The raster a queue passes to its printer as it comes: the printer's resolutions
    (dpi), PWG raster types and URF keywords (empty: not said)."""

    resolutions: tuple[int, ...] = ()
    types: tuple[str, ...] = ()
    urf: tuple[str, ...] = ()


RASTER_ORDER = ("black_1", "sgray_8", "srgb_8", "srgb_16", "adobe-rgb_8", "adobe-rgb_16",
                "cmyk_8", "cmyk_16", "sgray_16")  # fmt: skip


def any_printer(
    config: ProviderConfig, capabilities: Mapping[str, Capabilities]
) -> PrinterConfig | None:
    """What a Find-Me queue without a printer of its own offers: what any printer of the
    provider has (its jobs may print at any: colour turns grey at a monochrome printer, and
    the server refuses a release where the paper lacks)."""
    known = [capabilities[p.name] for p in config.printers if p.name in capabilities]
    if not known:
        return None
    media = list(dict.fromkeys(m for printer in known for m in printer.media))
    return config.printers[0].model_copy(
        update={
            "colour": any(p.colour for p in known),
            "duplex": any(p.duplex for p in known),
            "media": media,
        }
    )


def raster_of(
    queue: QueueConfig,
    config: ProviderConfig,
    capabilities: Callable[[str], Capabilities | None],
) -> Raster | None:
    """The raster every printer a queue's jobs may print at takes (Find-Me: all of them);
    None while one of them has not said."""
    names = [p.name for p in config.printers] if queue.kind is QueueKind.FINDME else [queue.printer]
    printers = [capabilities(name) for name in names]
    known = [p for p in printers if p is not None and p.raster_resolutions]
    if not known or len(known) != len(printers):
        return None
    resolutions = set.intersection(*(set(p.raster_resolutions) for p in known))
    types = set.intersection(*(set(p.raster_types) for p in known))
    urf = set.intersection(*(set(p.urf) for p in known)) if all(p.urf for p in known) else set()
    return Raster(
        tuple(sorted(resolutions)),
        tuple(t for t in RASTER_ORDER if t in types),
        tuple(sorted(urf)),
    )


def a(name: str, tag: int, *values: object) -> Attribute:
    return Attribute(name, tag, list(values))  # type: ignore[arg-type]


def web_base(printer_uri: str) -> str:
    """``http://host:port`` of the provider, from a queue's ``ipp://`` URI."""
    scheme, _, rest = printer_uri.partition("://")
    host = rest.split("/", 1)[0]
    return f"{'https' if scheme == 'ipps' else 'http'}://{host}"


def describe(view: QueueView) -> list[Attribute]:
    """The queue's IPP/2.x and IPP Everywhere attributes (see the module docstring)."""
    return [
        *_state(view),
        *_operator(view),
        *_jobs(view),
        *_layout(view),
        *_notifications(),
        *_device(view),
        *_media(view),
        *_raster(view),
    ]


def _raster(view: QueueView) -> list[Attribute]:
    """A raster document goes to the printer as it came: the queue takes what it takes."""
    raster, found = view.raster, []
    if raster is None:
        return []
    if "image/pwg-raster" in view.formats and raster.resolutions and raster.types:
        dpi = [Resolution(r, r, 3) for r in raster.resolutions]
        found += [
            a("pwg-raster-document-resolution-supported", T.RESOLUTION, *dpi),
            a("pwg-raster-document-type-supported", T.KEYWORD, *raster.types),
        ]
        back = view.status.sheet_back if view.status is not None else ""
        if back:
            found.append(a("pwg-raster-document-sheet-back", T.KEYWORD, back))
    if "image/urf" in view.formats and raster.urf:
        found.append(a("urf-supported", T.KEYWORD, *raster.urf))
    return found


def _state(view: QueueView) -> list[Attribute]:
    state, now = view.state, up_time()
    return [
        a("printer-state", T.ENUM, state.state),
        a("printer-state-reasons", T.KEYWORD, *state.reasons),
        a("printer-state-message", T.TEXT_WITHOUT_LANGUAGE, state.message),
        a("printer-is-accepting-jobs", T.BOOLEAN, state.accepting),
        a("printer-up-time", T.INTEGER, now),
        a("printer-state-change-time", T.INTEGER, max(0, ipp_time(view.state_changed))),
        a("printer-state-change-date-time", T.DATE_TIME, date_time(view.state_changed)),
        a("printer-config-change-time", T.INTEGER, max(0, ipp_time(view.admin.config_changed))),
        a(
            "printer-config-change-date-time",
            T.DATE_TIME,
            date_time(view.admin.config_changed or started()),
        ),
        a("ipp-versions-supported", T.KEYWORD, *IPP_VERSIONS),
        a("ipp-features-supported", T.KEYWORD, "ipp-everywhere", "page-overrides"),
        a("operations-supported", T.ENUM, *sorted(set(view.operations))),
    ]


def _operator(view: QueueView) -> list[Attribute]:
    admin, queue = view.admin, view.queue
    kind = {QueueKind.DIRECT: "direct", QueueKind.HOLD: "secure release",
            QueueKind.FINDME: "Find-Me"}[queue.kind]  # fmt: skip
    info = admin.text("printer-info", f"printwarden {kind} queue {queue.name}"[:127])
    geo = admin.text("printer-geo-location")
    return [
        a("printer-info", T.TEXT_WITHOUT_LANGUAGE, info),
        a("printer-location", T.TEXT_WITHOUT_LANGUAGE, admin.text("printer-location")),
        a("printer-organization", T.TEXT_WITHOUT_LANGUAGE, admin.text("printer-organization")),
        a(
            "printer-organizational-unit",
            T.TEXT_WITHOUT_LANGUAGE,
            admin.text("printer-organizational-unit"),
        ),
        a("printer-geo-location", T.URI, geo) if geo
        else a("printer-geo-location", T.UNKNOWN, OutOfBand(T.UNKNOWN)),
        a(
            "printer-message-from-operator",
            T.TEXT_WITHOUT_LANGUAGE,
            admin.text("printer-message-from-operator"),
        ),
        a("printer-settable-attributes-supported", T.KEYWORD, *SETTABLE),
        a("job-settable-attributes-supported", T.KEYWORD, *JOB_SETTABLE),
        a("printer-get-attributes-supported", T.KEYWORD, "document-format"),
        a("preferred-attributes-supported", T.BOOLEAN, False),
    ]  # fmt: skip


def _jobs(view: QueueView) -> list[Attribute]:
    return [
        a("job-priority-default", T.INTEGER, PRIORITY_DEFAULT),
        a("job-priority-supported", T.INTEGER, PRIORITY_LEVELS),
        a("job-sheets-default", T.NAME_WITHOUT_LANGUAGE, "none"),
        a("job-sheets-supported", T.NAME_WITHOUT_LANGUAGE, "none"),
        a("which-jobs-supported", T.KEYWORD, *WHICH_JOBS),
        a("multiple-document-jobs-supported", T.BOOLEAN, True),
        a("multiple-document-handling-default", T.KEYWORD, imposition.SEPARATE_COLLATED),
        a("multiple-document-handling-supported", T.KEYWORD, *imposition.HANDLINGS),
        a("multiple-operation-time-out", T.INTEGER, MULTIPLE_OPERATION_TIME_OUT),
        a("multiple-operation-time-out-action", T.KEYWORD, "process-job"),
        a("print-content-optimize-default", T.KEYWORD, "auto"),
        a("print-content-optimize-supported", T.KEYWORD, "auto"),
        a("print-rendering-intent-default", T.KEYWORD, "auto"),
        a("print-rendering-intent-supported", T.KEYWORD, "auto"),
    ]


def _layout(view: QueueView) -> list[Attribute]:
    """Page ranges, number-up and overrides: for a format that can be laid out (asked for,
    else any the queue takes)."""
    asked = view.document_format
    generic = not asked or asked == "application/octet-stream"
    layable = (
        any(imposition.layable(f) for f in view.formats) if generic else imposition.layable(asked)
    )
    up = imposition.NUMBER_UP if layable else (1,)
    return [
        a("page-ranges-supported", T.BOOLEAN, layable),
        a("number-up-default", T.INTEGER, 1),
        a("number-up-supported", T.INTEGER, *up),
        a(
            "overrides-supported",
            T.KEYWORD,
            *(OVERRIDE_SELECTORS + imposition.OVERRIDABLE if layable else OVERRIDE_SELECTORS),
        ),
    ]


def _notifications() -> list[Attribute]:
    return [
        a("notify-events-default", T.KEYWORD, *subscriptions.DEFAULT_EVENTS),
        a("notify-events-supported", T.KEYWORD, *subscriptions.EVENTS_SUPPORTED),
        a("notify-lease-duration-default", T.INTEGER, subscriptions.LEASE_DEFAULT),
        a(
            "notify-lease-duration-supported",
            T.RANGE_OF_INTEGER,
            IntRange(0, subscriptions.LEASE_MAX),
        ),
        a("notify-max-events-supported", T.INTEGER, subscriptions.MAX_EVENTS),
        a("notify-pull-method-supported", T.KEYWORD, "ippget"),
        a("ippget-event-life", T.INTEGER, subscriptions.EVENT_LIFE),
    ]


def _device(view: QueueView) -> list[Attribute]:
    status, printer = view.status, view.queue.printer
    supplies, supply_texts = printer_status.supplies(status, printer)
    alerts, alert_texts = printer_status.alerts(status, printer)
    actions, action = printer_status.identify_actions(status)
    base = web_base(view.printer_uri)
    page = f"{base}/queues/{quote(view.queue.name)}"
    icons = [f"{base}/icons/{quote(view.queue.name)}-{size}.png" for size in ICON_SIZES]
    info_uri = status.supply_info_uri if status is not None and status.supply_info_uri else page
    return [
        a("printer-supply", T.OCTET_STRING, *[s.encode() for s in supplies]),
        a("printer-supply-description", T.TEXT_WITHOUT_LANGUAGE, *supply_texts),
        a("printer-supply-info-uri", T.URI, info_uri),
        a("printer-alert", T.OCTET_STRING, *[x.encode() for x in alerts]),
        a("printer-alert-description", T.TEXT_WITHOUT_LANGUAGE, *alert_texts),
        a(
            "printer-device-id",
            T.TEXT_WITHOUT_LANGUAGE,
            printer_status.device_id(status, view.formats, "Print Provider"),
        ),
        a("identify-actions-default", T.KEYWORD, action),
        a("identify-actions-supported", T.KEYWORD, *actions),
        a("printer-icons", T.URI, *icons),
        a("printer-more-info", T.URI, page),
    ]


def _media(view: QueueView) -> list[Attribute]:
    bottom, left, right, top = printer_status.margins(view.status)
    database = [_media_entry(m, bottom[0], left[0], right[0], top[0]) for m in view.media]
    return [
        a("media-bottom-margin-supported", T.INTEGER, *bottom),
        a("media-left-margin-supported", T.INTEGER, *left),
        a("media-right-margin-supported", T.INTEGER, *right),
        a("media-top-margin-supported", T.INTEGER, *top),
        a("media-col-database", T.BEG_COLLECTION, *database),
        a(
            "media-col-supported",
            T.KEYWORD,
            "media-bottom-margin",
            "media-left-margin",
            "media-right-margin",
            "media-size",
            "media-size-name",
            "media-source",
            "media-top-margin",
            "media-type",
        ),
    ]


def _media_entry(media: str, bottom: int, left: int, right: int, top: int) -> Collection:
    width, height = media_dimensions(media)
    size = Collection([a("x-dimension", T.INTEGER, width), a("y-dimension", T.INTEGER, height)])
    return Collection(
        [
            a("media-size", T.BEG_COLLECTION, size),
            a("media-size-name", T.KEYWORD, media),
            a("media-bottom-margin", T.INTEGER, bottom),
            a("media-left-margin", T.INTEGER, left),
            a("media-right-margin", T.INTEGER, right),
            a("media-top-margin", T.INTEGER, top),
        ]
    )
