"""What the provider serves over plain HTTP GET for its queues: the icons of
``printer-icons`` (PNG, 48, 128 and 512 pixels square: PWG 5100.13) and the page of
``printer-more-info`` and ``printer-supply-info-uri``: the queue's state, its printer's
supplies and alerts, as text a person reads in a browser."""

from __future__ import annotations

import functools
import html
import io
import re
from collections.abc import Callable
from urllib.parse import unquote

from PIL import Image, ImageDraw

from printwarden.provider import printer_status
from printwarden.provider.config import ProviderConfig
from printwarden.provider.printer_states import PrinterStates
from printwarden.provider.printer_status import PrinterStatus
from printwarden.provider.queue_description import ICON_SIZES

PNG = b"image/png"
HTML = b"text/html; charset=utf-8"
_ICON = re.compile(r"^/icons/(?P<queue>[A-Za-z0-9_.-]+)-(?P<size>\d+)\.png$")
_PAGE = re.compile(r"^/queues/(?P<queue>[A-Za-z0-9_.%-]+)$")
STATES = {3: "idle", 4: "processing", 5: "stopped"}

Page = tuple[bytes, bytes]  # content type, body


class QueuePages:
    """``GET /icons/<queue>-<size>.png`` and ``GET /queues/<queue>``."""

    def __init__(
        self,
        config: ProviderConfig,
        states: PrinterStates,
        status: Callable[[str], PrinterStatus | None],
    ) -> None:
        self.config, self.states, self.status = config, states, status

    def __call__(self, path: str) -> Page | None:
        """The page at ``path``; None when there is none."""
        icon = _ICON.match(path)
        if icon and self.config.queue(icon["queue"]) and int(icon["size"]) in ICON_SIZES:
            return PNG, icon_png(int(icon["size"]))
        page = _PAGE.match(path)
        if page and (queue := self.config.queue(unquote(page["queue"]))) is not None:
            return HTML, self._page(queue.name, queue.printer).encode()
        return None

    def _page(self, queue: str, printer: str) -> str:
        state, _ = self.states.current(queue)
        status = self.status(printer) if printer else None
        supplies, supply_texts = printer_status.supplies(status, printer)
        alerts, alert_texts = printer_status.alerts(status, printer)
        rows = "".join(
            f"<li>{html.escape(text)}: <code>{html.escape(value)}</code></li>"
            for value, text in zip(supplies, supply_texts, strict=False)
        )
        alert_rows = "".join(
            f"<li>{html.escape(text)}: <code>{html.escape(value)}</code></li>"
            for value, text in zip(alerts, alert_texts, strict=False)
        )
        title = html.escape(f"Queue {queue}")
        return (
            f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><h1>{title}</h1>"
            f"<p>State: {STATES.get(state.state, state.state)} "
            f"({html.escape(', '.join(state.reasons))}) {html.escape(state.message)}</p>"
            f"<p>Accepting jobs: {'yes' if state.accepting else 'no'}</p>"
            f"<p>Printer: {html.escape(printer or 'any (Find-Me)')}</p>"
            f"<h2>Supplies</h2><ul>{rows}</ul><h2>Alerts</h2><ul>{alert_rows}</ul>"
            "</body></html>"
        )


@functools.cache
def icon_png(size: int) -> bytes:
    """A printer drawn on a square of ``size`` pixels, as PNG."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    unit = size / 16
    body, paper, slot = (60, 64, 72, 255), (255, 255, 255, 255), (30, 32, 36, 255)
    draw.rectangle([3 * unit, 1 * unit, 13 * unit, 6 * unit], fill=paper, outline=slot)
    draw.rounded_rectangle([1 * unit, 5 * unit, 15 * unit, 12 * unit], radius=unit, fill=body)
    draw.rectangle([3 * unit, 10 * unit, 13 * unit, 15 * unit], fill=paper, outline=slot)
    draw.ellipse([12 * unit, 6.5 * unit, 13.5 * unit, 8 * unit], fill=(80, 200, 120, 255))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
