"""What to do with a message, given who sent it (no I/O).

| sender | aligned | action |
|---|---|---|
| known | yes | submit as that user |
| known | no | hold; mail a confirmation link to the user's address (the From:) |
| unknown | – | ``unknown_sender``: ``reject`` (no print, no reply), ``reject-with-instructions``
  (a reply saying how to register the address), ``confirm`` (hold; mail a link: whoever logs
  in there and confirms gets the address linked to their account and the message printed) |

A message with no usable From: address is rejected without a reply.
"""

from __future__ import annotations

import enum

from printwarden.mail.settings import UnknownSender


class Action(enum.Enum):
    """What becomes of a message."""

    SUBMIT = "submit"
    CONFIRM_USER = "confirm-user"  # known sender, not aligned
    CONFIRM_LINK = "confirm-link"  # unknown sender, to be linked on confirmation
    REJECT_INSTRUCTIONS = "reject-with-instructions"
    REJECT = "reject"


def decide(sender: str, username: str | None, aligned: bool, unknown: UnknownSender) -> Action:
    """The action for a message from ``sender`` (known as ``username``, or not)."""
    if not sender:
        return Action.REJECT
    if username is not None:
        return Action.SUBMIT if aligned else Action.CONFIRM_USER
    if unknown == "confirm":
        return Action.CONFIRM_LINK
    if unknown == "reject-with-instructions":
        return Action.REJECT_INSTRUCTIONS
    return Action.REJECT
