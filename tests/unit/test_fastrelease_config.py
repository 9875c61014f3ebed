"""Fast Release configuration: the readers TOML, reader addresses, log masking."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from printwarden.devices.card_format import Convert, Terminator
from printwarden.devices.fastrelease import load_config, mask, peer_address

CONFIG = """
[listener]
host = "127.0.0.1"
port = 7171

[[readers]]
name = "library"
address = "127.0.0.2"
token = "device-token-1"
preset = "elatec"

[[readers]]
address = "::ffff:10.0.0.9"
token = "device-token-2"
preset = "rfideas"
prefix = ";"
convert = "hex-to-decimal"
strip_leading_zeros = true
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "readers.toml"
    path.write_text(text)
    return path


def test_readers_get_their_preset_with_overrides(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CONFIG))
    assert (config.listener.host, config.listener.port) == ("127.0.0.1", 7171)
    library, other = config.readers
    assert library.label == "library (127.0.0.2)"
    assert library.card_format().terminator is Terminator.CRLF
    framing = other.card_format()
    assert framing.terminator is Terminator.CR
    assert (framing.prefix, framing.convert, framing.strip_leading_zeros) == (
        ";",
        Convert.HEX_TO_DECIMAL,
        True,
    )
    assert framing.card_number(b";000003E9") == "1001"


@pytest.mark.parametrize(
    ("reader", "message"),
    [
        ('address = "127.0.0.300"\ntoken = "t"', "does not appear to be an IPv4 or IPv6"),
        ('address = "127.0.0.2"\ntoken = "t"\npreset = "acme"', "unknown preset"),
        ('address = "127.0.0.2"\ntoken = "t"\nconvert = "octal"', "convert"),
        ('address = "127.0.0.2"\ntoken = "t"\ncolour = true', "Extra inputs"),
        ('address = "127.0.0.2"', "token"),
    ],
)
def test_bad_readers_are_refused_with_the_reason(tmp_path: Path, reader: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        load_config(write(tmp_path, f"[[readers]]\n{reader}\n"))


def test_a_reader_address_may_appear_once(tmp_path: Path) -> None:
    twice = '[[readers]]\naddress = "127.0.0.2"\ntoken = "a"\n' * 2
    with pytest.raises(ValidationError, match="only once"):
        load_config(write(tmp_path, twice))


def test_peer_addresses_are_canonical() -> None:
    assert peer_address("::ffff:127.0.0.2") == "127.0.0.2"
    assert peer_address("127.0.0.2") == "127.0.0.2"
    assert peer_address("fe80::1%eth0") == "fe80::1"
    assert peer_address("2001:DB8::1") == "2001:db8::1"


def test_card_numbers_are_masked_in_the_log() -> None:
    assert mask("12345678") == "…5678"
    assert mask("123") == "…"
