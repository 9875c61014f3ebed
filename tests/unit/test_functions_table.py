"""The functions table, checked row by row against the reference (written out by hand here)."""

from __future__ import annotations

import pytest

from printwarden.domain.functions import (
    TABLE,
    Function,
    FunctionUnavailable,
    Mode,
    require,
    row,
)

# function → (online, offline with no site server, offline with a site server), as the
# reference's table says ("Yes*" counts as yes), but for one deliberate extension (scripting).
REFERENCE = {
    "basic-printing": "YYY",
    "hardware-terminals": "YNY",
    "secure-print": "YNY",
    "find-me-print": "YNY",
    "user-balances": "YNY",
    "filters-and-conversions": "YNY",
    "release-stations": "YNY",
    "mobility-print": "YNY",
    "mobile-print": "YNY",  # the reference: YNN; the Site Server renders and holds (issue 20)
    "payment-gateways-kiosks": "YNY",  # the reference: YNN; cards and cash at the site (issue 23)
    "scripting": "YNY",  # the reference: YNN; we run replicated scripts at the site (issue 7)
    "fast-release": "YNY",  # the reference: YNN; a card reader is a device like any (issue 17)
    "integrated-scanning": "YNY",  # the reference: YNN; the site scans and delivers (issue 22)
    "account-selection-user-client": "YNY",
    "mfd-login": "YNY",
    "mfd-device-functions": "YNY",
    "server-side-printing-at-mfd": "YNY",
    "change-held-job-settings-at-mfd": "YNY",
    "account-selection-at-mfd": "YNY",
}
MODES = (Mode.ONLINE, Mode.OFFLINE_NO_SITE, Mode.OFFLINE_WITH_SITE)


def test_the_table_has_every_reference_row_once_in_order() -> None:
    assert [r.function.value for r in TABLE] == list(REFERENCE)


@pytest.mark.parametrize("function", list(REFERENCE))
def test_each_row_says_what_the_reference_says(function: str) -> None:
    declared = row(Function(function))
    got = "".join("Y" if declared.available(mode) else "N" for mode in MODES)
    assert got == REFERENCE[function]


def test_an_unavailable_function_is_refused_by_name() -> None:
    with pytest.raises(FunctionUnavailable, match="Integrated Scanning is not available") as caught:
        require(Function.INTEGRATED_SCANNING, Mode.OFFLINE_NO_SITE)
    assert caught.value.function is Function.INTEGRATED_SCANNING
    require(Function.SECURE_PRINT, Mode.OFFLINE_WITH_SITE)  # available: no error


def test_rows_that_differ_from_the_reference_say_so() -> None:
    for function in ("scripting", "fast-release"):
        assert row(Function(function)).note.startswith("No in the reference")


def test_starred_rows_carry_their_qualification() -> None:
    for function in ("server-side-printing-at-mfd", "change-held-job-settings-at-mfd"):
        assert "Yes*" in row(Function(function)).note
