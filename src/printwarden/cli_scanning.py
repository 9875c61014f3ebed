"""``printwarden admin scan-actions …``: Integrated Scanning's actions, set straight on the
App Server's database (the setting ``scan-actions`` replicates to sites like every setting)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from printwarden.cli_common import ConfigOption, fail, open_session

scan_actions_cmd = typer.Typer(help="Integrated Scanning: the scan actions (docs/scanning.md).")


@scan_actions_cmd.command("show")
def scan_actions_show(config: ConfigOption = None) -> None:
    """The scan actions and limits as JSON (what ``set`` takes)."""
    from printwarden.domain.scanning import settings_json
    from printwarden.usecases.scanning import scan_settings

    with open_session(config) as session:
        print(json.dumps(settings_json(scan_settings(session)), indent=2))


@scan_actions_cmd.command("set")
def scan_actions_set(
    source: Annotated[Path, typer.Argument(help="A JSON file ('-': standard input)")],
    config: ConfigOption = None,
) -> None:
    """Replace the scan actions and limits with those of a JSON file; nothing changes when
    it is wrong, and the error says why."""
    from printwarden.domain.scanning import SETTING_KEY, ScanError, parse_settings, settings_json
    from printwarden.store import settings

    try:
        parsed = parse_settings(_read(source))
    except ScanError as exc:
        raise fail(str(exc)) from None
    with open_session(config) as session:
        settings.put(session, SETTING_KEY, settings_json(parsed))
    print(f"{len(parsed.actions)} scan action(s) set")


@scan_actions_cmd.command("add")
def scan_actions_add(
    name: Annotated[str, typer.Argument(help='e.g. "Scan to my email"')],
    destination: Annotated[str, typer.Option(help="email, home or folder")] = "email",
    folder: Annotated[str, typer.Option(help="For folder: the configured folder's name")] = "",
    editable: Annotated[
        str, typer.Option(help="Options people may change, comma-separated (e.g. ocr,format)")
    ] = "",
    group: Annotated[list[str], typer.Option(help="Only for this group (repeatable)")] = [],  # noqa: B006
    config: ConfigOption = None,
) -> None:
    """Add one action (or replace the one of that name) with default options."""
    from printwarden.domain.scanning import (
        SETTING_KEY,
        ScanError,
        action_json,
        parse_settings,
        settings_json,
    )
    from printwarden.store import settings
    from printwarden.usecases.scanning import scan_settings

    raw = {"name": name, "destination": destination, "groups": group,
           "editable": [e.strip() for e in editable.split(",") if e.strip()]}  # fmt: skip
    if folder:
        raw["folder"] = folder
    with open_session(config) as session:
        current = settings_json(scan_settings(session))
        actions = [a for a in current["actions"] if a["name"] != name]
        try:
            parsed = parse_settings({**current, "actions": [*actions, raw]})
        except ScanError as exc:
            raise fail(str(exc)) from None
        settings.put(session, SETTING_KEY, settings_json(parsed))
        print(json.dumps(action_json(parsed.find(name)), indent=2))


@scan_actions_cmd.command("remove")
def scan_actions_remove(name: str, config: ConfigOption = None) -> None:
    """Remove the action ``name``."""
    from printwarden.domain.scanning import SETTING_KEY, settings_json
    from printwarden.store import settings
    from printwarden.usecases.scanning import scan_settings

    with open_session(config) as session:
        current = settings_json(scan_settings(session))
        kept = [a for a in current["actions"] if a["name"] != name]
        if len(kept) == len(current["actions"]):
            raise fail(f"no scan action {name!r}")
        settings.put(session, SETTING_KEY, {**current, "actions": kept})


def _read(source: Path) -> Any:
    import sys

    try:
        text = sys.stdin.read() if str(source) == "-" else source.read_text(encoding="utf-8")
        return json.loads(text)
    except (OSError, json.JSONDecodeError) as exc:
        raise fail(f"{source}: {exc}") from None
