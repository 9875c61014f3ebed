"""Words for people: counts with the right plural ("1 page", "3 pages")."""

from __future__ import annotations


def count(number: int, one: str, many: str = "") -> str:
    """``number`` followed by ``one`` or its plural (``many``, default ``one`` + "s"):
    ``count(1, "page")`` → ``"1 page"``, ``count(2, "copy", "copies")`` → ``"2 copies"``."""
    return f"{number} {one if number == 1 else many or one + 's'}"
