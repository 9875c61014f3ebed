"""Ids: new_id makes UUIDv7s; normalize_id accepts UUIDs and ULIDs, nothing else."""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from printwarden.domain import ids
from printwarden.domain.ids import new_id, normalize_id

PROPERTY = settings(max_examples=200, deadline=None, database=None)

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def now_millis() -> int:
    return time.time_ns() // 1_000_000


def fake_clock(millis: list[int]) -> SimpleNamespace:
    values: Iterator[int] = iter(millis)
    return SimpleNamespace(time_ns=lambda: next(values) * 1_000_000 + 999_999)


# --- new_id ------------------------------------------------------------------------------


def test_new_id_is_a_canonical_uuid_version_7_rfc_4122_variant() -> None:
    text = new_id()
    parsed = uuid.UUID(text)
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert str(parsed) == text  # canonical: lowercase, hyphenated, 36 characters
    assert len(text) == 36
    assert text == text.lower()


def test_new_id_carries_the_current_unix_time_in_milliseconds() -> None:
    before = now_millis()
    text = new_id()
    after = now_millis()
    assert before <= uuid.UUID(text).int >> 80 <= after


@pytest.mark.parametrize("fill", [b"\x00", b"\xff", b"\x55", b"\xaa"])
def test_version_and_variant_bits_do_not_depend_on_the_random_bytes(
    monkeypatch: pytest.MonkeyPatch, fill: bytes
) -> None:
    monkeypatch.setattr(ids, "os", SimpleNamespace(urandom=lambda n: fill * n))
    monkeypatch.setattr(ids, "time", fake_clock([0x0123456789AB]))
    parsed = uuid.UUID(new_id())
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert parsed.int >> 80 == 0x0123456789AB
    # 74 random bits: 12 in rand_a (bits 64..75) and 62 in rand_b (bits 0..61).
    rand_a = (parsed.int >> 64) & 0xFFF
    rand_b = parsed.int & ((1 << 62) - 1)
    if fill == b"\x00":
        assert (rand_a, rand_b) == (0, 0)
    if fill == b"\xff":
        assert (rand_a, rand_b) == (0xFFF, (1 << 62) - 1)


def test_new_id_uses_randomness(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids, "time", fake_clock([1_700_000_000_000] * 50))
    same_millisecond = {new_id() for _ in range(50)}
    assert len(same_millisecond) == 50


def test_new_ids_are_unique_over_10k() -> None:
    generated = [new_id() for _ in range(10_000)]
    assert len(set(generated)) == 10_000
    assert all(uuid.UUID(text).version == 7 for text in generated)


def test_new_ids_sort_by_time_across_milliseconds_regardless_of_randomness(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Earlier millisecond with the largest random part, later one with the smallest.
    randoms = iter([b"\xff" * 10, b"\x00" * 10, b"\xff" * 10, b"\x00" * 10])
    monkeypatch.setattr(ids, "os", SimpleNamespace(urandom=lambda n: next(randoms)))
    monkeypatch.setattr(
        ids, "time", fake_clock([1_700_000_000_000, 1_700_000_000_001, 1_700_000_065_536, 2**47])
    )
    generated = [new_id() for _ in range(4)]
    assert sorted(generated) == generated
    assert len(set(generated)) == 4


@PROPERTY
@given(st.lists(st.integers(min_value=0, max_value=2**48 - 1), min_size=2, max_size=20))
def test_new_id_text_order_is_millisecond_order(millis: list[int]) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ids, "time", fake_clock(millis))
        generated = [new_id() for _ in millis]
    stamped = list(zip(millis, generated, strict=True))
    for m1, id1 in stamped:
        assert uuid.UUID(id1).int >> 80 == m1
    for (m1, id1), (m2, id2) in itertools.combinations(stamped, 2):
        if m1 < m2:
            assert id1 < id2
        if m1 > m2:
            assert id1 > id2


def test_new_ids_sort_by_time_with_the_real_clock() -> None:
    generated = []
    for _ in range(5):
        generated.append(new_id())
        started = now_millis()
        while now_millis() == started:
            time.sleep(0.0002)
    assert sorted(generated) == generated
    stamps = [uuid.UUID(text).int >> 80 for text in generated]
    assert stamps == sorted(set(stamps))


