"""The ccTalk codec: frames and checksums, incremental parsing, messages, bill values and
event counters."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from printwarden.devices.acceptors import event_id
from printwarden.devices.acceptors.cctalk import (
    BILL_VALIDATOR,
    HOST,
    BillIdError,
    CcTalkError,
    ChecksumError,
    EventBuffer,
    Frame,
    FrameParser,
    Header,
    TruncatedFrame,
    bill_id,
    bill_value,
    checksum,
    decode,
    decode_serial_number,
    enabled_channels,
    encode,
    encode_serial_number,
    events_between,
    inhibit_mask,
    master_inhibit,
    next_counter,
)
from printwarden.sim import cash_acceptor

byte = st.integers(0, 255)
frames = st.builds(Frame, dest=byte, src=byte, header=byte, data=st.binary(max_size=40))


def test_a_simple_poll_is_the_specification_s_example() -> None:
    raw = encode(Frame(dest=2, src=HOST, header=Header.SIMPLE_POLL))
    assert raw == bytes([2, 0, 1, 254, 255])
    assert decode(raw) == Frame(dest=2, src=1, header=254)


@given(frames)
def test_frames_round_trip_and_sum_to_zero(frame: Frame) -> None:
    raw = encode(frame)
    assert decode(raw) == frame
    assert sum(raw) % 256 == 0
    assert raw[1] == len(frame.data)
    assert len(raw) == len(frame.data) + 5


@given(st.binary(max_size=60))
def test_the_checksum_byte_completes_any_body(body: bytes) -> None:
    assert (sum(body) + checksum(body)) % 256 == 0


@given(frames, st.data())
def test_any_changed_byte_fails_the_checksum(frame: Frame, data: st.DataObject) -> None:
    raw = bytearray(encode(frame))
    where = data.draw(st.integers(0, len(raw) - 1).filter(lambda i: i != 1))
    raw[where] = (raw[where] + data.draw(st.integers(1, 255))) % 256
    with pytest.raises(ChecksumError):
        decode(bytes(raw))


def test_short_and_long_frames_are_refused() -> None:
    raw = encode(Frame(BILL_VALIDATOR, HOST, Header.REQUEST_BILL_ID, b"\x01"))
    with pytest.raises(TruncatedFrame):
        decode(raw[:-1])
    with pytest.raises(TruncatedFrame):
        decode(raw[:1])
    with pytest.raises(CcTalkError, match="after a frame"):
        decode(raw + b"\x00")


def test_more_than_255_data_bytes_cannot_be_encoded() -> None:
    with pytest.raises(CcTalkError):
        encode(Frame(1, 2, 0, bytes(256)))


@given(st.lists(frames, max_size=6), st.lists(st.integers(0, 400), max_size=8))
def test_the_parser_finds_frames_however_the_bytes_are_cut(
    sent: list[Frame], cuts: list[int]
) -> None:
    stream = b"".join(encode(frame) for frame in sent)
    parser = FrameParser()
    found: list[Frame] = []
    start = 0
    for cut in [*sorted(min(c, len(stream)) for c in cuts), len(stream)]:
        found += parser.feed(stream[start:cut])
        start = cut
    assert found == sent
    assert parser.pending == 0


def test_the_parser_skips_the_hosts_own_echo() -> None:
    request = encode(Frame(BILL_VALIDATOR, HOST, Header.SIMPLE_POLL))
    reply = encode(Frame(HOST, BILL_VALIDATOR, Header.REPLY))
    parser = FrameParser(own_address=HOST)
    assert parser.feed(request + reply[:2]) == []
    assert parser.pending == 2
    assert parser.feed(reply[2:]) == [Frame(HOST, BILL_VALIDATOR, Header.REPLY)]


def test_a_bad_frame_is_dropped_and_the_next_one_still_found() -> None:
    bad = bytearray(encode(Frame(HOST, BILL_VALIDATOR, Header.REPLY, b"\x07")))
    bad[4] ^= 0xFF
    good = encode(Frame(HOST, BILL_VALIDATOR, Header.REPLY, b"\x08"))
    parser = FrameParser()
    with pytest.raises(ChecksumError):
        parser.feed(bytes(bad) + good)
    assert parser.feed(b"") == [Frame(HOST, BILL_VALIDATOR, Header.REPLY, b"\x08")]


def test_a_bill_event_buffer_reads_newest_first() -> None:
    data = bytes([7, 2, 0, 0, 4, 1, 0, 0, 0, 0, 0])
    buffer = EventBuffer.decode(data)
    assert buffer.counter == 7
    assert buffer.results == ((2, 0), (0, 4), (1, 0), (0, 0), (0, 0))
    assert EventBuffer(7, ((2, 0), (0, 4), (1, 0))).encode() == data
    with pytest.raises(CcTalkError):
        EventBuffer.decode(data[:-1])


def test_serial_numbers_are_least_significant_byte_first() -> None:
    assert encode_serial_number(1234567) == bytes([0x87, 0xD6, 0x12])
    assert decode_serial_number(bytes([0x87, 0xD6, 0x12])) == 1234567
    with pytest.raises(CcTalkError):
        decode_serial_number(b"\x01\x02")


def test_inhibit_data() -> None:
    assert inhibit_mask(True) == b"\xff\xff"
    assert inhibit_mask(False) == b"\x00\x00"
    assert enabled_channels(b"\x05\x80") == {1, 3, 16}
    assert master_inhibit(True) == b"\x01"
    assert master_inhibit(False) == b"\x00"


@pytest.mark.parametrize(
    ("text", "scaling", "expected"),
    [
        ("EU0005A", 100, ("EU", 500)),
        ("EU0010A", 100, ("EU", 1000)),
        ("EU0500B", 100, ("EU", 50000)),
        ("GB0020A", 100, ("GB", 2000)),
        ("JP1000A", 1, ("JP", 1000)),
    ],
)
def test_bill_values_from_bill_ids(text: str, scaling: int, expected: tuple[str, int]) -> None:
    assert bill_value(text, scaling) == expected


@pytest.mark.parametrize("text", ["", ".......", "EU005A", "EU00X5A", "eu0005A", "EU0005AB"])
def test_what_is_not_a_bill_id_is_refused(text: str) -> None:
    with pytest.raises(BillIdError):
        bill_value(text)


@given(st.integers(1, 9999), st.sampled_from([1, 100, 1000]))
def test_bill_ids_round_trip(units: int, scaling: int) -> None:
    assert bill_value(bill_id("EU", units * scaling, scaling), scaling) == ("EU", units * scaling)


def test_a_value_between_units_has_no_bill_id() -> None:
    with pytest.raises(BillIdError):
        bill_id("EU", 550)


def test_the_counter_wraps_from_255_to_1() -> None:
    assert next_counter(0) == 1
    assert next_counter(254) == 255
    assert next_counter(255) == 1
    assert events_between(250, 3) == 8  # 251…255, then 1, 2, 3
    assert events_between(255, 1) == 1
    assert events_between(0, 4) == 4  # after a reset
    assert events_between(17, 0) == 0  # reset, nothing since
    assert events_between(9, 9) == 0


@given(st.integers(0, 255), st.integers(1, 254))
def test_events_between_counts_the_steps_taken(last: int, steps: int) -> None:
    current = last
    for _ in range(steps):
        current = next_counter(current)
    assert events_between(last, current) == steps


def test_event_ids_name_serial_cycle_and_counter() -> None:
    assert event_id("1234567", 2, 17) == "1234567-2-17"


@given(frames)
def test_the_simulator_s_own_framing_agrees_with_the_codec(frame: Frame) -> None:
    raw = cash_acceptor.frame(frame.dest, frame.src, frame.header, frame.data)
    assert raw == encode(frame)
    buffer = bytearray(raw + raw[:3])
    assert list(cash_acceptor.frames(buffer)) == [raw]
    assert buffer == raw[:3]


def test_the_simulator_answers_in_the_codec_s_terms() -> None:
    sim = cash_acceptor.SimulatedAcceptor(serial=0x123456)
    ask = encode(Frame(BILL_VALIDATOR, HOST, Header.REQUEST_SERIAL_NUMBER))
    reply = decode(sim.answer(ask))
    assert reply == Frame(HOST, BILL_VALIDATOR, Header.REPLY, bytes([0x56, 0x34, 0x12]))
    ask = encode(Frame(BILL_VALIDATOR, HOST, Header.REQUEST_BILL_ID, b"\x02"))
    assert bill_value(decode(sim.answer(ask)).data.decode()) == ("EU", 1000)
    unknown = decode(sim.answer(encode(Frame(BILL_VALIDATOR, HOST, 99))))
    assert unknown.header == Header.NAK
