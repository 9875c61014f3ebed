"""Print scripts (stored as settings, so they replicate to sites), their key/value store and
the errors they raised."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from printwarden.store import published, settings
from printwarden.store.models import ScriptErrorRow, ScriptValueRow

SETTING = published.SCRIPTS  # keys: "scripts" (every printer), "scripts.printer.<name>"
KEEP_ERRORS = 1000


def setting_key(printer: str = "") -> str:
    return settings.scoped_key(SETTING, printer)


@dataclass(frozen=True, slots=True)
class Script:
    """A print script attached to a printer (or globally, ``printer == ""``)."""

    printer: str
    source: str
    enabled: bool = True

    @property
    def name(self) -> str:
        return f"printer {self.printer}" if self.printer else "global"


def get(session: Session, printer: str = "") -> Script | None:
    stored = settings.get(session, setting_key(printer))
    if not stored or not stored.get("source"):
        return None
    return Script(printer, str(stored["source"]), bool(stored.get("enabled", True)))


def put(session: Session, script: Script) -> None:
    value = {"source": script.source, "enabled": script.enabled}
    settings.put(session, setting_key(script.printer), value)


def remove(session: Session, printer: str = "") -> None:
    settings.put(session, setting_key(printer), {})


def keys_for_job(printer: str) -> list[str]:
    return [setting_key(printer), setting_key()]


def for_job(found: dict[str, dict[str, Any]], printer: str) -> Script | None:
    """The script that runs for a job at ``printer`` (its own, else the global one), out of
    settings ``found`` (see ``keys_for_job``)."""
    for key, scope in zip(keys_for_job(printer), (printer, ""), strict=True):
        value = found.get(key)
        if value and value.get("source") and value.get("enabled", True):
            return Script(scope, str(value["source"]))
    return None


def all_scripts(session: Session) -> list[Script]:
    return [
        Script(printer, str(value["source"]), bool(value.get("enabled", True)))
        for printer, value in settings.scoped(session, SETTING).items()
        if value.get("source")
    ]


_VALUE = select(ScriptValueRow.value).where(ScriptValueRow.key == bindparam("key"))


class SessionStore:
    """One script's key/value store in one database session (each script has its own keys);
    writes wait for ``save_values``."""

    def __init__(self, session: Session, script: Script) -> None:
        self.session = session
        self.prefix = f"{setting_key(script.printer)}\x1f"
        self.writes: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        stored = self.prefix + key
        if stored in self.writes:
            return self.writes[stored]
        found = self.session.connection().execute(_VALUE, {"key": stored}).scalar()
        return None if found is None else str(found)

    def set(self, key: str, value: str) -> None:
        self.writes[self.prefix + key] = value

    def written(self) -> dict[str, str]:
        """What the call set, by the script's own keys."""
        return {key.removeprefix(self.prefix): value for key, value in self.writes.items()}


def save_values(session: Session, values: dict[str, str]) -> None:
    now = datetime.now(UTC)
    for key, value in values.items():
        row = session.get(ScriptValueRow, key)
        if row is None:
            session.add(ScriptValueRow(key=key, value=value, updated_at=now))
        else:
            row.value, row.updated_at = value, now
    session.flush()


def record_error(
    session: Session, script: Script, job_ref: str, username: str, message: str
) -> None:
    session.add(
        ScriptErrorRow(
            script=script.name,
            printer=script.printer,
            job_ref=job_ref,
            username=username,
            message=message[:4000],
            at=datetime.now(UTC),
        )
    )
    session.flush()
    newest = session.scalars(
        select(ScriptErrorRow.id).order_by(ScriptErrorRow.id.desc()).offset(KEEP_ERRORS).limit(1)
    ).first()
    if newest is not None:
        session.execute(delete(ScriptErrorRow).where(ScriptErrorRow.id <= newest))


def recent_errors(session: Session, limit: int = 100) -> list[ScriptErrorRow]:
    return list(
        session.scalars(select(ScriptErrorRow).order_by(ScriptErrorRow.id.desc()).limit(limit))
    )
