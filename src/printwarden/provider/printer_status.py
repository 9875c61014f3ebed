"""What the real printer behind a queue says of its state: supplies, alerts, state reasons,
its IEEE 1284 device ID, and how it can identify itself.

:func:`read_status` reads a printer's ``Get-Printer-Attributes`` answer (asked with the
capabilities, by :mod:`.printer_watch`); the other functions turn it (or its absence, for a
printer that cannot be asked: ``socket://``, ``file://``, or not heard from yet) into the
queue's ``printer-supply``, ``printer-alert`` and ``printer-device-id``. Nothing is made up:
a printer that reports no supplies has one supply of unknown level (RFC 3805's ``-2``); a
printer that reports no alerts gets its alerts from its ``printer-state-reasons`` (PWG
5100.9 maps them to RFC 3805 alert codes), ``printerReadyToPrint`` when it has none; a
printer that cannot be asked has one alert of code ``unknown``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from printwarden.provider.ipp import AttributeGroup, Operation, TextWithLanguage

STATUS_ATTRIBUTES = (
    "printer-state",
    "printer-state-reasons",
    "printer-state-message",
    "printer-supply",
    "printer-supply-description",
    "printer-supply-info-uri",
    "printer-alert",
    "printer-alert-description",
    "printer-device-id",
    "identify-actions-supported",
    "identify-actions-default",
    "operations-supported",
    "media-bottom-margin-supported",
    "media-left-margin-supported",
    "media-right-margin-supported",
    "media-top-margin-supported",
    "pwg-raster-document-sheet-back",
)
UNKNOWN_SUPPLY = "index=1;class=other;type=other;unit=percent;maxcapacity=-2;level=-2;"
IDENTIFY_ACTIONS = frozenset({"display", "flash", "sound", "speak"})
# printer-state-reasons (without -report/-warning/-error) → RFC 3805 alert code and group.
ALERT_CODES: dict[str, tuple[str, str]] = {
    "media-empty": ("inputMediaSupplyEmpty", "input"),
    "media-needed": ("inputMediaSupplyEmpty", "input"),
    "media-low": ("inputMediaSupplyLow", "input"),
    "input-tray-missing": ("inputMediaTrayMissing", "input"),
    "media-jam": ("jam", "mediaPath"),
    "door-open": ("doorOpen", "cover"),
    "cover-open": ("coverOpen", "cover"),
    "interlock-open": ("interlockOpen", "cover"),
    "output-area-full": ("outputMediaTrayFull", "output"),
    "output-area-almost-full": ("outputMediaTrayAlmostFull", "output"),
    "output-tray-missing": ("outputMediaTrayMissing", "output"),
    "toner-empty": ("markerTonerEmpty", "markerSupplies"),
    "toner-low": ("markerTonerAlmostEmpty", "markerSupplies"),
    "marker-supply-empty": ("subunitEmpty", "markerSupplies"),
    "marker-supply-low": ("subunitAlmostEmpty", "markerSupplies"),
    "marker-waste-full": ("subunitFull", "markerSupplies"),
    "marker-waste-almost-full": ("subunitAlmostFull", "markerSupplies"),
    "offline": ("subunitOffline", "generalPrinter"),
    "shutdown": ("powerDown", "generalPrinter"),
}
SEVERITY = {"error": "critical", "warning": "warning", "report": "other"}
# MIME types → IEEE 1284 command set names, for the device ID's CMD field.
COMMAND_SETS = {
    "application/pdf": "PDF",
    "application/postscript": "POSTSCRIPT",
    "image/pwg-raster": "PWG",
    "image/urf": "URF",
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/tiff": "TIFF",
    "image/gif": "GIF",
    "text/plain": "TXT",
    "application/vnd.hp-pcl": "PCL",
}


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """A printer's state as it reported it (``None`` and empty: it did not say)."""

    state: int | None = None
    reasons: tuple[str, ...] = ()
    message: str = ""
    supplies: tuple[str, ...] = ()
    supply_descriptions: tuple[str, ...] = ()
    supply_info_uri: str = ""
    alerts: tuple[str, ...] = ()
    alert_descriptions: tuple[str, ...] = ()
    device_id: str = ""
    identify_actions: tuple[str, ...] = ()
    identify_default: str = ""
    operations: tuple[int, ...] = ()
    margins: tuple[tuple[int, ...], ...] = ()  # bottom, left, right, top
    sheet_back: str = ""  # pwg-raster-document-sheet-back

    @property
    def can_identify(self) -> bool:
        return Operation.IDENTIFY_PRINTER in self.operations

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PrinterStatus:
        """The inverse of :meth:`to_json`; raises ValueError/TypeError if damaged."""
        texts = (
            "reasons", "supplies", "supply_descriptions", "alerts", "alert_descriptions",
            "identify_actions",
        )  # fmt: skip
        values: dict[str, Any] = {name: tuple(str(v) for v in data.get(name, ())) for name in texts}
        state = data.get("state")
        return cls(
            state=int(state) if state is not None else None,
            message=str(data.get("message", "")),
            supply_info_uri=str(data.get("supply_info_uri", "")),
            device_id=str(data.get("device_id", "")),
            identify_default=str(data.get("identify_default", "")),
            sheet_back=str(data.get("sheet_back", "")),
            operations=tuple(int(v) for v in data.get("operations", ())),
            margins=tuple(tuple(int(v) for v in side) for side in data.get("margins", ())),
            **values,
        )


