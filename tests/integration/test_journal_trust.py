"""A site's token charges only what HQ can explain, at its own site (issue 15, item 2).

Against a real App Server (SQLite and PostgreSQL): forged journal entries uploaded with a
site's token — a negative usage cost, a negative ``cost_override``, a printer or device of
another site, a cost the published prices cannot explain, a held job of another site's
provider, another user's account — are each rejected with the reason, change no balance and
stay rejected when sent again, while the valid entries of the same upload are applied. The
job routes refuse another site's printer, and a provider token bound to one provider the
printers it does not serve.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from printwarden.domain.accounts import Role
from printwarden.domain.charges import prices_digest, script_digest
from printwarden.domain.ids import new_id
from printwarden.store.printers import cost_model_from_json
from printwarden.testing.inprocess import InProcessAppServer

PRICES = {"sizes": {"default": {"grey_simplex": 10, "grey_duplex": 8, "colour_simplex": 50,
                                "colour_duplex": 40}}}  # fmt: skip
COPY_PRICES = {"sizes": {"default": {"grey_simplex": 5, "colour_simplex": 20}}}
SCRIPT = "function printJobHook(inputs, actions) { actions.job.setCost(7); }"
FUNDS = 10_000


@dataclass
class Sites:
    """Sites a and b, each with a printer, an MFD and a provider (with a bound token); a
    user of each; an admin client and a client with site a's token."""

    app: InProcessAppServer
    admin: httpx.Client
    site_a: httpx.Client
    a: str
    b: str
    user: str
    account_id: int
    other: str  # another user
    other_account_id: int  # their personal account
    providers: dict[str, tuple[str, str]]  # site → (provider name, its bound token)
    held_at_b: str  # a held job at site b's provider

    def printer(self, site: str) -> str:
        return f"{site}-laser"

    def device(self, site: str) -> str:
        return f"{site}-mfd"

    def balance(self, user: str | None = None) -> int:
        found: int = ok(self.admin.get(f"/users/{user or self.user}"))["balance"]
        return found

    def upload(self, entries: list[dict[str, Any]]) -> dict[str, Any]:
        body = json.dumps({"entries": entries})
        found: dict[str, Any] = ok(self.site_a.post(f"/sites/{self.a}/journal", content=body))
        return found

    def prices(self, name: str, kind: str = "printers") -> str:
        """The digest a site journals for the prices of printer (or device) ``name``."""
        stored = ok(self.admin.get(f"/{kind}/{name}"))["cost_model"]
        return prices_digest(cost_model_from_json(stored))

    def printed(self, site: str, cost: int | None, pages: int = 2, **extra: Any) -> Entry:
        txn = new_id()
        body = {"txn_id": txn, "job_ref": f"trust-{txn}", "username": self.user,
                "printer": self.printer(site), "pages": pages, "colour_pages": 0, "copies": 1,
                "duplex": False, "paper_size": "A4", "account": "", "cost": cost,
                "cost_model": self.prices(self.printer(site)), **extra}  # fmt: skip
        return {"id": new_id(), "kind": "printed", "body": body}

    def usage(self, site: str, cost: int, pages: int = 3, **extra: Any) -> Entry:
        body = {"usage_id": new_id(), "device": self.device(site), "username": self.user,
                "account_id": self.account_id, "kind": "copy", "pages": pages,
                "colour_pages": 0, "duplex": False, "paper_size": "A4", "cost": cost,
                "cost_model": self.prices(self.device(site), "devices"), **extra}  # fmt: skip
        return {"id": new_id(), "kind": "usage", "body": body}


Entry = dict[str, Any]


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def client(app: InProcessAppServer, token: str) -> httpx.Client:
    return app.client(token)


@pytest.fixture(scope="module")
def sites(app_server: InProcessAppServer, role_tokens: dict[Role, str]) -> Iterator[Sites]:
    suffix = uuid.uuid4().hex[:6]
    a, b = f"ta-{suffix}", f"tb-{suffix}"
    with (
        client(app_server, role_tokens[Role.ADMIN]) as admin,
        client(app_server, app_server.token(Role.SITE, scope=a)) as site_a,
    ):
        providers = {}
        for site in (a, b):
            ok(admin.post("/sites", json={"name": site}), 201)
            printer = {"name": f"{site}-laser", "site": site, "cost_model": PRICES}
            ok(admin.post("/printers", json=printer), 201)
            device = {"name": f"{site}-mfd", "kind": "mfd", "site": site,
                      "printer": f"{site}-laser", "cost_model": COPY_PRICES}  # fmt: skip
            ok(admin.post("/devices", json=device), 201)
            providers[site] = register(app_server, f"p-{site}", f"{site}-laser")
        ok(admin.put("/scripts", params={"printer": f"{a}-laser"}, json={"source": SCRIPT}))
        user, other = f"trust-{suffix}", f"other-{suffix}"
        account_id = funded(admin, user)
        other_account_id = funded(admin, other)
        held = hold_a_job(app_server, *providers[b], user)
        yield Sites(app_server, admin, site_a, a, b, user, account_id, other, other_account_id,
                    providers, held)  # fmt: skip


