"""Reconciliation trusts a site only as far as HQ can explain its charges (issue 15, item 2),
against real processes: an App Server, a Site Server behind a link that is cut, and a
provider printing for the site.

- Prices changed at HQ during an outage: the site's offline job is charged at the prices the
  site had (HQ published them), not at HQ's new ones.
- A tampered site box: entries forged into the site's own journal while it is offline are
  rejected at reconciliation with their reasons — listed in the site's report, which HQ
  shows for the site — and change no balance, while the site's real offline job is charged.
"""

from __future__ import annotations

import html
import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from typing import Any

import pytest

from printwarden.domain.ids import new_id
from support.seeding import PRICES, add_user, wait_for
from support.site import PRINTER, SITE, World, site_world
from support.web import add_person, browser, login


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with site_world(tmp_path_factory.mktemp("site-trust")) as made:
        yield made


def print_offline(world: World, user: str, text: str) -> None:
    """Print ``text`` (one page) as ``user`` at the site, and wait until it is journaled."""
    backlog = world.site.status()["journal_backlog"]
    world.print_text(user, text)
    wait_for(lambda: text.encode() in world.printed(), "the job on paper")
    wait_for(lambda: world.site.status()["journal_backlog"] > backlog, "the job journaled")


def test_prices_changed_at_hq_during_an_outage_reconcile_at_the_sites_prices(
    world: World,
) -> None:
    user = f"kim-{uuid.uuid4().hex[:6]}"
    add_user(world.admin, user, 1_000)
    wait_for(world.caught_up, "the user at the site")
    dearer = {"cost_model": {"sizes": {"default": {**PRICES, "grey_simplex": 25}}}}
    try:
        with world.outage():
            print_offline(world, user, "one page at the price the site has\n")
            changed = world.admin.patch(f"/printers/{PRINTER}", json=dearer)
            assert changed.status_code == 200, changed.text
        wait_for(lambda: world.site.status()["last_report"], "a reconciliation report")
        assert world.balance(user) == 1_000 - 10  # the site's price, not HQ's new 25
        assert world.site.status()["last_report"]["rejected"] == []
    finally:
        restored = {"cost_model": {"sizes": {"default": PRICES}}}
        assert world.admin.patch(f"/printers/{PRINTER}", json=restored).status_code == 200
        wait_for(world.caught_up, "the old prices back at the site")


def test_entries_forged_into_a_site_journal_are_rejected_and_reported(world: World) -> None:
    user = f"lee-{uuid.uuid4().hex[:6]}"
    account_id = add_user(world.admin, user, 1_000)
    elsewhere = f"elsewhere-{uuid.uuid4().hex[:6]}"
    assert world.admin.post("/sites", json={"name": elsewhere}).status_code == 201
    body = {"name": f"{elsewhere}-laser", "site": elsewhere, "cost_model": {"sizes": {}}}
    assert world.admin.post("/printers", json=body).status_code == 201
    wait_for(world.caught_up, "the user at the site")

    with world.outage():
        print_offline(world, user, "the real offline job\n")
        forged = forge(world, user, account_id, f"{elsewhere}-laser")

    wait_for(lambda: world.balance(user) == 1_000 - 10, "the real job charged")
    report = world.site.status()["last_report"]
    reasons = {r["id"]: r["reason"] for r in report["rejected"]}
    assert set(reasons) == set(forged)
    for entry_id, expected in forged.items():
        assert expected in reasons[entry_id], (expected, reasons[entry_id])
    assert world.site.status()["journal_backlog"] == 0  # nothing held up
    assert world.balance(user) == 1_000 - 10

    def shown_at_hq() -> bool:
        last = world.admin.get(f"/sites/{SITE}").json()["last_report"] or {}
        return {r["id"] for r in last.get("rejected", [])} == set(forged)

    wait_for(shown_at_hq, "the rejections in the site's report at HQ")
    password = "site-trust-admin-password"
    add_person(world.app, f"web-{user}", password, admin=True)
    with browser(world.app) as web:
        login(web, f"web-{user}", password)
        page = web.get("/web/admin/sites")
    assert page.status_code == 200, page.text
    shown = html.unescape(page.text)
    assert f"{len(forged)} rejected" in shown
    for entry_id in forged:
        assert f"{entry_id}: {reasons[entry_id]}" in shown


def forge(world: World, user: str, account_id: int, foreign_printer: str) -> dict[str, str]:
    """Write entries into the site's own journal, as an attacker holding the site box could;
    their ids, each with what its rejection must say."""
    now = datetime.now(UTC).isoformat()

    def printed(**fields: Any) -> dict[str, Any]:
        txn = new_id()
        return {"txn_id": txn, "job_ref": txn, "username": user, "printer": PRINTER,
                "pages": 2, "copies": 1, "printed_at": now, **fields}  # fmt: skip

    usage = {"usage_id": new_id(), "device": f"{SITE}-mfd", "username": user,
             "account_id": account_id, "kind": "copy", "pages": 1,
             "cost": -100_000}  # fmt: skip
    entries = {
        "negative": ("usage", usage),
        "a charge is never a credit": ("printed", printed(cost=-5_000, cost_override=-5_000)),
        "not what published prices give": ("printed", printed(cost=1)),
        f"belongs to site {foreign_printer.removesuffix('-laser')!r}": (
            "printed", printed(printer=foreign_printer, cost=0)),
    }  # fmt: skip
    forged = {}
    with closing(sqlite3.connect(world.site.data_dir / "replica.db", timeout=10)) as database:
        for reason, (kind, body) in entries.items():
            entry_id = new_id()
            database.execute(
                "INSERT INTO site_journal (id, kind, at, body) VALUES (?, ?, ?, ?)",
                (entry_id, kind, now, json.dumps(body)),
            )
            forged[entry_id] = reason
        database.commit()
    return forged
