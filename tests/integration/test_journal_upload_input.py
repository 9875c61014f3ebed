"""A bad journal upload is refused whole with a 422 naming what is wrong, and applies
nothing; a good one in the same shape is applied."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from printwarden.domain.accounts import Role
from printwarden.domain.ids import new_id
from printwarden.domain.journal import UPLOAD_LIMIT
from printwarden.testing.inprocess import InProcessAppServer

SITE = "upload-checks"


@pytest.fixture(scope="module")
def site_client(
    app_server: InProcessAppServer, role_tokens: dict[Role, str]
) -> Iterator[httpx.Client]:
    with app_server.client(role_tokens[Role.ADMIN]) as admin:
        created = admin.post("/sites", json={"name": SITE})
    assert created.status_code == 201, created.text
    with app_server.client(app_server.token(Role.SITE, scope=SITE)) as client:
        client.headers["Content-Type"] = "application/json"
        yield client


def unknown_user(name: str, entry_id: str | None = None) -> dict[str, Any]:
    body = {"username": name, "where": "test"}
    return {"id": entry_id or new_id(), "kind": "unknown-user", "body": body}


def report_of(client: httpx.Client, entries: list[dict[str, Any]]) -> httpx.Response:
    return client.post(f"/sites/{SITE}/journal", content=json.dumps({"entries": entries}))


BAD: dict[str, tuple[Any, str]] = {  # the entry, and where the error must point
    "an id that is no UUID": ({"id": "entry-1", "kind": "unknown-user"}, "body.entries.1.id"),
    "an unknown kind": ({"id": new_id(), "kind": "refund"}, "body.entries.1.kind"),
    "an unknown field": ({"id": new_id(), "kind": "held", "extra": 1}, "body.entries.1.extra"),
    "a body that is no object": ({"id": new_id(), "kind": "held", "body": []}, "body.entries.1"),
    "a bad timestamp": ({"id": new_id(), "kind": "held", "at": "noon"}, "body.entries.1.at"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_entry_refuses_the_whole_upload(site_client: httpx.Client, case: str) -> None:
    bad, where = BAD[case]
    first = unknown_user(f"before-{uuid.uuid4().hex[:6]}")
    response = report_of(site_client, [first, bad])
    assert response.status_code == 422, response.text
    locations = [error["location"] for error in response.json()["errors"]]
    assert any(location.startswith(where) for location in locations), locations
    # Nothing was applied: the good first entry is new when sent alone.
    again = report_of(site_client, [first]).json()
    assert (again["applied"], again["already_applied"]) == (1, 0)


@pytest.mark.parametrize("pages", ["many", [3], -1])
def test_a_printed_entry_with_bad_counts_is_refused_and_applies_nothing(
    site_client: httpx.Client, pages: Any
) -> None:
    first = unknown_user(f"before-{uuid.uuid4().hex[:6]}")
    body = {"txn_id": new_id(), "job_ref": "bad-counts", "username": "nobody-here",
            "printer": "nowhere", "pages": pages}  # fmt: skip
    response = report_of(site_client, [first, {"id": new_id(), "kind": "printed", "body": body}])
    assert response.status_code == 422, response.text
    again = report_of(site_client, [first]).json()
    assert (again["applied"], again["already_applied"]) == (1, 0)


def test_malformed_json_and_too_many_entries_are_refused(site_client: httpx.Client) -> None:
    cut = site_client.post(f"/sites/{SITE}/journal", content=b'{"entries": [')
    assert cut.status_code == 422, cut.text
    many = [unknown_user("many") for _ in range(UPLOAD_LIMIT + 1)]
    assert report_of(site_client, many).status_code == 422


def test_ids_are_normalized_so_a_replay_in_another_spelling_is_the_same_entry(
    site_client: httpx.Client,
) -> None:
    entry_id = str(uuid.uuid4())
    first = report_of(site_client, [unknown_user("spelled", entry_id)]).json()
    assert (first["applied"], first["unknown_users"]) == (1, ["spelled"])
    braced = "{" + entry_id.upper() + "}"
    again = report_of(site_client, [unknown_user("spelled", braced)]).json()
    assert (again["applied"], again["already_applied"]) == (0, 1)
