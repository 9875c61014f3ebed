"""Sending a spooled document to a real printer, one module per URI scheme (as CUPS's
``backend/``): :mod:`.ipp` (``ipp://``, ``ipps://``), :mod:`.socket` and :mod:`.file`.

What a back-end takes, gives and raises is in :mod:`printwarden.provider.delivery`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from printwarden.provider.backends.file import FileBackend
from printwarden.provider.backends.ipp import IppBackend
from printwarden.provider.backends.socket import SocketBackend
from printwarden.provider.delivery import Backend

__all__ = ["FileBackend", "IppBackend", "SocketBackend", "backend_for"]


def backend_for(uri: str) -> Backend:
    """The back-end for a printer URI."""
    scheme = urlsplit(uri).scheme
    if scheme == "file":
        return FileBackend(uri)
    if scheme == "socket":
        return SocketBackend(uri)
    if scheme in ("ipp", "ipps"):
        return IppBackend(uri)
    raise ValueError(f"unsupported printer URI scheme {scheme!r}")
