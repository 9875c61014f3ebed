"""The printers a component token reaches, for the job routes (decision, printed).

A site's token reaches its own site's printers and those of no site (they are replicated to
every site). A provider's token bound to one provider (scope ``provider:<name>``) reaches
the printers that provider registered; an unbound provider token is not narrowed here.
Device tokens never reach these routes (their own routes act for their own device only).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from printwarden.domain.accounts import Role
from printwarden.domain.charges import belongs
from printwarden.store.models import PrinterRow, ProviderRow
from printwarden.store.tokens import PROVIDER_PREFIX, Caller
from printwarden.usecases.errors import Forbidden

_SITE_OF = select(PrinterRow.site).where(
    PrinterRow.name == bindparam("name"), PrinterRow.deleted_at.is_(None)
)
_SERVED_BY = select(ProviderRow.printers).where(ProviderRow.name == bindparam("name"))


def check_printer(session: Session, caller: Caller, printer: str) -> None:
    """``Forbidden`` when ``caller`` may not report jobs at ``printer`` (an unknown printer
    is left to the caller, which finds it missing)."""
    if caller.role is Role.SITE:
        found = session.connection().execute(_SITE_OF, {"name": printer}).first()
        if found is not None and not belongs(found[0], caller.scope):
            detail = f"printer {printer!r} belongs to site {found[0]!r}, not {caller.scope!r}"
            raise Forbidden(detail)
    elif caller.role is Role.PROVIDER and caller.scope.startswith(PROVIDER_PREFIX):
        name = caller.scope.removeprefix(PROVIDER_PREFIX)
        served: Any = session.connection().execute(_SERVED_BY, {"name": name}).scalar()
        if served is None:
            raise Forbidden(f"provider {name!r} has not registered")
        if printer not in {str(p.get("name", "")) for p in served}:
            detail = f"provider {name!r} does not serve printer {printer!r}"
            raise Forbidden(detail)
