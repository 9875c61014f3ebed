"""Printer capabilities: what a printer says over IPP, the configuration's overrides, what
each queue accepts, and the watch that keeps them current without holding anything up."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from printwarden.domain import formats
from printwarden.provider.capabilities import (
    EVERYWHERE_BASELINE,
    Learnt,
    effective,
    learn,
    queue_formats,
    queue_paper_sizes,
)
from printwarden.provider.config import PrinterConfig, ProviderConfig, QueueConfig, QueueKind
from printwarden.provider.ipp import Attribute, AttributeGroup, GroupTag, Resolution
from printwarden.provider.ipp import ValueTag as T
from printwarden.provider.ipp.client import PrinterUnreachable
from printwarden.provider.printer_watch import PrinterWatch

URI = "ipp://printer.example:631/ipp/print"


def ippeveprinter_answer(colour: bool = False) -> AttributeGroup:
    """The attributes CUPS' ippeveprinter gives (mono, PDF/PWG/text), abridged."""
    return AttributeGroup(
        GroupTag.PRINTER,
        [
            Attribute.of(
                "document-format-supported",
                T.MIME_MEDIA_TYPE,
                "application/octet-stream",
                "application/pdf",
                "image/pwg-raster",
                "text/plain",
            ),
            Attribute.of("color-supported", T.BOOLEAN, colour),
            Attribute.of("sides-supported", T.KEYWORD, "one-sided"),
            Attribute.of("media-default", T.KEYWORD, "na_letter_8.5x11in"),
            Attribute.of(
                "media-supported",
                T.KEYWORD,
                "na_letter_8.5x11in",
                "iso_a4_210x297mm",
                "custom_min_3x5in",
                "roll_max_36x99in",
            ),
            Attribute.of(
                "pwg-raster-document-resolution-supported",
                T.RESOLUTION,
                Resolution(600, 600, 3),
                Resolution(300, 300, 3),
            ),
            Attribute.of("pwg-raster-document-type-supported", T.KEYWORD, "black_1", "sgray_8"),
            Attribute.of("printer-resolution-supported", T.RESOLUTION, Resolution(236, 236, 4)),
        ],
    )


def test_what_an_ipp_printer_says_of_itself() -> None:
    learnt = learn(ippeveprinter_answer(), URI, 1.0)
    assert learnt.formats == ("application/octet-stream", PDF, PWG, TEXT)
    assert (learnt.colour, learnt.duplex) == (False, False)
    assert learnt.media == ("na_letter_8.5x11in", "iso_a4_210x297mm")  # fixed sizes only
    assert learnt.raster_resolutions == (300, 600)
    assert learnt.resolutions == (599,)  # 236 dots per cm
    assert Learnt.from_json(json.loads(json.dumps(learnt.to_json()))) == learnt


def test_a_printer_that_says_nothing_learns_nothing() -> None:
    learnt = learn(AttributeGroup(GroupTag.PRINTER), URI, 1.0)
    assert (learnt.formats, learnt.colour, learnt.duplex, learnt.media) == (None,) * 4
    colour_modes = AttributeGroup(
        GroupTag.PRINTER, [Attribute.of("print-color-mode-supported", T.KEYWORD, "monochrome")]
    )
    assert learn(colour_modes, URI, 1.0).colour is False


PDF, PWG, TEXT, PS = formats.PDF, formats.PWG_RASTER, formats.TEXT, formats.POSTSCRIPT


def test_the_printers_word_fills_what_the_configuration_does_not_set() -> None:
    config = PrinterConfig(name="p", uri=URI)
    found = effective(config, learn(ippeveprinter_answer(), URI, 1.0))
    assert found.formats == frozenset({PDF, PWG, TEXT})  # octet-stream is no target
    assert (found.colour, found.duplex) == (False, False)
    assert found.media[0] == "na_letter_8.5x11in"
    assert found.paper_sizes == frozenset({"letter", "A4"})
    assert found.origin == "printer"