def funded(admin: httpx.Client, user: str) -> int:
    account_id: int = ok(admin.post("/users", json={"username": user}), 201)["account_id"]
    top_up = {"txn_id": new_id(), "amount": FUNDS}
    ok(admin.post(f"/accounts/by-id/{account_id}/top-up", json=top_up))
    return account_id


def register(app: InProcessAppServer, name: str, printer: str) -> tuple[str, str]:
    """A provider ``name`` serving ``printer``, registered with a token bound to it."""
    token = app.token(Role.PROVIDER, scope=f"provider:{name}")
    body = {"name": name, "ipp_url": f"ipp://{name}.test/", "printers": [{"name": printer}]}
    with client(app, token) as provider:
        ok(provider.post("/providers/register", json=body))
    return name, token


def hold_a_job(app: InProcessAppServer, provider: str, token: str, user: str) -> str:
    """A job ``provider`` holds for ``user``; its id."""
    ref, now = str(uuid.uuid4()), datetime.now(UTC)
    job = {"job_ref": ref, "provider_job_id": 1, "queue": "secure", "queue_kind": "hold",
           "username": user, "pages": 1, "submitted_at": now.isoformat(),
           "expires_at": (now + timedelta(hours=4)).isoformat()}  # fmt: skip
    with client(app, token) as reporter:
        found = ok(reporter.post("/held-jobs/reports", json={"provider": provider, "jobs": [job]}))
    assert found["accepted"] == 1, found
    return ref


def held_report(sites: Sites, site: str, **extra: Any) -> Entry:
    """A journal entry reporting a new held job at ``site``'s provider."""
    now = datetime.now(UTC)
    body = {"job_ref": str(uuid.uuid4()), "provider_job_id": 2, "queue": "secure",
            "queue_kind": "hold", "username": sites.user, "provider": sites.providers[site][0],
            "pages": 1, "submitted_at": now.isoformat(),
            "expires_at": (now + timedelta(hours=4)).isoformat(), **extra}  # fmt: skip
    return {"id": new_id(), "kind": "held-report", "body": body}


def forged(sites: Sites) -> dict[str, tuple[Entry, str]]:
    """Entries a stolen site box could send, and what the rejection must say."""
    a, b, script = sites.a, sites.b, script_digest(SCRIPT)
    other_script = script_digest("function printJobHook(inputs, actions) {}")
    held = {"job_ref": sites.held_at_b, "status": "canceled", "reason": "forged"}
    return {
        "negative usage cost": (sites.usage(a, -100_000), "negative"),
        "negative cost_override": (
            sites.printed(a, -5_000, cost_override=-5_000, script=script), "negative"),
        "cost_override no script published": (
            sites.printed(a, 500, cost_override=500, script=other_script), "never published"),
        "printer of another site": (sites.printed(b, 20), f"belongs to site {b!r}"),
        "device of another site": (sites.usage(b, 15), f"belongs to site {b!r}"),
        "cost the prices cannot explain": (sites.printed(a, 1), "not what published prices"),
        "a bigger cost than the prices": (sites.printed(a, 90_000), "not what published prices"),
        "prices never published": (
            sites.printed(a, 2, cost_model="f" * 32), "were never published"),
        "another user's account": (
            sites.usage(a, 15, account_id=sites.other_account_id), f"is not {sites.user}'s"),
        "held job of another site's provider": (
            {"id": new_id(), "kind": "held", "body": held}, "provider of another site"),
        "held report of another site's provider": (held_report(sites, b), "serves no printer"),
        "held report for another site's printer": (
            held_report(sites, a, printer=sites.printer(b)), f"belongs to site {b!r}"),
    }  # fmt: skip


