"""Card framing of network card readers: lines, presets, prefixes, conversions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from printwarden.devices.card_format import (
    PRESETS,
    CardFormat,
    CardFormatError,
    Convert,
    LineSplitter,
    Terminator,
    preset,
)


def test_splitter_ends_lines_at_cr_lf_and_crlf() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"1001\r\n1002\r1003\n") == [b"1001", b"1002", b"1003"]


def test_splitter_joins_a_line_split_across_reads_and_a_crlf_split_in_two() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"10") == []
    assert splitter.feed(b"01\r") == [b"1001"]
    assert splitter.feed(b"\n") == []
    assert splitter.feed(b"\r\n\n1002") == []
    assert splitter.feed(b"\r\n") == [b"1002"]


def test_splitter_discards_an_overlong_line_up_to_its_end_and_then_goes_on() -> None:
    splitter = LineSplitter(max_line=8)
    assert splitter.feed(b"123456789") == []
    assert splitter.feed(b"0123456789\r\n") == []
    assert splitter.discarded == 1
    assert splitter.feed(b"1001\r\n") == [b"1001"]


def test_elatec_preset_is_plain_ascii_ended_by_crlf() -> None:
    elatec = PRESETS["elatec"]
    assert elatec.frame("04A1B2C3") == b"04A1B2C3\r\n"
    assert elatec.card_number(b"04A1B2C3") == "04A1B2C3"
    assert elatec.convert is Convert.NONE


def test_rfideas_preset_ends_with_cr_and_keeps_the_number_as_sent() -> None:
    rfideas = PRESETS["rfideas"]
    assert rfideas.frame("3E9") == b"3E9\r"
    assert rfideas.card_number(b"3E9") == "3E9"
    assert PRESETS["rfideas-hex"].card_number(b"3E9") == "1001"


def test_prefix_and_suffix_are_stripped_when_present() -> None:
    framed = CardFormat(prefix="\x02", suffix="\x03")
    assert framed.card_number(b"\x021001\x03") == "1001"
    assert framed.card_number(b"1001") == "1001"
    assert framed.frame("1001") == b"\x021001\x03\r\n"


def test_conversions_between_hex_and_decimal() -> None:
    to_decimal = CardFormat(convert=Convert.HEX_TO_DECIMAL)
    assert to_decimal.card_number("00003e9") == "1001"
    to_hex = CardFormat(convert=Convert.DECIMAL_TO_HEX)
    assert to_hex.card_number("1001") == "3E9"
    with pytest.raises(CardFormatError, match="not hexadecimal"):
        to_decimal.card_number("12G4")
    with pytest.raises(CardFormatError, match="not decimal"):
        to_hex.card_number("3E9")


def test_leading_zeros_are_stripped_only_when_asked() -> None:
    assert CardFormat().card_number("0001001") == "0001001"
    assert CardFormat(strip_leading_zeros=True).card_number("0001001") == "1001"
    assert CardFormat(strip_leading_zeros=True).card_number("0000") == "0"


@pytest.mark.parametrize("line", [b"", b"   ", b"10 01", b"\x00\x01", "café".encode()])
def test_lines_that_are_no_card_number_are_refused(line: bytes) -> None:
    with pytest.raises(CardFormatError):
        CardFormat().card_number(line)


def test_preset_overrides_and_unknown_presets() -> None:
    custom = preset("rfideas", terminator=Terminator.LF, prefix=";", convert=Convert.NONE)
    assert custom.frame("42") == b";42\n"
    assert preset("elatec") == PRESETS["elatec"]
    with pytest.raises(CardFormatError, match="unknown preset"):
        preset("acme")


cards = st.text(alphabet="0123456789ABCDEF", min_size=1, max_size=20)


@given(cards=st.lists(cards, min_size=1, max_size=5), name=st.sampled_from(sorted(PRESETS)),
       cut=st.integers(min_value=0, max_value=200))  # fmt: skip
def test_framed_reads_come_back_whatever_the_chunking(
    cards: list[str], name: str, cut: int
) -> None:
    framing = preset(name, convert=Convert.NONE)
    stream = b"".join(framing.frame(card) for card in cards)
    splitter = LineSplitter()
    lines = splitter.feed(stream[:cut]) + splitter.feed(stream[cut:])
    assert [framing.card_number(line) for line in lines] == cards
