"""Web Print rendering: office documents to PDF by a pool of warm, sandboxed LibreOffice
workers (unoserver), with a one-shot ``soffice --convert-to`` fallback. See
docs/rendering.md.

- :mod:`~printwarden.rendering.formats`: the real format, from the content (pure);
- :mod:`~printwarden.rendering.sandbox`: how a converter process is started and confined;
- :mod:`~printwarden.rendering.uno_host`: the program inside the sandbox (system Python);
- :mod:`~printwarden.rendering.worker`: one warm worker and our client of it;
- :mod:`~printwarden.rendering.oneshot`: the one-shot fallback;
- :mod:`~printwarden.rendering.pool`: the pool the server calls.
"""

from __future__ import annotations

from printwarden.rendering.errors import DocumentRefused, RenderFailed
from printwarden.rendering.formats import OFFICE_FORMATS, OfficeType, detect_office
from printwarden.rendering.pool import RenderPool
from printwarden.rendering.settings import RenderSettings

__all__ = [
    "OFFICE_FORMATS",
    "DocumentRefused",
    "OfficeType",
    "RenderFailed",
    "RenderPool",
    "RenderSettings",
    "detect_office",
]