def read_status(group: AttributeGroup) -> PrinterStatus:
    """The status part of a printer's ``Get-Printer-Attributes`` answer."""
    state = group.value("printer-state")
    sides = (
        "media-bottom-margin-supported",
        "media-left-margin-supported",
        "media-right-margin-supported",
        "media-top-margin-supported",
    )
    margins = tuple(tuple(_ints(group, side)) for side in sides)
    return PrinterStatus(
        state=state if isinstance(state, int) and not isinstance(state, bool) else None,
        reasons=tuple(r for r in _texts(group, "printer-state-reasons") if r),
        message=next(iter(_texts(group, "printer-state-message")), ""),
        supplies=tuple(_texts(group, "printer-supply")),
        supply_descriptions=tuple(_texts(group, "printer-supply-description")),
        supply_info_uri=next(iter(_texts(group, "printer-supply-info-uri")), ""),
        alerts=tuple(_texts(group, "printer-alert")),
        alert_descriptions=tuple(_texts(group, "printer-alert-description")),
        device_id=next(iter(_texts(group, "printer-device-id")), ""),
        identify_actions=tuple(
            a for a in _texts(group, "identify-actions-supported") if a in IDENTIFY_ACTIONS
        ),
        identify_default=next(iter(_texts(group, "identify-actions-default")), ""),
        operations=tuple(_ints(group, "operations-supported")),
        margins=margins if all(margins) else (),
        sheet_back=next(iter(_texts(group, "pwg-raster-document-sheet-back")), ""),
    )


# --- what a queue reports ------------------------------------------------------------------


def supplies(status: PrinterStatus | None, printer: str) -> tuple[list[str], list[str]]:
    """``printer-supply`` and ``printer-supply-description`` of the queue printing to
    ``printer`` (as many of each)."""
    if status is not None and status.supplies:
        count = min(len(status.supplies), len(status.supply_descriptions) or len(status.supplies))
        described = list(status.supply_descriptions[:count])
        described += [f"Supply {i + 1}" for i in range(len(described), count)]
        return list(status.supplies[:count]), described
    said = "does not report its supplies" if status is not None else "cannot be asked"
    return [UNKNOWN_SUPPLY], [f"Supplies of {printer or 'the printer'} unknown: it {said}"]


