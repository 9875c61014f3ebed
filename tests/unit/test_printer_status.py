"""What a queue reports of its real printer (``provider/printer_status.py``) and of itself
(``provider/printer_states.py``): supplies, alerts, device ID, identify actions, state."""

from __future__ import annotations

from printwarden.provider import printer_status as ps
from printwarden.provider.ipp import Attribute, AttributeGroup, GroupTag, Operation
from printwarden.provider.ipp import ValueTag as T
from printwarden.provider.printer_states import PROCESSING, STOPPED, describe
from printwarden.provider.printer_status import PrinterStatus, read_status
from printwarden.provider.queue_admin import QueueState

DEVICE_ID = "MFG:Acme;MDL:Laser 9;CMD:PCL;"
SUPPLY = "index=1;class=supplyThatIsConsumed;type=toner;unit=percent;maxcapacity=100;level=40;"


def answer() -> AttributeGroup:
    """What an ippeveprinter-like printer answers."""
    return AttributeGroup(
        GroupTag.PRINTER,
        [
            Attribute("printer-state", T.ENUM, [3]),
            Attribute("printer-state-reasons", T.KEYWORD, ["toner-low-warning"]),
            Attribute("printer-state-message", T.TEXT_WITHOUT_LANGUAGE, ["Toner low."]),
            Attribute("printer-supply", T.OCTET_STRING, [SUPPLY.encode()]),
            Attribute("printer-supply-description", T.TEXT_WITHOUT_LANGUAGE, ["Black Toner"]),
            Attribute(
                "printer-device-id", T.TEXT_WITHOUT_LANGUAGE, ["MFG:Acme;MDL:Laser 9;CMD:PCL;"]
            ),
            Attribute("identify-actions-supported", T.KEYWORD, ["sound", "display", "beep"]),
            Attribute("identify-actions-default", T.KEYWORD, ["sound"]),
            Attribute("operations-supported", T.ENUM, [2, int(Operation.IDENTIFY_PRINTER)]),
            Attribute("media-bottom-margin-supported", T.INTEGER, [423]),
            Attribute("media-left-margin-supported", T.INTEGER, [0, 423]),
            Attribute("media-right-margin-supported", T.INTEGER, [423]),
            Attribute("media-top-margin-supported", T.INTEGER, [423]),
        ],
    )


def test_the_printers_answer_is_read_and_survives_a_round_trip_through_json() -> None:
    status = read_status(answer())
    assert status.supplies == (SUPPLY,)
    assert status.reasons == ("toner-low-warning",)
    assert status.identify_actions == ("sound", "display")  # "beep" is no IPP action
    assert status.can_identify
    assert status.margins == ((423,), (0, 423), (423,), (423,))
    assert PrinterStatus.from_json(status.to_json()) == status


def test_supplies_are_the_printers_or_one_of_unknown_level() -> None:
    assert ps.supplies(read_status(answer()), "laser") == ([SUPPLY], ["Black Toner"])
    values, texts = ps.supplies(None, "laser")
    assert values == [ps.UNKNOWN_SUPPLY]
    assert "level=-2" in values[0]
    assert "laser" in texts[0]
    assert "cannot be asked" in texts[0]
    _, said = ps.supplies(PrinterStatus(), "laser")
    assert "does not report" in said[0]


def test_alerts_come_from_the_printer_else_from_its_state_reasons() -> None:
    own = PrinterStatus(alerts=("code=jam;severity=critical",), alert_descriptions=("Jam",))
    assert ps.alerts(own, "p") == (["code=jam;severity=critical"], ["Jam"])
    derived, texts = ps.alerts(read_status(answer()), "p")
    assert derived == ["code=markerTonerAlmostEmpty;severity=warning;group=markerSupplies"]
    assert texts == ["Toner low (warning)"]
    ready, _ = ps.alerts(PrinterStatus(reasons=("none",)), "p")
    assert ready == ["code=printerReadyToPrint;severity=other;group=generalPrinter"]
    unknown, _ = ps.alerts(None, "p")
    assert unknown[0].startswith("code=unknown")
    assert ps.reason_alert("media-jam-error") == (
        "code=jam;severity=critical;group=mediaPath",
        "Media jam (error)",
    )
    assert ps.reason_alert("none") is None


def test_the_device_id_names_the_printer_and_what_the_queue_accepts() -> None:
    formats = ["application/pdf", "image/jpeg", "application/octet-stream"]
    assert ps.device_id(read_status(answer()), formats, "x") == "MFG:Acme;MDL:Laser 9;CMD:PDF,JPEG;"
    assert ps.device_id(None, formats, "Print Provider") == (
        "MFG:printwarden;MDL:Print Provider;CMD:PDF,JPEG;"
    )


def test_identify_actions_are_the_printers_when_it_can_identify_itself() -> None:
    assert ps.identify_actions(read_status(answer())) == (["sound", "display"], "sound")
    assert ps.identify_actions(PrinterStatus(identify_actions=("sound",))) == (
        ["display"],
        "display",
    )
    assert ps.margins(None) == ([0], [0], [0], [0])


def test_a_queues_state_follows_its_operator_its_jobs_and_its_printer() -> None:
    idle = describe(QueueState(), working=False, printer=None, now=0)
    assert (idle.state, idle.reasons, idle.accepting) == (3, ("none",), True)
    busy = describe(QueueState(), working=True, printer=None, now=0)
    assert busy.state == PROCESSING
    paused = describe(
        QueueState(paused=True, hold_new_jobs=True), working=True, printer=None, now=0
    )
    assert paused.state == STOPPED
    assert paused.reasons == ("moving-to-paused", "hold-new-jobs")
    down = describe(QueueState(shutdown=True, accepting=False), working=False, printer=None, now=0)
    assert (down.state, down.reasons, down.accepting) == (STOPPED, ("shutdown",), False)
    jammed = PrinterStatus(state=5, reasons=("media-jam-error",), message="Jam")
    stopped = describe(QueueState(), working=False, printer=jammed, now=0)
    assert (stopped.state, stopped.reasons) == (STOPPED, ("media-jam-error",))
    asked = QueueState(identify_until=10, identify_message="here")
    assert describe(asked, False, None, now=5).reasons == ("identify-printer-requested",)
    assert describe(asked, False, None, now=5).message == "here"
    assert describe(asked, False, None, now=11).reasons == ("none",)
