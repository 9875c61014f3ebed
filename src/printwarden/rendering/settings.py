"""How the rendering pool is set up."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class RenderSettings:
    """The pool's knobs; every one has a default that suits a small server."""

    workers: int = os.cpu_count() or 1
    """Warm LibreOffice workers, each rendering one document at a time."""
    max_documents: int = 200
    """A worker is replaced after rendering this many documents."""
    max_rss_bytes: int = 1_000_000_000
    """... or once its processes (LibreOffice and its host) hold more memory than this."""
    timeout_seconds: float = 60.0
    """Each attempt (the warm worker, then the one-shot retry); past it the processes are
    killed. A warm worker that times out is not retried: the document would hang again."""
    memory_limit_bytes: int = 4_000_000_000
    """Address space of each sandboxed process (RLIMIT_AS); LibreOffice maps ~0.9 GB idle."""
    file_size_limit_bytes: int = 1_000_000_000
    """Largest file a sandboxed process may write (RLIMIT_FSIZE)."""
    start_timeout_seconds: float = 60.0
    """A worker's LibreOffice must accept connections within this."""
    queue_limit: int = 64
    """Callers waiting for a free worker; past it ``render`` fails at once (busy)."""
    queue_timeout_seconds: float = 120.0
    """How long a caller waits for a free worker before giving up."""
    max_document_bytes: int = 100_000_000
    """Larger documents are refused (they are sent to the worker whole)."""
    sandbox: bool = True
    """Run the converters as an unprivileged user in their own network namespace."""
    sandbox_user: str = "nobody"
    """When run as root: the user the converters run as (uid 65534 if no such user)."""
    sandbox_group: str = "nogroup"
    soffice: str = "soffice"
    python: str = "/usr/bin/python3"
    """The system Python that has LibreOffice's ``uno`` module (python3-uno)."""
    render_text: bool = False
    """Plain text goes through LibreOffice too (the project renders text itself)."""
    warm_families: frozenset[str] = frozenset({"writer", "calc", "impress"})
    """Which documents the warm workers take ("writer", "calc", "impress"); the rest go
    straight to a one-shot ``soffice --convert-to``. All three by default: the workers load
    documents hidden, which is what lets LibreOffice 7.4 (Debian 12) convert spreadsheets
    over UNO (loaded with a visible view, soffice aborts in ``ScTabViewShell::GetClipData``
    or ``vcl::Window::GetCursor``)."""
    warm_up: bool = True
    """A new worker converts a tiny document of each kind (not counted as a render) before
    it takes documents, so that the first real document is as fast as the next ones."""
    one_shot_retry: bool = True
    """After a worker crash or a format failure, try once more with ``soffice --convert-to``."""