def alerts(status: PrinterStatus | None, printer: str) -> tuple[list[str], list[str]]:
    """``printer-alert`` and ``printer-alert-description`` of the queue printing to
    ``printer``: the printer's own, else those its state reasons mean."""
    if status is None:
        return ["code=unknown;severity=other;group=generalPrinter"], [
            f"The state of {printer or 'the printer'} is unknown: it cannot be asked"
        ]
    if status.alerts:
        count = len(status.alerts)
        described = list(status.alert_descriptions[:count])
        described += list(status.alerts[len(described) :])
        return list(status.alerts), described
    found = [alert for reason in status.reasons if (alert := reason_alert(reason))]
    if not found:
        return ["code=printerReadyToPrint;severity=other;group=generalPrinter"], [
            f"{printer or 'The printer'} is ready to print"
        ]
    return [code for code, _ in found], [text for _, text in found]


def reason_alert(reason: str) -> tuple[str, str] | None:
    """The ``printer-alert`` value and description a ``printer-state-reasons`` keyword
    means; None for ``none``."""
    if not reason or reason == "none":
        return None
    base, severity = reason, "report"
    for suffix in SEVERITY:
        if reason.endswith(f"-{suffix}"):
            base, severity = reason[: -len(suffix) - 1], suffix
    code, group = ALERT_CODES.get(base, ("other", "other"))
    alert = f"code={code};severity={SEVERITY[severity]};group={group}"
    return alert, f"{base.replace('-', ' ').capitalize()} ({severity})"


def device_id(status: PrinterStatus | None, formats: Iterable[str], model: str) -> str:
    """The queue's IEEE 1284 device ID: its printer's (manufacturer, model…) with the command
    sets the queue accepts (it converts the rest), or the provider's own."""
    commands = ",".join(dict.fromkeys(COMMAND_SETS[f] for f in formats if f in COMMAND_SETS))
    fields: dict[str, str] = {}
    if status is not None and status.device_id:
        for part in status.device_id.split(";"):
            key, sep, value = part.partition(":")
            if sep and key.strip():
                fields[key.strip()] = value.strip()
    for long, short in (("MANUFACTURER", "MFG"), ("MODEL", "MDL"), ("COMMAND SET", "CMD")):
        if long in fields:
            fields.setdefault(short, fields.pop(long))
    fields.setdefault("MFG", "printwarden")
    fields.setdefault("MDL", model or "Print Provider")
    fields["CMD"] = commands
    fields = {k: v.replace(";", ",") for k, v in fields.items() if _id_key(k)}
    return "".join(f"{key}:{value};" for key, value in fields.items())


def identify_actions(status: PrinterStatus | None) -> tuple[list[str], str]:
    """``identify-actions-supported`` and ``-default``: the printer's when it can identify
    itself (Identify-Printer is forwarded to it), else ``display`` (the queue shows that it
    was asked, as its ``identify-printer-requested`` state reason and message)."""
    if status is not None and status.can_identify and status.identify_actions:
        default = status.identify_default
        if default not in status.identify_actions:
            default = status.identify_actions[0]
        return list(status.identify_actions), default
    return ["display"], "display"


def margins(status: PrinterStatus | None) -> tuple[list[int], list[int], list[int], list[int]]:
    """The ``media-{bottom,left,right,top}-margin-supported`` of the queue: its printer's, or
    0 where the printer cannot be asked (the provider does not shrink documents: the page
    reaches the printer whole)."""
    if status is not None and len(status.margins) == 4:
        bottom, left, right, top = (list(side) for side in status.margins)
        return bottom, left, right, top
    return [0], [0], [0], [0]


def _id_key(key: str) -> bool:
    return bool(key) and all(c.isalpha() or c in "- " for c in key)


def _texts(group: AttributeGroup, name: str) -> list[str]:
    found = []
    for value in group.values_of(name):
        if isinstance(value, TextWithLanguage):
            found.append(value.text)
        elif isinstance(value, bytes):
            found.append(value.decode("utf-8", "replace"))
        elif isinstance(value, str):
            found.append(value)
    return found


def _ints(group: AttributeGroup, name: str) -> list[int]:
    return [v for v in group.values_of(name) if isinstance(v, int) and not isinstance(v, bool)]
