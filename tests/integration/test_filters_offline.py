"""Filters and print scripts keep working at a site whose link to the App Server is cut: they
are settings, replicated to the Site Server, which decides the site's jobs offline. What
they charged offline reaches the HQ ledger at reconciliation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from printwarden.provider.ipp.client import IppClient
from support.seeding import add_user, wait_for
from support.site import PRINTER, World, site_world

COMPLETED, CANCELED = 9, 7
SCRIPT = """function printJobHook(inputs, actions) {
  if (inputs.job.documentName.indexOf("memo") >= 0) {
    actions.job.cancelWithMessage("Memos go by email, not on paper");
    return;
  }
  actions.job.setCost(3);
  actions.log.info("flat fee at " + inputs.job.printerName);
}"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with site_world(tmp_path_factory.mktemp("filters-offline")) as made:
        yield made


def submit(world: World, user: str, text: str, name: str) -> int:
    with IppClient(world.provider.uri("direct"), user_name=user, timeout=30) as client:
        return client.print_job(text.encode(), document_format="text/plain", job_name=name,
                                requesting_user_name=user)  # fmt: skip


def finished(world: World, job_id: int) -> tuple[int, str]:
    state: tuple[int, str] = wait_for(
        lambda: (found := world.job_state(job_id))[0] in (COMPLETED, CANCELED) and found,
        f"job {job_id} finished",
    )
    return state


def test_filters_and_scripts_decide_jobs_while_the_site_is_offline(world: World) -> None:
    rules = {"rules": {"max_pages": 1, "duplicate_seconds": 600}}
    assert world.admin.put("/filters", params={"printer": PRINTER}, json=rules).status_code == 200
    put = world.admin.put("/scripts", params={"printer": PRINTER}, json={"source": SCRIPT})
    assert put.status_code == 200, put.text
    user = f"p-{uuid.uuid4().hex[:8]}"
    add_user(world.admin, user, 10_000)
    wait_for(world.caught_up, "the filters, script and user at the site")
    before = len(world.printed())

    with world.outage():
        too_long = finished(world, submit(world, user, "page one\fpage two\n", "long"))
        memo = finished(world, submit(world, user, "a short memo\n", "team memo"))
        printed = finished(world, submit(world, user, "the one that prints\n", "notes"))
        duplicate = finished(world, submit(world, user, "the one that prints\n", "again"))
        assert world.balance(user) == 10_000  # HQ has not heard of the charge yet

    assert too_long[0] == CANCELED
    assert "the limit is 1" in too_long[1]
    assert memo == (CANCELED, "Memos go by email, not on paper")
    assert printed[0] == COMPLETED
    assert duplicate[0] == CANCELED
    assert "duplicate of job" in duplicate[1]
    assert len(world.printed()) == before + 1
    wait_for(lambda: world.balance(user) == 10_000 - 3, "the script's cost in the HQ ledger")


def test_a_script_that_fails_offline_still_lets_the_job_print(world: World) -> None:
    hang = "function printJobHook(inputs, actions) { while (true) {} }"
    put = world.admin.put("/scripts", params={"printer": PRINTER}, json={"source": hang})
    assert put.status_code == 200, put.text
    assert world.admin.delete("/filters", params={"printer": PRINTER}).status_code == 204
    user = f"p-{uuid.uuid4().hex[:8]}"
    add_user(world.admin, user, 10_000)
    wait_for(world.caught_up, "the script and user at the site")

    with world.outage():
        state = finished(world, submit(world, user, "printed despite the script\n", "ok"))

    assert state[0] == COMPLETED
    wait_for(lambda: world.balance(user) < 10_000, "the job charged at HQ")
