"""The web interface: server-rendered pages (Jinja2) for administrators and users.

Mounted by :func:`printwarden.webui.mount` under ``/web``, outside the OpenAPI document.
Sessions are signed cookies (:mod:`.sessions`), never bearer tokens; every state change
needs the session's CSRF token. Pages work without JavaScript; the vendored htmx (from the
``htmx.org`` npm package, 0BSD) only adds live search and auto-refresh.
"""

from printwarden.webui.mount import mount

__all__ = ["mount"]
