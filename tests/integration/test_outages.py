"""Outages cut both ways (issue 17): a cut link stops HQ reaching the site as it stops the
site reaching HQ, and what HQ does with a site's held jobs meanwhile — refused with a clear
reason, never queued, never printed or charged twice — with real processes: an App Server, a
link carrying both directions, a Site Server and a Print Provider at the site.
"""

from __future__ import annotations

import html
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from printwarden.provider.ipp.client import IppClient
from printwarden.web.sessions import SESSION_COOKIE
from support.provider import QueueSpec
from support.seeding import PRICES, add_user, top_up, wait_for
from support.site import PRINTER, SITE, World, site_world
from support.web import login

PASSWORD = "correct horse battery staple"
QUIET_SECONDS = 4.0  # how long a job that must not print is watched


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    queues = [QueueSpec("secure", "hold", PRINTER)]
    with site_world(tmp_path_factory.mktemp("outages"), queues=queues) as made:
        yield made


def held_job(world: World, user: str) -> tuple[bytes, str]:
    """A job held at the site for ``user``: its document and id, once HQ and the site
    both know of it."""
    text = f"held {uuid.uuid4().hex}\n"
    with IppClient(world.provider.uri("secure"), user_name=user, timeout=30) as client:
        client.print_job(text.encode(), document_format="text/plain", job_name=text[:30],
                         requesting_user_name=user)  # fmt: skip

    def listed() -> str | None:
        jobs = world.admin.get("/held-jobs", params={"user": user}).json()["jobs"]
        return next((j["id"] for j in jobs if j["document_name"] == text[:30]), None)

    job_id: str = wait_for(listed, "the held job at HQ")
    wait_for(world.caught_up, "the site to know of it")
    return text.encode(), job_id


def owner(world: World) -> tuple[str, httpx.Client]:
    """A user with credit, and their own API session at HQ."""
    user = f"own-{uuid.uuid4().hex[:8]}"
    add_user(world.admin, user, 1_000, password=PASSWORD)
    login = httpx.post(f"{world.app.api}/auth/login", timeout=30,
                       json={"username": user, "password": PASSWORD})  # fmt: skip
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    return user, httpx.Client(base_url=world.app.api, headers=headers, timeout=60)


def hq_sees(world: World, mode: str) -> bool:
    found: dict[str, Any] = world.admin.get(f"/sites/{SITE}").json()
    return bool(found["mode"] == mode)


def printed_times(world: World, document: bytes) -> int:
    return world.printed().count(document)


def test_hq_knows_where_it_reaches_the_site_and_releases_through_it(world: World) -> None:
    site = world.admin.get(f"/sites/{SITE}").json()
    assert site["url"] == world.site.advertised_url  # the link's route to the Site Server
    assert world.site.status()["url"] == world.site.advertised_url
    user, me = owner(world)
    with me:
        document, job = held_job(world, user)
        released = me.post(f"/held-jobs/{job}/release", json={"printer": PRINTER})
        assert released.status_code == 200, released.text
    wait_for(lambda: printed_times(world, document) == 1, "the job on paper")
    wait_for(lambda: world.balance(user) == 1_000 - PRICES["grey_simplex"], "its charge")


def test_hq_side_actions_on_a_site_job_during_a_cut_are_refused_then_work_once(
    world: World,
) -> None:
    user, me = owner(world)
    with me:
        document, job = held_job(world, user)
        with world.outage():
            wait_for(lambda: hq_sees(world, "offline"), "HQ seeing the site offline")
            for client in (me, world.admin):  # the owner, an administrator
                refused = client.post(f"/held-jobs/{job}/release", json={"printer": PRINTER})
                assert refused.status_code == 503, refused.text
                problem = refused.json()
                assert problem["title"] == "Site offline"
                assert problem["site"] == SITE
                assert f"held at site {SITE}, which HQ cannot reach" in problem["detail"]
                assert "release it at a printer there" in problem["detail"]
            canceled = me.post(f"/held-jobs/{job}/cancel")
            assert canceled.status_code == 503, canceled.text
            assert "cancel it there" in canceled.json()["detail"]
            changed = me.patch(f"/held-jobs/{job}", json={"copies": 3})
            assert changed.status_code == 503, changed.text
            every = me.post("/me/held-jobs/release-all", json={"printer": PRINTER})
            assert every.status_code == 200, every.text
            assert every.json()["released"] == []
            assert [r["id"] for r in every.json()["refused"]] == [job]
            assert "which HQ cannot reach" in every.json()["refused"][0]["reason"]
            time.sleep(QUIET_SECONDS)
            assert printed_times(world, document) == 0
        # Refused, not queued: nothing prints when the link returns.
        time.sleep(QUIET_SECONDS)
        assert printed_times(world, document) == 0
        record = world.admin.get(f"/held-jobs/{job}").json()
        assert (record["status"], record["copies"]) == ("held", 1)
        assert world.balance(user) == 1_000
        # Back online, the same release works once, and is charged once.
        released = me.post(f"/held-jobs/{job}/release", json={"printer": PRINTER})
        assert released.status_code == 200, released.text
        wait_for(lambda: printed_times(world, document) == 1, "the job on paper")
        again = me.post(f"/held-jobs/{job}/release", json={"printer": PRINTER})
        assert again.status_code == 409, again.text
    wait_for(lambda: world.balance(user) == 1_000 - PRICES["grey_simplex"], "one charge")
    time.sleep(QUIET_SECONDS)
    assert printed_times(world, document) == 1
    assert world.balance(user) == 1_000 - PRICES["grey_simplex"]


