"""What an embedded ICC profile describes: the data colour space in its 128-byte header.

An ICC-based PDF colour space says only how many components it has (``/N``); what they
mean is in the profile. Ghostscript writes Lab as a 3-component ICC space whose header says
``Lab ``, so three components are not always RGB.
"""

from __future__ import annotations

HEADER_BYTES = 128
_SPACE_AT = slice(16, 20)
_SIGNATURE_AT = slice(36, 40)
_COMPONENTS = {
    "GRAY": 1,
    "RGB": 3,
    "CMYK": 4,
    "Lab": 3,
    "XYZ": 3,
    "Luv": 3,
    "YCbr": 3,
    "Yxy": 3,
    "HSV": 3,
    "HLS": 3,
    "CMY": 3,
}


def data_space(profile: bytes) -> str | None:
    """The header's data colour space (``"RGB"``, ``"GRAY"``, ``"CMYK"``, ``"Lab"``…),
    or ``None`` when the bytes are not an ICC profile."""
    if len(profile) < HEADER_BYTES or profile[_SIGNATURE_AT] != b"acsp":
        return None
    return profile[_SPACE_AT].decode("latin-1").rstrip(" \0") or None


def components(space: str) -> int | None:
    """How many components a profile data colour space has (``None`` if not known here);
    ``nCLR`` spaces (``"2CLR"`` … ``"FCLR"``) have n."""
    if space in _COMPONENTS:
        return _COMPONENTS[space]
    if len(space) == 4 and space.endswith("CLR"):
        digit = int(space[0], 16) if space[0] in "23456789ABCDEF" else 0
        return digit or None
    return None
