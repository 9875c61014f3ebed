"""The tests' name for :mod:`printwarden.testing.seeding`."""

from printwarden.testing.seeding import (
    NO_POLICY,
    PRICES,
    WAIT_SECONDS,
    add_printer,
    add_user,
    top_up,
    wait_for,
)

__all__ = [
    "NO_POLICY",
    "PRICES",
    "WAIT_SECONDS",
    "add_printer",
    "add_user",
    "top_up",
    "wait_for",
]
