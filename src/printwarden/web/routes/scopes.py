"""What the filter, script and top-up pages share: the scope chooser (global or a printer)
and their confirmation messages."""

from __future__ import annotations

from sqlalchemy.orm import Session

from printwarden.store import printers
from printwarden.store.errors import NotFound
from printwarden.web import messages
from printwarden.web.guards import WebError

# Registered here so these pages stay in their own modules; ``done()`` accepts only known codes.
messages.MESSAGES.update(
    {
        "filters-saved": "Filters saved; they apply to the next job everywhere, sites too.",
        "script-saved": "Print script saved.",
        "script-removed": "Print script removed.",
        "topup-saved": "Top-up saved; members received this period's credit.",
        "topup-removed": "Top-up removed.",
    }
)


def printer_names(session: Session) -> list[str]:
    return [row.name for row in printers.list_printers(session)]


def checked_scope(session: Session, printer: str) -> str:
    """``printer`` when it names a printer ("" is the global scope); 404 otherwise."""
    if printer:
        try:
            printers.find_printer(session, printer)
        except NotFound as exc:
            raise WebError(404, "Not found", str(exc)) from None
    return printer


def scope_label(printer: str) -> str:
    return f"printer {printer}" if printer else "global (every printer)"
