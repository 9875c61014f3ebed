"""What schemathesis found (tests/integration/test_api_schemathesis.py), kept as plain
regression tests on each backend."""

from __future__ import annotations

from collections.abc import Callable

import httpx


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