def test_a_cut_stops_hq_reaching_the_site_at_all(world: World) -> None:
    """HQ's only way into the site — the Site Server at the address it advertises — is cut
    with the link; the site's own network is not."""
    provider = world.admin.get("/providers").json()
    name = next(p["name"] for p in provider if p["name"] == world.provider.name)
    ring = f"/site/providers/{name}/wake"
    via_link = world.site.advertised_url
    with httpx.Client(timeout=2) as http:
        assert http.post(f"{via_link}{ring}").status_code == 200
        with world.outage():
            with pytest.raises(httpx.TimeoutException):
                http.post(f"{via_link}{ring}")
            # At the site itself the relay still answers, and says why it will not ring.
            local = http.post(f"{world.site.url}{ring}")
            assert local.status_code == 503
            assert f"site {SITE} is offline" in local.json()["detail"]
        assert http.post(f"{world.site.url}/site/providers/nobody/wake").status_code == 404
        assert http.get(f"{world.site.url}{ring}").status_code == 405


ROW = re.compile(
    r'<tr><td>[^<]*</td><td>(\w[\w-]*)</td><td class="num">([^<]*)</td><td>([^<]*)</td>'
)


def portal_rows(base: str, cookie: str) -> list[tuple[str, str, str]]:
    """The transactions the web portal at ``base`` lists: (kind, amount, comment), in order."""
    with httpx.Client(base_url=base, timeout=30, cookies={SESSION_COOKIE: cookie}) as web:
        page = web.get("/web/portal/")
    assert page.status_code == 200, page.text[:500]
    return [
        (kind, amount, html.unescape(comment)) for kind, amount, comment in ROW.findall(page.text)
    ]


def test_the_portal_lists_an_outages_charges_where_they_happened(world: World) -> None:
    """Issue 17: charges made at an offline site were listed where HQ recorded them (when the
    site reconciled, above what HQ did meanwhile); now by when they happened. The offline
    site's portal shows what it has, the outage's charges included."""
    user, me = owner(world)
    me.close()
    card = uuid.uuid4().hex[:12]
    assert world.admin.patch(f"/users/{user}", json={"cards": [card]}).status_code == 200
    world.print_text(user, f"online {uuid.uuid4().hex}\n")
    wait_for(lambda: world.balance(user) == 1_000 - 10, "the online charge")
    with httpx.Client(base_url=world.app.url, timeout=30) as web:
        login(web, user, PASSWORD, "/web/portal/")
        cookie = web.cookies[SESSION_COOKIE]
    wait_for(world.caught_up, "the site knowing the card")
    with world.outage():
        copied = copy_at_site(world, card, 3)  # at the site, while HQ cannot hear of it
        time.sleep(1.1)  # HQ's top-up comes after the copy, by the clock
        account = world.admin.get(f"/users/{user}").json()["account_id"]
        top_up(world.admin, account, 500)
        offline = portal_rows(world.site.url, cookie)  # HQ's session, at the offline site
        assert ("copy", "-$0.30", "3 pages copy at north-mfd") in offline, offline
        assert copied == 1_000 - 10 - 30
    wait_for(lambda: world.balance(user) == 1_000 - 10 - 30 + 500, "the outage reconciled")
    rows = portal_rows(world.app.url, cookie)
    assert [(kind, amount) for kind, amount, _ in rows] == [
        ("top-up", "$5.00"),  # at HQ during the outage, after the copy
        ("copy", "-$0.30"),  # at the site during the outage
        ("print", "-$0.10"),  # before the outage
        ("top-up", "$10.00"),
    ], rows
    assert rows[2][2] == "1 page on north-laser"


def copy_at_site(world: World, card: str, pages: int) -> int:
    """Copy ``pages`` at the site's MFD; the balance it answers."""
    headers = {"Authorization": f"Bearer {world.device_token}"}
    with httpx.Client(base_url=world.site.api, headers=headers, timeout=30) as device:
        login_at = device.post("/device/sessions", json={"method": "card", "card_number": card})
        assert login_at.status_code == 201, login_at.text
        usage = {"usage_id": str(uuid.uuid4()), "kind": "copy", "pages": pages}
        path = f"/device/sessions/{login_at.json()['session_id']}/usage"
        done = device.post(path, json=usage)
        assert done.status_code == 200, done.text
        balance: int = done.json()["balance"]
        return balance
