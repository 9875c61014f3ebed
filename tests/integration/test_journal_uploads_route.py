"""Journal uploads that reach HQ together are applied together (SQLite and PostgreSQL):
each site gets its own report; a bad upload among them fails alone, with its own error."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from printwarden.domain.accounts import Role
from printwarden.domain.ids import new_id
from printwarden.service.byte_budget import ByteBudget
from printwarden.service.combining import Combiner
from printwarden.testing.inprocess import InProcessAppServer

PRICES = {"sizes": {"default": {"grey_simplex": 10}}}
LIMIT = 30.0  # seconds a wait here may take

Unique = Callable[[str], str]


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def printed(username: str, printer: str, pages: Any = 2) -> dict[str, Any]:
    txn = new_id()
    body = {"txn_id": txn, "job_ref": txn, "username": username, "printer": printer,
            "pages": pages, "colour_pages": 0, "copies": 1}  # fmt: skip
    return {"id": new_id(), "kind": "printed", "body": body}


def upload_together(
    app: InProcessAppServer, uploads: dict[str, list[dict[str, Any]]]
) -> dict[str, httpx.Response]:
    """Each site's upload from its own thread, all queued before any is applied."""
    combiner: Combiner[Any, bytes] = app.app.state.printwarden.journal_uploads
    answers: dict[str, httpx.Response] = {}

    def post(site: str) -> None:
        answers[site] = post_upload(app, site, json.dumps({"entries": uploads[site]}))

    threads = [threading.Thread(target=post, args=(site,)) for site in uploads]
    with combiner.paused():
        start_queued(combiner, threads)
    for thread in threads:
        thread.join(LIMIT)
    return answers


def add_sites(app: InProcessAppServer, unique: Unique, prefix: str, count: int) -> list[str]:
    sites = [unique(f"{prefix}{n}") for n in range(count)]
    with app.client(app.token(Role.ADMIN, unique("admin"))) as admin:
        for site in sites:
            ok(admin.post("/sites", json={"name": site}), 201)
    return sites


def post_upload(app: InProcessAppServer, site: str, body: Any) -> httpx.Response:
    """``site``'s upload of ``body`` (text, or chunks sent as they come)."""
    with app.client(app.token(Role.SITE, scope=site)) as client:
        return client.post(f"/sites/{site}/journal", content=body,
                           headers={"Content-Type": "application/json"})  # fmt: skip


def start_queued(combiner: Combiner[Any, bytes], threads: list[threading.Thread]) -> None:
    """Start the threads, each posting an upload, and wait until every upload waits (call it
    with the combiner paused)."""
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + LIMIT
    while combiner.waiting() < len(threads):
        assert time.monotonic() < deadline, "the uploads did not queue"
        time.sleep(0.005)


def test_uploads_arriving_together_are_applied_together_each_with_its_report(
    app_on_each_backend: InProcessAppServer, unique: Unique
) -> None:
    app = app_on_each_backend
    combiner: Combiner[Any, bytes] = app.app.state.printwarden.journal_uploads
    with app.client(app.token(Role.ADMIN, unique("admin"))) as admin:
        printer, person = unique("p"), unique("u")
        ok(admin.post("/printers", json={"name": printer, "cost_model": PRICES}), 201)
        account = ok(admin.post("/users", json={"username": person}), 201)["account_id"]
        ok(admin.post(f"/accounts/by-id/{account}/top-up",
                      json={"txn_id": new_id(), "amount": 1_000}))  # fmt: skip
        sites = [unique(f"site{n}") for n in range(4)]
        for site in sites:
            ok(admin.post("/sites", json={"name": site}), 201)

        before = combiner.stats()
        good = {site: [printed(person, printer), printed(person, printer)] for site in sites}
        answers = upload_together(app, good)
        after = combiner.stats()
        assert after["groups"] - before["groups"] == 1
        assert after["items"] - before["items"] == 4
        assert after["groups_split"] == before["groups_split"]
        for site in sites:
            report = ok(answers[site])
            assert (report["applied"], report["amounts"]) == (2, {"print": 40})
            assert [r["id"] for r in report["results"]] == [e["id"] for e in good[site]]
        assert ok(admin.get(f"/users/{person}"))["balance"] == 1_000 - 4 * 40

        # A malformed upload and one from a site HQ does not know, among good ones.
        stranger = unique("stranger")
        mixed = {sites[0]: [printed(person, printer)],
                 sites[1]: [printed(person, printer, pages="many")],
                 stranger: [printed(person, printer)],
                 sites[2]: [printed(person, printer)]}  # fmt: skip
        answers = upload_together(app, mixed)
        assert combiner.stats()["groups_split"] == before["groups_split"] + 1
        assert answers[sites[1]].status_code == 422, answers[sites[1]].text
        assert answers[stranger].status_code == 404, answers[stranger].text
        for site in (sites[0], sites[2]):
            assert ok(answers[site])["amounts"] == {"print": 20}
        assert ok(admin.get(f"/users/{person}"))["balance"] == 1_000 - 4 * 40 - 2 * 20
    with app.client(under="") as anyone:
        scraped = anyone.get("/metrics").text
    split = combiner.stats()["groups_split"]
    assert f'printwarden_journal_uploads{{counter="groups_split"}} {split}' in scraped


