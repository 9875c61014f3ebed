"""CSV cells a spreadsheet will not run: one that starts with ``= + - @`` (or a tab or a
carriage return) is read as a formula (CSV injection)."""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(text: str) -> str:
    """``text``, quoted with a leading ``'`` when a spreadsheet would run it."""
    return "'" + text if text.startswith(FORMULA_START) else text
