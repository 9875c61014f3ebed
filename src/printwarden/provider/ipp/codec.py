"""The sans-I/O IPP codec: :func:`decode_message` and :func:`encode_message` (RFC 8010)."""

from __future__ import annotations

from printwarden.provider.ipp.decoder import (
    DEFAULT_MAX_ATTRIBUTES,
    DEFAULT_MAX_VALUE_LENGTH,
    MAX_COLLECTION_DEPTH,
    decode_message,
)
from printwarden.provider.ipp.encoder import encode_message
from printwarden.provider.ipp.errors import (
    IncompleteMessage,
    IppCodecError,
    IppEncodeError,
    IppParseError,
)

__all__ = [
    "DEFAULT_MAX_ATTRIBUTES",
    "DEFAULT_MAX_VALUE_LENGTH",
    "MAX_COLLECTION_DEPTH",
    "IncompleteMessage",
    "IppCodecError",
    "IppEncodeError",
    "IppParseError",
    "decode_message",
    "encode_message",
]