def test_what_the_configuration_sets_overrides_the_printer() -> None:
    config = PrinterConfig.model_validate(
        {"name": "p", "uri": URI, "colour": True, "formats": ["application/pdf"]}
    )
    found = effective(config, learn(ippeveprinter_answer(), URI, 1.0))
    assert found.formats == frozenset({PDF})
    assert found.colour is True
    assert found.duplex is False  # not set: the printer's word
    assert found.origin == "configuration"


def test_an_answer_for_another_uri_is_not_this_printers() -> None:
    config = PrinterConfig(name="p", uri="ipp://elsewhere/ipp/print")
    found = effective(config, learn(ippeveprinter_answer(), URI, 1.0))
    assert found.formats == EVERYWHERE_BASELINE
    assert found.colour is True


def test_defaults_before_any_answer() -> None:
    ipp = effective(PrinterConfig(name="p", uri=URI), None)
    assert ipp.formats == frozenset({PWG})  # what every IPP Everywhere printer takes
    assert PS in ipp.deliverable  # through PDF and raster
    raw = effective(PrinterConfig(name="p", uri="socket://10.0.0.9:9100"), None)
    assert raw.formats is None  # declares nothing: sent as it came
    assert formats.PCL in raw.deliverable
    declared = effective(PrinterConfig(name="p", uri="socket://h:9100", formats=[PS]), None)
    assert declared.formats == frozenset({PS})


def test_raster_settings_follow_the_printer() -> None:
    mono = effective(PrinterConfig(name="p", uri=URI), learn(ippeveprinter_answer(), URI, 1.0))
    settings = mono.raster(PWG, colour=True, duplex=True, tumble=False)
    assert (settings.resolution, settings.colour, settings.bilevel) == (300, False, False)
    assert settings.duplex is False  # the printer has no duplex unit
    colour = effective(
        PrinterConfig(name="p", uri=URI), learn(ippeveprinter_answer(colour=True), URI, 1.0)
    )
    assert colour.raster(PWG, colour=True, duplex=False, tumble=False).colour is False  # no srgb
    urf = colour.raster(formats.URF, colour=True, duplex=False, tumble=False)
    assert urf.resolution == 300


def test_queue_formats_and_paper() -> None:
    printers = {
        "pdf": effective(PrinterConfig(name="pdf", uri="socket://a:9100", formats=[PDF]), None),
        "ps": effective(
            PrinterConfig(
                name="ps", uri="socket://b:9100", formats=[PS], media=["iso_a3_297x420mm"]
            ),
            None,
        ),
    }
    direct = QueueConfig(name="q", printer="pdf")
    findme = QueueConfig(name="f", kind=QueueKind.FINDME)
    assert formats.JPEG in queue_formats(direct, printers)
    assert (
        queue_formats(findme, printers) == printers["pdf"].deliverable & printers["ps"].deliverable
    )
    assert queue_paper_sizes(direct, printers) == frozenset({"A4", "letter"})
    assert queue_paper_sizes(findme, printers) == frozenset({"A4", "letter", "A3"})
    assert queue_formats(QueueConfig(name="x", printer="gone"), printers) == frozenset()


# --- the watch --------------------------------------------------------------------------------


def _config(tmp_path: Path) -> ProviderConfig:
    return ProviderConfig(
        data_dir=tmp_path,
        printers=[
            PrinterConfig(name="fast", uri=URI),
            PrinterConfig(name="slow", uri="ipp://slow/ipp/print"),
            PrinterConfig(name="raw", uri="socket://h:9100"),
        ],
        queues=[QueueConfig(name="q", printer="fast")],
    )


