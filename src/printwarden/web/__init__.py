"""The web interface: server-rendered pages (Jinja2) for administrators and users, and the
static release station page.

Mounted by :func:`printwarden.web.mount` under ``/web``, outside the OpenAPI document.
Sessions are signed cookies (:mod:`.sessions`), never bearer tokens; every state change
needs the session's CSRF token. Pages work without JavaScript; the vendored htmx (from the
``htmx.org`` npm package, 0BSD) only adds live search and auto-refresh. The release station
page (``release_station.html`` and its ``static/release_station.*``, no build step) is served
at ``/release/<station>`` by :mod:`printwarden.service.routes.release_page`.
"""

from printwarden.web.mount import mount

__all__ = ["mount"]
