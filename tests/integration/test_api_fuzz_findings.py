"""What schemathesis found (tests/integration/test_api_schemathesis.py), kept as plain
regression tests on each backend."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from support.site import SiteProcess, app_and_site


def test_null_for_an_optional_printer_field_leaves_it_as_it_is(
    admin: httpx.Client, unique: Callable[[str], str]
) -> None:
    """``"cost_model": null`` and friends were stored as NULL: 500 (found by schemathesis)."""
    name = unique("nulls")
    nulls = {"cost_model": None, "enabled": None, "hold_for_release": None, "colour": None,
             "location": None}  # fmt: skip
    created = admin.post("/printers", json={"name": name, **nulls})
    assert created.status_code == 201, created.text
    assert created.json()["cost_model"] == {}
    assert created.json()["enabled"] is True
    patched = admin.patch(f"/printers/{name}", json={**nulls, "location": "hall"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["location"] == "hall"
    device_nulls = {"cost_model": None, "enabled": None, "location": None, "printer": None}
    device = admin.post("/devices", json={"name": unique("nulls-mfd"), "kind": "mfd",
                                          **device_nulls})  # fmt: skip
    assert device.status_code == 201, device.text
    assert device.json()["printer"] is None


def test_a_csv_the_csv_module_cannot_read_is_refused_not_a_server_error(
    admin: httpx.Client,
) -> None:
    """A lone CR inside an unquoted cell made the csv module raise: 500 (schemathesis)."""
    found = "\U000493d2\xce\U000f3759\U00101215\xc85\U000a6f6a\x8c\r\xd1\xbc\xe1\U000f8a05"
    too_long = "username,full_name\r\nann," + "x" * 200_000 + "\r\n"  # over csv's cell limit
    for text in (found + "\xd3\xe6\xd1C\xceQm", too_long):
        headers = {"Content-Type": "text/csv"}
        refused = admin.post("/users/import", content=text.encode(), headers=headers)
        assert refused.status_code == 400, refused.text
        assert refused.headers["content-type"] == "application/problem+json"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SiteProcess, str]]:
    with app_and_site(tmp_path_factory.mktemp("findings-site")) as both:
        yield both.site, both.admin_token


@pytest.mark.parametrize("name", ["a%04b", "t%C2%89%C3%BA%1b", "caf%C3%A9", "a%2Fb"])
def test_the_site_forwards_a_path_as_the_client_encoded_it(
    site: tuple[SiteProcess, str], name: str
) -> None:
    """A percent-encoded control character in a path made the gateway build a URL httpx
    refuses: 500 (schemathesis). The path now goes upstream as the client sent it."""
    server, token = site
    headers = {"Authorization": f"Bearer {token}"}
    through_site = httpx.get(f"{server.api}/users/{name}", headers=headers, timeout=10)
    assert through_site.status_code == 404, through_site.text
    assert through_site.headers["content-type"] == "application/problem+json"
