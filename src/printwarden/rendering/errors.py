"""What a caller of the rendering service is told when a document is not rendered."""

from __future__ import annotations


class RenderFailed(Exception):
    """The document was not rendered; ``reason`` says why, for the user who sent it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class DocumentRefused(RenderFailed):
    """Refused before any rendering was tried: not an office document one may render (a
    plain archive, an executable, a password-protected document)."""
