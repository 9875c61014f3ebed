"""HQ keeps every version of prices and print scripts it published (SQLite and PostgreSQL),
whatever the path that wrote them; migration 0011 records today's as the first versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, BigInteger, Boolean, String, column, insert, select, table

from printwarden.domain.charges import prices_digest, script_digest
from printwarden.store import printers, published, scripts, settings
from printwarden.store.db import Database
from printwarden.store.migrate import upgrade
from printwarden.store.models import PublishedVersionRow, SettingRow
from printwarden.store.printers import cost_model_from_json

# The printers table as migration 0008 left it (today's model has columns it lacks).
OLD_PRINTERS = table("printers", column("name", String), column("location", String),
                     column("enabled", Boolean), column("hold_for_release", Boolean),
                     column("colour", Boolean), column("cost_model", JSON),
                     column("change_seq", BigInteger))  # fmt: skip
# The devices table as it was then (the model has columns added later: escl_url).
OLD_DEVICES = table("devices", column("name", String), column("kind", String),
                    column("location", String), column("enabled", Boolean),
                    column("cost_model", JSON), column("login_methods", JSON),
                    column("change_seq", BigInteger))  # fmt: skip
CHEAP = {"sizes": {"default": {"grey_simplex": 10}}}
DEAR = {"sizes": {"default": {"grey_simplex": 25}}}


def digest(model: dict[str, Any]) -> str:
    return prices_digest(cost_model_from_json(model))


def test_every_price_and_script_version_is_kept(hq: Database) -> None:
    with hq.session() as session:
        printers.save_printer(session, "laser", {"cost_model": CHEAP}, create=True)
        printers.save_printer(session, "laser", {"location": "hall"}, create=False)  # same
        printers.save_printer(session, "laser", {"cost_model": DEAR}, create=False)
        printers.save_device(session, "mfd", {"kind": "mfd", "cost_model": CHEAP}, create=True)
        scripts.put(session, scripts.Script("laser", "/* one */"))
        scripts.put(session, scripts.Script("laser", "/* one */", enabled=False))  # same
        scripts.put(session, scripts.Script("", "/* all */"))
        settings.put(session, "scripts.printer.laser", {"source": "/* by key */"})
        settings.put(session, "filters", {"rules": {}})  # not a script
        scripts.remove(session, "laser")  # nothing published
    with hq.read() as session:
        prices = published.versions(session, "printer", {"laser"})
        device = published.versions(session, "device", {"mfd"})
        kept = published.versions(session, "script", {"laser", ""})
    assert list(prices["laser"]) == [digest(CHEAP), digest(DEAR)]
    assert prices["laser"][digest(DEAR)] == DEAR
    assert list(device["mfd"]) == [digest(CHEAP)]
    assert set(kept["laser"]) == {script_digest("/* one */"), script_digest("/* by key */")}
    assert set(kept[""]) == {script_digest("/* all */")}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_migration_publishes_todays_prices_and_scripts(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    upgrade(url, "0008")
    database = Database(url)
    try:
        with database.session() as session:
            session.execute(insert(OLD_PRINTERS).values(
                name="old-laser", location="", enabled=True, hold_for_release=False, colour=True,
                cost_model=CHEAP, change_seq=1))  # fmt: skip
            session.execute(insert(OLD_DEVICES).values(
                name="old-mfd", kind="mfd", location="", enabled=True, cost_model=DEAR,
                login_methods=["card"], change_seq=1))  # fmt: skip
            session.execute(insert(SettingRow).values(key="scripts", value={"source": "/* a */"},
                                                      change_seq=1))  # fmt: skip
            session.execute(insert(SettingRow).values(key="filters", value={"source": "no"},
                                                      change_seq=1))  # fmt: skip
        upgrade(url)
        with database.read() as session:
            rows = session.execute(
                select(
                    PublishedVersionRow.kind,
                    PublishedVersionRow.subject,
                    PublishedVersionRow.digest,
                )
            ).all()
    finally:
        database.dispose()
    assert sorted(rows) == sorted([
        ("printer", "old-laser", digest(CHEAP)),
        ("device", "old-mfd", digest(DEAR)),
        ("script", "", script_digest("/* a */")),
    ])  # fmt: skip
