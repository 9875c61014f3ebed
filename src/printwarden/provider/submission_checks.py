"""What a queue accepts at submission: formats it can deliver, paper it offers.

A job the printer cannot be sent must be refused while the client is still listening, not
accepted and aborted later (CUPS and IPP Everywhere clients trust what a queue advertises
and report only the submission's answer to the person). So:

* a declared ``document-format`` that no conversion brings to the queue's printer is refused
  with the request's header, before the document is read;
* the document's first bytes are sniffed as they arrive: ``application/octet-stream`` (what
  ``lp`` and CUPS' raw queues send) becomes what its bytes say — a recognised format the
  queue can deliver, or a refusal (an office file, random bytes) — and magic bytes win over
  a declared type, as analysis does. The refusal comes before the job is spooled, so the
  spool's "fsync before successful-ok" is untouched;
* ``media`` (or ``media-col``) the queue does not offer is refused, unless the queue fits
  jobs onto its own paper (``fit_to_paper``).
"""

from __future__ import annotations

from typing import Any

from printwarden.analysis import detect, papersize
from printwarden.domain import formats
from printwarden.provider.config import QueueConfig
from printwarden.provider.ipp import Collection, Message
from printwarden.provider.printer_watch import PrinterWatch

GENERIC = frozenset({formats.OCTET_STREAM, "application/vnd.cups-raw"})


def advertised(printers: PrinterWatch, queue: QueueConfig) -> list[str]:
    """The queue's ``document-format-supported``."""
    return formats.advertised(printers.queue_formats(queue))


def declared_format_refusal(printers: PrinterWatch, queue: QueueConfig, declared: str) -> str:
    """Why the queue refuses a document declared as ``declared`` ("" when it may come)."""
    normalized = detect.normalize(declared)
    if normalized in GENERIC:
        return ""
    return _refusal(printers, queue, normalized, "")


def content_refusal(printers: PrinterWatch, queue: QueueConfig, head: bytes, declared: str) -> str:
    """Why the queue refuses a document whose first bytes are ``head`` ("" when it may
    come): the format its bytes show (else the declared one) must reach the printer."""
    found = detect.resolve_head(head, declared)
    if found == detect.OCTET:
        return (
            "the document's format could not be recognised (the queue takes "
            f"{_listed(printers, queue)}); send it as one of these"
        )
    return _refusal(printers, queue, found, " (recognised by its content)")


def _refusal(printers: PrinterWatch, queue: QueueConfig, found: str, how: str) -> str:
    if found in printers.queue_formats(queue):
        return ""
    return (
        f"{found}{how} cannot be printed at queue {queue.name}: it takes {_listed(printers, queue)}"
    )


def _listed(printers: PrinterWatch, queue: QueueConfig) -> str:
    accepted = [f for f in advertised(printers, queue) if f != formats.OCTET_STREAM]
    return ", ".join(accepted) or "no format at the moment"


def requested_media(message: Message, template: dict[str, Any]) -> str:
    """The media the job asks for: ``media``, else the size a ``media-col`` names (its
    ``media-size-name``, or its dimensions as a self-describing name); "" for none."""
    media = template.get("media")
    if isinstance(media, str) and media and media != "media-col":
        return media
    collection = message.value("media-col") if "media-col" in template else None
    if not isinstance(collection, Collection):
        return ""
    name = collection.value("media-size-name")
    if isinstance(name, str) and name:
        return name
    size = collection.value("media-size")
    if isinstance(size, Collection):
        x, y = size.value("x-dimension"), size.value("y-dimension")
        if isinstance(x, int) and isinstance(y, int) and x > 0 and y > 0:
            return f"custom_{x}x{y}_{x / 100:g}x{y / 100:g}mm"
    return ""


def paper_size_of(media: str) -> str | None:
    """The paper size name (``A4``, ``letter``, ``102x152mm``) of a media name."""
    return papersize.from_pwg_name(media) or papersize.canonical(media)


def media_refusal(printers: PrinterWatch, queue: QueueConfig, media: str) -> str:
    """Why the queue refuses a job on ``media`` ("" when it may come)."""
    offered = printers.queue_paper_sizes(queue)
    if not media or offered is None or queue.fit_to_paper:
        return ""
    size = paper_size_of(media)
    if size is not None and size.lower() in {s.lower() for s in offered}:
        return ""
    return (
        f"queue {queue.name} has no {size or media!r} paper (it has {', '.join(sorted(offered))})"
    )
