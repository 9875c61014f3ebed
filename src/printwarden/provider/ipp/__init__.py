"""IPP for the Print Provider: a sans-I/O RFC 8010 codec, its message model and a client.

The codec (:mod:`.codec`) never touches sockets; :mod:`.client` is the only module that
does I/O and is imported on its own (``from printwarden.provider.ipp.client import ...``).
"""

from __future__ import annotations

from printwarden.provider.ipp.codec import (
    IncompleteMessage,
    IppCodecError,
    IppEncodeError,
    IppParseError,
    decode_message,
    encode_message,
)
from printwarden.provider.ipp.model import (
    Attribute,
    AttributeGroup,
    Collection,
    IntRange,
    Message,
    OutOfBand,
    Resolution,
    TaggedValue,
    TextWithLanguage,
    Value,
)
from printwarden.provider.ipp.tags import (
    GroupTag,
    JobState,
    Operation,
    PrinterState,
    ResolutionUnits,
    StatusCode,
    ValueTag,
)

__all__ = [
    "Attribute",
    "AttributeGroup",
    "Collection",
    "GroupTag",
    "IncompleteMessage",
    "IntRange",
    "IppCodecError",
    "IppEncodeError",
    "IppParseError",
    "JobState",
    "Message",
    "Operation",
    "OutOfBand",
    "PrinterState",
    "Resolution",
    "ResolutionUnits",
    "StatusCode",
    "TaggedValue",
    "TextWithLanguage",
    "Value",
    "ValueTag",
    "decode_message",
    "encode_message",
]
