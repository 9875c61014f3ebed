"""``printwarden admin filter|script|topups …``: filters, print scripts and top-ups, set
straight on the App Server's database (they replicate to sites like every setting)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from printwarden.cli_common import ConfigOption, fail, open_session

filter_cmd = typer.Typer(help="Filters and conversions (global or per printer).")
script_cmd = typer.Typer(help="Print scripts (JavaScript printJobHook).")
topups_cmd = typer.Typer(help="Scheduled credit top-ups per group.")

PrinterOption = Annotated[str, typer.Option("--printer", help="A printer; omit for global")]
_LISTS = ("colour_groups", "document_types", "paper_sizes", "deny_names")


def _value(name: str, text: str) -> Any:
    """A rule value from the command line: JSON when it parses, else a string (lists may be
    given comma-separated)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = text
    if name in _LISTS and isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    return value


def _assignments(pairs: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise fail(f"{pair!r}: give NAME=VALUE")
        found[name.strip()] = _value(name.strip(), text)
    return found


@filter_cmd.command("show")
def filter_show(config: ConfigOption = None) -> None:
    """Every filter set as JSON: "" is the global one."""
    from printwarden.store import filters

    with open_session(config) as session:
        found = filters.all_sets(session)
        print(json.dumps({k: v.to_json() for k, v in sorted(found.items())}, indent=2))


@filter_cmd.command("set")
def filter_set(
    rule: Annotated[list[str], typer.Option("--rule", help="NAME=VALUE (repeatable)")] = [],  # noqa: B006
    group: Annotated[
        list[str], typer.Option("--group", help="GROUP:NAME=VALUE, a group override")
    ] = [],  # noqa: B006
    unset: Annotated[list[str], typer.Option("--unset", help="A rule to remove")] = [],  # noqa: B006
    printer: PrinterOption = "",
    config: ConfigOption = None,
) -> None:
    """Change rules of one scope (the others keep their values), e.g.
    ``--rule max_pages=50 --rule deny_colour=true --group staff:max_pages=200``."""
    from printwarden.domain.filters import FilterSet
    from printwarden.store import filters, printers
    from printwarden.store.errors import NotFound

    with open_session(config) as session:
        if printer:
            try:
                printers.find_printer(session, printer)
            except NotFound as exc:
                raise fail(str(exc)) from None
        current = filters.get(session, printer).to_json()
        rules = {**current["rules"], **_assignments(rule)}
        groups: dict[str, dict[str, Any]] = dict(current["groups"])
        for item in group:
            name, sep, pair = item.partition(":")
            if not sep:
                raise fail(f"{item!r}: give GROUP:NAME=VALUE")
            groups[name] = {**groups.get(name, {}), **_assignments([pair])}
        for name in unset:
            rules.pop(name, None)
        try:
            changed = FilterSet.from_json({"rules": rules, "groups": groups})
        except ValueError as exc:
            raise fail(str(exc)) from None
        filters.put(session, changed, printer)
        print(json.dumps(changed.to_json(), indent=2))


@filter_cmd.command("clear")
def filter_clear(printer: PrinterOption = "", config: ConfigOption = None) -> None:
    """Remove every rule of one scope."""
    from printwarden.domain.filters import FilterSet
    from printwarden.store import filters

    with open_session(config) as session:
        filters.put(session, FilterSet(), printer)
    print(f"filters cleared for {printer or 'all printers (global)'}")


@script_cmd.command("set")
def script_set(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    printer: PrinterOption = "",
    disabled: Annotated[bool, typer.Option("--disabled", help="Store it switched off")] = False,
    config: ConfigOption = None,
) -> None:
    """Attach the script in FILE to a printer (or globally); refused if it does not compile."""
    from printwarden.scripting import check_script
    from printwarden.store import scripts

    source = file.read_text(encoding="utf-8")
    problem = check_script(source)
    if problem:
        raise fail(f"{file}: {problem}")
    with open_session(config) as session:
        scripts.put(session, scripts.Script(printer, source, not disabled))
    print(f"script set for {printer or 'all printers (global)'}")


@script_cmd.command("show")
def script_show(printer: PrinterOption = "", config: ConfigOption = None) -> None:
    from printwarden.store import scripts

    with open_session(config) as session:
        found = scripts.get(session, printer)
    if found is None:
        raise fail(f"no script for {printer or 'all printers (global)'}")
    print(found.source)


@script_cmd.command("remove")
def script_remove(printer: PrinterOption = "", config: ConfigOption = None) -> None:
    from printwarden.store import scripts

    with open_session(config) as session:
        scripts.remove(session, printer)
    print(f"script removed from {printer or 'all printers (global)'}")


@script_cmd.command("errors")
def script_errors(config: ConfigOption = None) -> None:
    """The newest script errors (the jobs went on under the other rules)."""
    from printwarden.store import scripts

    with open_session(config) as session:
        for row in scripts.recent_errors(session, 50):
            print(f"{row.at:%Y-%m-%d %H:%M:%S} {row.script} job {row.job_ref}: {row.message}")


@script_cmd.command("test")
def script_test(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    pages: int = 1,
    colour_pages: int = 0,
    copies: int = 1,
    cost: Annotated[int, typer.Option(help="Cents")] = 0,
    document_name: str = "sample.pdf",
    duplex: bool = False,
    printer: str = "printer",
    user: str = "someone",
    group: Annotated[list[str], typer.Option("--group")] = [],  # noqa: B006
    balance: Annotated[int, typer.Option(help="Cents")] = 0,
    restricted: bool = False,
) -> None:
    """Dry-run the script in FILE against a sample job and print what it would do."""
    from printwarden.api.scripts import SampleJobIn
    from printwarden.usecases.script_dry_run import dry_run

    sample = SampleJobIn(
        pages=pages,
        colour_pages=colour_pages,
        copies=copies,
        cost=cost,
        document_name=document_name,
        duplex=duplex,
        printer=printer,
        username=user,
        groups=group,
        balance=balance,
        restricted=restricted,
    )
    shown = dry_run(file.read_text(encoding="utf-8"), sample, _MemoryStore())
    print(json.dumps(shown.model_dump(), indent=2))
    if shown.error:
        raise typer.Exit(1)


class _MemoryStore:
    """A dry run's properties: none stored before, its writes shown and dropped."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def set(self, key: str, value: str) -> None:
        self.values[key] = value

    def written(self) -> dict[str, str]:
        return dict(self.values)


@topups_cmd.command("show")
def topups_show(config: ConfigOption = None) -> None:
    """The scheduled credit top-ups."""
    from printwarden.domain.topups import rules_to_json
    from printwarden.store import topups

    with open_session(config) as session:
        print(json.dumps(rules_to_json(topups.get_rules(session)), indent=2))


@topups_cmd.command("set")
def topups_set(
    group: Annotated[str, typer.Option(help="Every member of this group")],
    amount: Annotated[int, typer.Option(help="Cents per period")],
    period: Annotated[str, typer.Option(help="day, week or month")] = "week",
    config: ConfigOption = None,
) -> None:
    """Give a group's members AMOUNT every PERIOD (replaces that group's rule)."""
    from printwarden.domain.filters import Period
    from printwarden.domain.topups import TopUpRule
    from printwarden.store import topups

    try:
        rule = TopUpRule(group, amount, Period(period))
    except ValueError as exc:
        raise fail(str(exc)) from None
    with open_session(config) as session:
        rules = [r for r in topups.get_rules(session) if r.group != group]
        topups.put_rules(session, [*rules, rule])
        applied = topups.apply_due(session, datetime.now(UTC))
    print(f"{group}: {amount} every {period} ({applied} top-ups applied for this {period})")


@topups_cmd.command("remove")
def topups_remove(group: Annotated[str, typer.Option()], config: ConfigOption = None) -> None:
    from printwarden.store import topups

    with open_session(config) as session:
        topups.put_rules(session, [r for r in topups.get_rules(session) if r.group != group])
    print(f"{group}: no scheduled top-up")


@topups_cmd.command("run")
def topups_run(config: ConfigOption = None) -> None:
    """Apply the current period's top-ups now (the App Server also does, every minute)."""
    from printwarden.store import topups

    with open_session(config) as session:
        applied = topups.apply_due(session, datetime.now(UTC))
    print(f"{applied} top-ups applied")
