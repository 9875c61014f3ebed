"""Printers that ask before printing, for the User Client's and the portal's tests: a
``confirm-laser`` that asks to confirm the cost and a ``project-laser`` that asks for the
account (with a comment), each behind a direct queue of its name's first word."""

from __future__ import annotations

import httpx

from printwarden.testing.provider import QueueSpec

PRINTERS = {"confirm-laser": True, "project-laser": True}
QUEUES = [QueueSpec("confirm", "direct", "confirm-laser"),
          QueueSpec("project", "direct", "project-laser")]  # fmt: skip
RULES = {"confirm-laser": {"confirm": "always"},
         "project-laser": {"account_selection": True, "comment": True}}  # fmt: skip
PIN = "4321"  # the shared accounts' in these tests


def ask_before_printing(admin: httpx.Client) -> None:
    """Set :data:`RULES` on their printers at HQ."""
    for printer, rules in RULES.items():
        changed = admin.patch(f"/printers/{printer}", json={"client_rules": rules})
        assert changed.status_code == 200, changed.text