def test_start_waits_only_briefly_for_printers_that_do_not_answer(tmp_path: Path) -> None:
    release = threading.Event()
    asked: list[str] = []

    def fetch(printer: PrinterConfig) -> Learnt:
        asked.append(printer.name)
        if printer.name == "slow":
            release.wait(10)
        return learn(ippeveprinter_answer(), printer.uri, time.time())

    watch = PrinterWatch(_config(tmp_path), tmp_path, fetch=fetch, refresh_seconds=60)
    started = time.monotonic()
    watch.start(first_wait=0.3)
    try:
        assert time.monotonic() - started < 2
        assert sorted(asked) == ["fast", "slow"]  # a socket printer is never asked
        fast, slow = watch.get("fast"), watch.get("slow")
        assert fast is not None
        assert fast.origin == "printer"
        assert slow is not None
        assert slow.formats == EVERYWHERE_BASELINE
        release.set()  # the late answer still lands
        changed = threading.Event()
        watch.on_change(changed.set)
        assert changed.wait(5)
        assert watch.get("slow") == effective(
            watch.config.printers[1],
            learn(ippeveprinter_answer(), "ipp://slow/ipp/print", 0),
            "printer",
        )
    finally:
        release.set()
        watch.stop()


def test_last_known_capabilities_survive_a_restart_with_the_printer_off(tmp_path: Path) -> None:
    config = _config(tmp_path)
    first = PrinterWatch(
        config, tmp_path, fetch=lambda p: learn(ippeveprinter_answer(), p.uri, time.time())
    )
    assert first.refresh() == {"fast", "slow"}
    assert first.refresh() == set()  # nothing changed
    stored = tmp_path / "printers.json"
    assert stored.stat().st_mode & 0o777 == 0o600

    def unreachable(printer: PrinterConfig) -> Learnt:
        raise PrinterUnreachable("off")

    second = PrinterWatch(config, tmp_path, fetch=unreachable)
    assert second.refresh() == set()
    fast = second.get("fast")
    assert fast is not None
    assert (fast.formats, fast.origin) == (frozenset({PDF, PWG, TEXT}), "last known")
    registration = second.registration()
    described = {p["name"]: p for p in registration["printers"]}
    assert "application/postscript" in described["fast"]["formats"]
    assert described["raw"]["formats"] == []  # any


def test_a_damaged_state_file_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "printers.json").write_text("{not json")
    watch = PrinterWatch(_config(tmp_path), tmp_path, fetch=lambda p: pytest.fail("asked"))
    fast = watch.get("fast")
    assert fast is not None
    assert fast.formats == EVERYWHERE_BASELINE


def test_a_bug_in_reading_one_printer_does_not_stop_the_others(tmp_path: Path) -> None:
    def fetch(printer: PrinterConfig) -> Learnt:
        if printer.name == "slow":
            raise KeyError("a bug")
        return learn(ippeveprinter_answer(), printer.uri, time.time())

    watch = PrinterWatch(_config(tmp_path), tmp_path, fetch=fetch)
    assert watch.refresh() == {"fast"}


def test_a_stale_printer_is_asked_again_by_the_watch(tmp_path: Path) -> None:
    answers = {"fast": ippeveprinter_answer(colour=False)}
    asked = threading.Event()

    def fetch(printer: PrinterConfig) -> Learnt:
        asked.set()
        return learn(answers.get(printer.name, ippeveprinter_answer()), printer.uri, time.time())

    watch = PrinterWatch(_config(tmp_path), tmp_path, fetch=fetch, refresh_seconds=3600)
    watch.start(first_wait=5)
    try:
        assert watch.get("fast").colour is False  # type: ignore[union-attr]
        answers["fast"] = ippeveprinter_answer(colour=True)
        asked.clear()
        watch.stale("fast")  # e.g. the printer refused a job
        assert asked.wait(5)
        deadline = time.monotonic() + 5
        while watch.get("fast").colour is not True and time.monotonic() < deadline:  # type: ignore[union-attr]
            time.sleep(0.02)
        assert watch.get("fast").colour is True  # type: ignore[union-attr]
    finally:
        watch.stop()