def test_waiting_uploads_hold_no_worker_thread(
    app_on_each_backend: InProcessAppServer, unique: Unique
) -> None:
    """More uploads wait than the server has worker threads (16), yet a request that needs
    one is answered: only the group being applied takes a thread."""
    app = app_on_each_backend
    combiner: Combiner[Any, bytes] = app.app.state.printwarden.journal_uploads
    sites = add_sites(app, unique, "busy", 20)
    uploads = {site: [{"id": new_id(), "kind": "unknown-user", "body": {"username": site}}]
               for site in sites}  # fmt: skip
    answers: list[httpx.Response] = []

    def post(site: str) -> None:
        answers.append(post_upload(app, site, json.dumps({"entries": uploads[site]})))

    threads = [threading.Thread(target=post, args=(site,)) for site in sites]
    with combiner.paused():
        start_queued(combiner, threads)
        with app.client() as anyone:  # /health reads the database in a worker thread
            assert anyone.get("/health", timeout=5).status_code == 200
    for thread in threads:
        thread.join(LIMIT)
    assert sorted(r.status_code for r in answers) == [200] * len(uploads)


def test_uploads_beyond_the_memory_budget_wait_unread_in_order(
    app_on_each_backend: InProcessAppServer, unique: Unique
) -> None:
    """Bodies are read only while those admitted fit ``[limits] journal_bytes_at_once``
    (by their Content-Length): the rest wait unread, then are applied like the others."""
    app = app_on_each_backend
    state = app.app.state.printwarden
    combiner: Combiner[Any, bytes] = state.journal_uploads
    intake: ByteBudget = state.journal_intake
    sites = add_sites(app, unique, "big", 5)
    bodies = {
        site: json.dumps({"entries": [{"id": new_id(), "kind": "unknown-user",
                                       "body": {"username": f"{site}-{'x' * 20_000}"}}]})
        for site in sites
    }  # fmt: skip
    answers: list[httpx.Response] = []

    def post(site: str) -> None:
        answers.append(post_upload(app, site, bodies[site]))

    threads = [threading.Thread(target=post, args=(site,)) for site in sites]
    capacity, before = intake.capacity, intake.stats()
    intake.capacity = 2 * len(bodies[sites[0]]) + 100  # two of them
    try:
        with combiner.paused():
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + LIMIT
            while (combiner.waiting(), intake.queued) != (2, 3):
                assert time.monotonic() < deadline, (combiner.waiting(), intake.stats())
                time.sleep(0.005)
            assert intake.used <= intake.capacity
        for thread in threads:
            thread.join(LIMIT)
    finally:
        intake.capacity = capacity
    assert sorted(r.status_code for r in answers) == [200] * len(bodies)
    after = intake.stats()
    assert after["waited"] - before["waited"] == 3
    assert (after["waiting"], after["bytes_admitted"]) == (0, 0)
    with app.client(under="") as anyone:
        scraped = anyone.get("/metrics").text
    assert f'printwarden_journal_intake{{counter="waited"}} {after["waited"]}' in scraped


def unknown_user(name: str) -> str:
    return json.dumps({"entries": [{"id": new_id(), "kind": "unknown-user",
                                    "body": {"username": name}}]})  # fmt: skip


def test_a_sites_uploads_take_turns_while_other_sites_go_along(
    app_on_each_backend: InProcessAppServer, unique: Unique
) -> None:
    """A Site Server uploads one batch after the other: a second upload of the same site
    waits for the first (so one site, or its stolen token, holds one upload's share)."""
    app = app_on_each_backend
    state = app.app.state.printwarden
    combiner: Combiner[Any, bytes] = state.journal_uploads
    north, south = add_sites(app, unique, "turns", 2)
    answers: list[httpx.Response] = []
    posts = [(north, "a"), (north, "b"), (south, "c")]

    def post(site: str, name: str) -> None:
        answers.append(post_upload(app, site, unknown_user(name)))

    threads = [threading.Thread(target=post, args=p) for p in posts]
    with combiner.paused():
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + LIMIT
        while combiner.waiting() < 2:
            assert time.monotonic() < deadline, combiner.waiting()
            time.sleep(0.005)
        time.sleep(0.2)  # north's second upload would have queued by now
        assert combiner.waiting() == 2
    for thread in threads:
        thread.join(LIMIT)
    assert sorted(r.status_code for r in answers) == [200, 200, 200]
    assert len(state.journal_senders) == 0  # sites no one waits for are forgotten
