"""The functions table: which function works in which mode (the offline-operations contract).

Declared once, as data. The Site Server refuses a function that is unavailable in its
current mode with :class:`FunctionUnavailable` (naming the function), and the matrix test
reads this same table. Rows are the reference's, in its order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Mode(StrEnum):
    """Where a request is answered."""

    ONLINE = "online"  # the App Server answers (directly or through a Site Server)
    OFFLINE_NO_SITE = "offline-no-site"  # no server reachable: the provider's failure mode
    OFFLINE_WITH_SITE = "offline-with-site"  # the Site Server answers from its replica


class Function(StrEnum):
    BASIC_PRINTING = "basic-printing"
    HARDWARE_TERMINALS = "hardware-terminals"
    SECURE_PRINT = "secure-print"
    FIND_ME_PRINT = "find-me-print"
    USER_BALANCES = "user-balances"
    FILTERS_AND_CONVERSIONS = "filters-and-conversions"
    RELEASE_STATIONS = "release-stations"
    MOBILITY_PRINT = "mobility-print"
    MOBILE_PRINT = "mobile-print"
    PAYMENT_GATEWAYS_KIOSKS = "payment-gateways-kiosks"
    SCRIPTING = "scripting"
    FAST_RELEASE = "fast-release"
    INTEGRATED_SCANNING = "integrated-scanning"
    ACCOUNT_SELECTION_USER_CLIENT = "account-selection-user-client"
    MFD_LOGIN = "mfd-login"
    MFD_DEVICE_FUNCTIONS = "mfd-device-functions"
    SERVER_SIDE_PRINTING_AT_MFD = "server-side-printing-at-mfd"
    CHANGE_HELD_JOB_SETTINGS_AT_MFD = "change-held-job-settings-at-mfd"
    ACCOUNT_SELECTION_AT_MFD = "account-selection-at-mfd"


@dataclass(frozen=True, slots=True)
class Row:
    """One row of the table: the function as the reference names it, and where it works."""

    function: Function
    title: str
    online: bool
    offline_no_site: bool
    offline_with_site: bool
    # The reference marks some rows "Yes*": available offline with a Site Server, with the
    # qualification given here.
    note: str = ""

    def available(self, mode: Mode) -> bool:
        return {
            Mode.ONLINE: self.online,
            Mode.OFFLINE_NO_SITE: self.offline_no_site,
            Mode.OFFLINE_WITH_SITE: self.offline_with_site,
        }[mode]


_STARRED = "Yes* in the reference: offline the Site Server answers from its replica"

TABLE: tuple[Row, ...] = (
    Row(Function.BASIC_PRINTING, "Basic printing (Failure mode)", True, True, True),
    Row(Function.HARDWARE_TERMINALS, "Hardware terminals", True, False, True),
    Row(Function.SECURE_PRINT, "Secure Print", True, False, True),
    Row(Function.FIND_ME_PRINT, "Find-Me Print", True, False, True),
    Row(Function.USER_BALANCES, "User Balances", True, False, True),
    Row(Function.FILTERS_AND_CONVERSIONS, "Filters and conversions", True, False, True),
    Row(Function.RELEASE_STATIONS, "Release Stations", True, False, True),
    Row(Function.MOBILITY_PRINT, "Mobility Print", True, False, True),
    Row(
        Function.MOBILE_PRINT,
        "Mobile Print (Web Print, Email to Print …)",
        True,
        False,
        True,
        "No in the reference; here the Site Server takes uploads and mail for its own queues, "
        "renders them there and its providers hold them, online or offline",
    ),
    Row(
        Function.PAYMENT_GATEWAYS_KIOSKS,
        "Payment Gateways, Kiosks",
        True,
        False,
        True,
        "N offline in the reference; here top-up cards and cash kiosks work at the site from "
        "its replica and are journaled (HQ credits each once), while online payments need the "
        "gateway and HQ and are refused there plainly",
    ),
    Row(
        Function.SCRIPTING,
        "Scripting",
        True,
        False,
        True,
        "No in the reference; here print scripts replicate to the site and run there offline",
    ),
    Row(
        Function.FAST_RELEASE,
        "Fast Release",
        True,
        False,
        True,
        "No in the reference; here a card read logs in at its reader's device and releases "
        "through the Site Server like any device, so nothing at the site needs HQ",
    ),
    Row(
        Function.INTEGRATED_SCANNING,
        "Integrated Scanning",
        True,
        False,
        True,
        "No in the reference; here the Site Server takes the scan, charges it under the "
        "Offline Policy, delivers it through the site's own smarthost and shares, and "
        "journals the usage for HQ",
    ),
    Row(
        Function.ACCOUNT_SELECTION_USER_CLIENT,
        "Account Selection via User Client",
        True,
        False,
        True,
        "No in the reference; here the Site Server serves the client's event stream and its "
        "answers from the replica, journals each choice, and HQ applies it once",
    ),
    Row(Function.MFD_LOGIN, "MFD login (all devices)", True, False, True),
    Row(
        Function.MFD_DEVICE_FUNCTIONS,
        "All device functions at MFD (excluding server-side printing)",
        True,
        False,
        True,
    ),
    Row(
        Function.SERVER_SIDE_PRINTING_AT_MFD,
        "Server-side printing at MFD",
        True,
        False,
        True,
        _STARRED,
    ),
    Row(
        Function.CHANGE_HELD_JOB_SETTINGS_AT_MFD,
        "Changing held print jobs settings at MFD",
        True,
        False,
        True,
        _STARRED + "; needs system.site.offline-change-print-job-settings.enabled = Y",
    ),
    Row(
        Function.ACCOUNT_SELECTION_AT_MFD,
        "Account Selection at MFD",
        True,
        False,
        True,
        _STARRED + "; the Offline Policy's account applies unless the config key allows a change",
    ),
)

_BY_FUNCTION = {row.function: row for row in TABLE}


class FunctionUnavailable(Exception):
    """A function that does not work in the current mode."""

    def __init__(self, function: Function, mode: Mode) -> None:
        row = _BY_FUNCTION[function]
        super().__init__(f"{row.title} is not available {_describe(mode)}")
        self.function, self.mode = function, mode


def row(function: Function) -> Row:
    return _BY_FUNCTION[function]


def require(function: Function, mode: Mode) -> None:
    """Raise :class:`FunctionUnavailable` unless ``function`` works in ``mode``."""
    if not _BY_FUNCTION[function].available(mode):
        raise FunctionUnavailable(function, mode)


def _describe(mode: Mode) -> str:
    return {
        Mode.ONLINE: "online",
        Mode.OFFLINE_NO_SITE: "while no server can be reached",
        Mode.OFFLINE_WITH_SITE: "while the site is offline",
    }[mode]