# --- normalize_id: accepted --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000"),
        ("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", "ffffffff-ffff-ffff-ffff-ffffffffffff"),
        ("6BA7B810-9DAD-11D1-80B4-00C04FD430C8", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        ("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        ("6ba7b8109dad11d180b400c04fd430c8", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        (" 6ba7b810-9dad-11d1-80b4-00c04fd430c8\n", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        ("{6ba7b810-9dad-11d1-80b4-00c04fd430c8}", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        ("urn:uuid:6BA7B810-9DAD-11D1-80B4-00C04FD430C8", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        ("01ARZ3NDEKTSV4RRFFQ69G5FAV", "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        ("01arz3ndektsv4rrffq69g5fav", "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        ("  01ARZ3NDEKTSV4RRFFQ69G5FAV  ", "01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        ("00000000000000000000000000", "00000000000000000000000000"),
        ("7ZZZZZZZZZZZZZZZZZZZZZZZZZ", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"),
    ],
)
def test_normalize_id_examples(text: str, canonical: str) -> None:
    assert normalize_id(text) == canonical


@pytest.mark.parametrize(
    "make",
    [
        lambda: uuid.uuid1(),
        lambda: uuid.uuid3(uuid.NAMESPACE_DNS, "printwarden.example"),
        lambda: uuid.uuid4(),
        lambda: uuid.uuid5(uuid.NAMESPACE_URL, "https://printwarden.example"),
        lambda: uuid.UUID(new_id()),
    ],
    ids=["v1", "v3", "v4", "v5", "v7"],
)
def test_normalize_id_accepts_every_uuid_version(make: object) -> None:
    assert callable(make)
    value = make()
    assert isinstance(value, uuid.UUID)
    assert normalize_id(str(value)) == str(value)
    assert normalize_id(str(value).upper()) == str(value)


@PROPERTY
@given(value=st.integers(min_value=0, max_value=2**128 - 1), upper=st.booleans())
def test_normalize_id_accepts_any_uuid_in_either_case(value: int, upper: bool) -> None:
    canonical = str(uuid.UUID(int=value))
    text = canonical.upper() if upper else canonical
    assert normalize_id(text) == canonical
    assert normalize_id(canonical.replace("-", "")) == canonical
    assert normalize_id(normalize_id(text)) == canonical


ulids = st.builds(
    lambda first, rest: first + rest,
    st.sampled_from("01234567"),
    st.text(alphabet=CROCKFORD, min_size=25, max_size=25),
)


@PROPERTY
@given(ulid=ulids, lower=st.booleans())
def test_normalize_id_accepts_any_ulid_in_either_case(ulid: str, lower: bool) -> None:
    text = ulid.lower() if lower else ulid
    assert normalize_id(text) == ulid
    assert normalize_id(normalize_id(text)) == ulid


def test_new_id_is_already_normal() -> None:
    text = new_id()
    assert normalize_id(text) == text


# --- normalize_id: rejected --------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "not-an-id",
        "1234",
        "print-job-42",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c",  # one digit short
        "6ba7b810-9dad-11d1-80b4-00c04fd430c88",  # one digit too many
        "6ba7b810-9dad-11d1-80b4-00c04fd430cg",  # not hex
        "6ba7b8109dad11d180b400c04fd430c",
        "6ba7b810 9dad 11d1 80b4 00c04fd430c8",
        "+0000000000000000000000000000000",  # int() syntax, not a UUID
        "0_000000000000000000000000000000",
        "0000_0000_0000_0000_0000_0000_0000_0000",
        "0-1-2-3-4-5-6-7-8-9-a-b-c-d-e-f-0-1-2-3-4-5-6-7-8-9-a-b-c-d-e-f",
        "１２３４５６７８１２３４５６７８１２３４５６７８１２３４５６７８",  # fullwidth digits
        "١٢٣٤٥٦٧٨-١٢٣٤-٥٦٧٨-١٢٣٤-٥٦٧٨١٢٣٤٥٦٧٨",  # Arabic-Indic digits
        "{6ba7b810-9dad-11d1-80b4-00c04fd430c8",  # unbalanced brace
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8}",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8\x00",
        "01ARZ3NDEKTSV4RRFFQ69G5FA",  # ULID, 25 characters
        "01ARZ3NDEKTSV4RRFFQ69G5Fß",  # 25 characters; "ß".upper() == "SS"
        "01ARZ3NDEKTSV4RRFFQ69G5FAſ",  # long s; "ſ".upper() == "S"
        "01ARZ3NDEKTSV4RRFFQ69G5FA\u212a",  # Kelvin sign, not K
        "01ARZ3NDEKTSV4RRFFQ69G5FAVX",  # ULID, 27 characters
        "01ARZ3NDEKTSV4RRFFQ69G5FAI",  # I is not Crockford base32
        "01ARZ3NDEKTSV4RRFFQ69G5FAL",  # L
        "01ARZ3NDEKTSV4RRFFQ69G5FAO",  # O
        "01ARZ3NDEKTSV4RRFFQ69G5FAU",  # U
        "01ARZ3NDEK-SV4RRFFQ69G5FAV",
        "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",  # ULID above 2**128 - 1
        "ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
    ],
)
def test_normalize_id_rejects_junk(text: str) -> None:
    with pytest.raises(ValueError, match="not a UUID or ULID"):
        normalize_id(text)


@PROPERTY
@given(text=st.text(max_size=40))
def test_normalize_id_result_is_a_canonical_uuid_or_ulid(text: str) -> None:
    try:
        result = normalize_id(text)
    except ValueError:
        return
    assert text.strip().isascii()
    if len(result) == 26:
        assert result[0] in "01234567"
        assert all(char in CROCKFORD for char in result)
    else:
        assert str(uuid.UUID(result)) == result