def test_forged_entries_are_rejected_with_a_reason_and_the_valid_ones_applied(
    sites: Sites,
) -> None:
    a = sites.a
    valid = [sites.printed(a, 20), sites.usage(a, 15),
             sites.printed(a, 7, cost_override=7, script=script_digest(SCRIPT)),
             held_report(sites, a)]  # fmt: skip
    bad = forged(sites)
    entries = [valid[0], *(entry for entry, _ in bad.values()), *valid[1:]]
    before = sites.balance(), sites.balance(sites.other)

    report = sites.upload(entries)

    # Only the valid charges moved money: 20 printed, 15 copied, 7 set by the script.
    assert sites.balance() == before[0] - 42
    assert sites.balance(sites.other) == before[1]
    assert report["amounts"] == {"print": 27, "copy": 15}
    assert (report["entries"], report["applied"]) == (len(entries), len(entries))
    assert [r["id"] for r in report["results"]] == [e["id"] for e in entries]
    status = {r["id"]: r for r in report["results"]}
    for entry in valid:
        assert status[entry["id"]]["status"] == "applied", status[entry["id"]]
    rejected = {r["id"]: r["reason"] for r in report["rejected"]}
    for case, (entry, reason) in bad.items():
        assert status[entry["id"]]["status"] == "rejected", (case, status[entry["id"]])
        assert reason in rejected[entry["id"]], (case, rejected[entry["id"]])
        assert status[entry["id"]]["detail"] == rejected[entry["id"]]
    assert len(rejected) == len(bad)
    held = ok(sites.admin.get(f"/held-jobs/{sites.held_at_b}"))
    assert held["status"] == "held"

    again = sites.upload(entries)  # a re-upload: same answers, nothing moves
    assert again["already_applied"] == len(entries)
    assert {r["id"]: r["reason"] for r in again["rejected"]} == rejected
    statuses = {r["id"]: r["status"] for r in again["results"]}
    assert {statuses[e["id"]] for e in valid} == {"already-applied"}
    assert {statuses[e["id"]] for e, _ in bad.values()} == {"rejected"}
    assert sites.balance() == before[0] - 42


def job(sites: Sites, path: str, printer: str, pages: int = 2) -> dict[str, Any]:
    """A body for ``path`` (decision or printed) of a job of ``pages`` at ``printer``."""
    body = {"username": sites.user, "printer": printer, "pages": pages,
            "job_ref": f"online-{uuid.uuid4().hex}"}  # fmt: skip
    return {**body, "txn_id": new_id()} if path == "/jobs/printed" else body


def test_a_site_token_reports_jobs_only_at_its_own_sites_printers(sites: Sites) -> None:
    before = sites.balance()
    for path in ("/jobs/decision", "/jobs/printed"):
        refused = sites.site_a.post(path, json=job(sites, path, sites.printer(sites.b)))
        assert refused.status_code == 403, refused.text
        assert f"belongs to site {sites.b!r}" in refused.json()["detail"]
    assert sites.balance() == before

    at_home = sites.printer(sites.a)
    decided = ok(sites.site_a.post("/jobs/decision", json=job(sites, "/jobs/decision", at_home)))
    assert decided["verdict"] == "allow"
    charged = ok(sites.site_a.post("/jobs/printed", json=job(sites, "/jobs/printed", at_home)))
    assert charged["cost"] == 20
    assert sites.balance() == before - 20


def test_a_negative_cost_override_is_refused_with_a_message(sites: Sites) -> None:
    before = sites.balance()
    body = {**job(sites, "/jobs/printed", sites.printer(sites.a)), "cost_override": -5_000}
    refused = sites.site_a.post("/jobs/printed", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    errors = refused.json()["errors"]
    assert any(e["location"] == "body.cost_override" for e in errors), errors
    assert sites.balance() == before


def test_a_bound_provider_token_reaches_only_the_printers_it_serves(sites: Sites) -> None:
    name, token = sites.providers[sites.a]
    before = sites.balance()
    with client(sites.app, token) as provider:
        for path in ("/jobs/decision", "/jobs/printed"):
            refused = provider.post(path, json=job(sites, path, sites.printer(sites.b), 1))
            assert refused.status_code == 403, refused.text
            assert f"provider {name!r} does not serve" in refused.json()["detail"]
        assert sites.balance() == before
        at_home = job(sites, "/jobs/printed", sites.printer(sites.a), 1)
        charged = ok(provider.post("/jobs/printed", json=at_home))
    assert charged["cost"] == 10
    assert sites.balance() == before - 10
