"""Safe file names for documents that arrive by mail (no I/O)."""

from __future__ import annotations

import mimetypes
import unicodedata

MAX_NAME = 200


def sanitise(name: str | None, fallback: str) -> str:
    """``name`` as a plain file name: its last path part only, without control or format
    characters (bidi overrides included), leading dots or surrounding blanks, at most
    :data:`MAX_NAME` characters (the extension kept); ``fallback`` when nothing is left."""
    text = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(c for c in text if unicodedata.category(c)[0] not in "CZ" or c == " ")
    text = text.strip().lstrip(".").strip()
    if not text:
        text = fallback
    if len(text) <= MAX_NAME:
        return text
    stem, dot, ext = text.rpartition(".")
    if dot and 0 < len(ext) <= 10 and stem:
        return stem[: MAX_NAME - len(ext) - 1] + "." + ext
    return text[:MAX_NAME]


def fallback_name(index: int, content_type: str) -> str:
    """A name for the ``index``-th document when the message gives none."""
    ext = mimetypes.guess_extension(content_type, strict=False) or ".bin"
    return f"attachment-{index}{ext}"
