"""Plain text: pages by line count, always grey.

A page holds ``LINES_PER_PAGE`` lines of ``COLUMNS`` characters (longer lines wrap, tabs
stop every 8 columns); a form feed starts a new page. An empty file has no pages. The
file is read line by line, so its size does not matter.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from printwarden.analysis.model import Analysis

FORMAT = "text/plain"
LINES_PER_PAGE = 60
COLUMNS = 80


def count_pages(lines: Iterable[str]) -> int:
    """Printed pages of text given line by line (each line with its newline, if any)."""
    pages = rows = 0
    fed = visible = False
    for line in lines:
        for index, piece in enumerate(line.split("\f")):
            if index:
                pages += _section_pages(rows)
                rows, visible, fed = 0, False, True
            if piece:
                rows += _rows(piece)
                visible = visible or bool(piece.strip("\r\n"))
    if not fed:
        return -(-rows // LINES_PER_PAGE)
    return pages + (_section_pages(rows) if visible else 0)


def _section_pages(rows: int) -> int:
    return max(1, -(-rows // LINES_PER_PAGE))


def _rows(piece: str) -> int:
    width = len(piece.rstrip("\r\n").expandtabs(8))
    return max(1, -(-width // COLUMNS))


def analyze(path: Path) -> Analysis:
    """Analyse a text file (decoded as UTF-8, undecodable bytes replaced)."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        pages = count_pages(lines)
    return Analysis(format=FORMAT, pages=pages, colour_pages=())
