"""Confirmation messages after a change, named by a code in the redirect (``?done=…``).

Only these texts can appear: nothing a link carries is shown back to the reader.
"""

from __future__ import annotations

from urllib.parse import quote

MESSAGES = {
    "user-created": "User created.",
    "user-saved": "User saved.",
    "balance-changed": "Balance changed.",
    "group-created": "Group created.",
    "account-created": "Account saved.",
    "policies-saved": "Offline Policies saved; sites receive them with their next changes.",
    "site-forced": "Site mode request saved; the site learns it at its next call.",
    "released": "Job released.",
    "canceled": "Job canceled.",
    "job-changed": "Job settings changed.",
    "config-saved": "Config key saved.",
    "printer-saved": "Printer saved.",
    "print-url-revoked": "Print URL revoked: providers stop taking it within a minute.",
    "web-print-uploaded": "Documents uploaded: each is rendered, then waits for you to print it.",
    "web-print-canceled": "Web Print job canceled.",
    "refund-asked": "Refund asked for: an administrator will answer it.",
    "refund-approved": "Refund approved: the charge went back to its account.",
    "refund-refused": "Refund refused.",
    "batch-expired": "Batch withdrawn: its cards not yet redeemed no longer redeem.",
    "cash-collected": "Cash collection recorded.",
}


def text(code: str) -> str:
    return MESSAGES.get(code, "")


def done(path: str, code: str) -> str:
    """``path`` with the message code appended."""
    assert code in MESSAGES
    joiner = "&" if "?" in path else "?"
    return f"{path}{joiner}done={quote(code)}"
