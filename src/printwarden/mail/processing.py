"""One spooled message, start to end: parse, authenticate, decide, submit or hold, reply.

Blocking (the print side may block on a database): run it in a worker thread. Each document
goes to :meth:`PrintTarget.submit` with ``message_id`` ``"<spool id>/<queue>/<index>"``
(the index of the document in the message, from 0): the same on every run over the same
spooled or held message, so the print side can make submitting idempotent on it.
"""

from __future__ import annotations

import collections
import email
import logging
import shutil
import tempfile
import threading
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path

from printwarden.files import private_dir
from printwarden.mail import replies
from printwarden.mail.message import Limits, MessageTooLarge, Parsed, parse
from printwarden.mail.pending import Held, PendingStore
from printwarden.mail.policy import Action, decide
from printwarden.mail.sender_auth import Connection, Lookup, Trust, Verdict, authenticate
from printwarden.mail.settings import MailSettings, UnknownSender
from printwarden.mail.smarthost import Smarthost
from printwarden.mail.spool import Entry
from printwarden.mail.target import Attachment, Outcome, PrintTarget

log = logging.getLogger(__name__)


def submit_key(entry_id: str, queue: str, index: int) -> str:
    """The ``message_id`` of one document's submission (stable across reprocessing)."""
    return f"{entry_id}/{queue}/{index}"


class Processor:
    """Takes messages through the policy to the print side and answers their senders."""

    def __init__(
        self,
        settings: MailSettings,
        target: PrintTarget,
        pending: PendingStore,
        workdir: Path,
        sender: Smarthost | None,
        lookup: Lookup | None = None,
    ) -> None:
        self.settings = settings
        self.target = target
        self.pending = pending
        self.workdir = private_dir(workdir)
        self.sender = sender
        self.lookup = lookup
        self.limits = Limits(
            settings.max_message_bytes,
            settings.max_attachments,
            settings.inline_image_min_bytes,
            settings.print_body,
        )
        self.trust = Trust(settings.trusted_relays, settings.trusted_relay_networks)
        self.rate = replies.RateLimit(settings.replies_per_hour)
        self.stats: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def process(self, entry: Entry) -> Action:
        """Deal with one spooled message; raises when it cannot be processed."""
        try:
            parsed = parse(entry.raw, self.limits)
        except MessageTooLarge:
            log.warning("mail %s: over the size limit, dropped", entry.id)
            return Action.REJECT
        username = self.target.user_for(parsed.sender) if parsed.sender else None
        verdict = self._verdict(entry, parsed) if username is not None else None
        action = decide(parsed.sender, username, bool(verdict and verdict.aligned), self._unknown)
        log.info("mail %s from %r: %s (%s)", entry.id, parsed.sender, action.value, verdict)
        if action is Action.SUBMIT and username is not None:
            outcomes = self.submit_all(entry, parsed, username)
            self._reply(entry, parsed, replies.summary(parsed, outcomes, self._from))
        elif action in (Action.CONFIRM_USER, Action.CONFIRM_LINK):
            self._hold(entry, parsed, username if action is Action.CONFIRM_USER else None)
        elif action is Action.REJECT_INSTRUCTIONS:
            message = replies.instructions(parsed, self.settings.register_url, self._from)
            self._reply(entry, parsed, message)
        return action

    def confirmed(self, held: Held, username: str) -> list[Outcome]:
        """Process a held message as ``username`` (for :meth:`PendingStore.confirm`)."""
        if held.username is None:
            self.target.link_sender(username, held.sender)
        parsed = parse(held.entry.raw, self.limits)
        outcomes = self.submit_all(held.entry, parsed, username)
        self._reply(held.entry, parsed, replies.summary(parsed, outcomes, self._from))
        return outcomes

    def submit_all(self, entry: Entry, parsed: Parsed, username: str) -> list[Outcome]:
        """Submit every document to every queue the message was sent to; refusals too."""
        outcomes: list[Outcome] = []
        with tempfile.TemporaryDirectory(prefix=f"{entry.id}-", dir=self.workdir) as tmp:
            directory = Path(tmp)
            directory.chmod(0o700)
            for queue in self._queues(entry):
                for index, document in enumerate(parsed.documents):
                    path = directory / f"{index}.doc"
                    path.write_bytes(document.data)
                    path.chmod(0o600)
                    attachment = Attachment(
                        document.filename, document.content_type, path, len(document.data)
                    )
                    key = submit_key(entry.id, queue, index)
                    outcomes.append(self.target.submit(username, queue, attachment, key))
                    path.unlink(missing_ok=True)
        outcomes += [Outcome(r.filename, False, r.reason) for r in parsed.refusals]
        return outcomes

    def _queues(self, entry: Entry) -> list[str]:
        queues = (self.target.queue_for(r) for r in entry.envelope.recipients)
        return list(dict.fromkeys(q for q in queues if q))

    def _verdict(self, entry: Entry, parsed: Parsed) -> Verdict:
        env = entry.envelope
        msg = email.message_from_bytes(entry.raw, policy=email_policy.compat32)
        connection = Connection(env.client_ip, env.mail_from, env.helo)
        return authenticate(entry.raw, msg, parsed.sender, connection, self.trust, self.lookup)

    def _hold(self, entry: Entry, parsed: Parsed, username: str | None) -> None:
        if replies.suppression(parsed, entry.envelope.mail_from):
            self._count("replies_suppressed")
            return  # nobody would ever hear of it: do not keep it
        token = self.pending.hold(entry, parsed.sender, username)
        url = self.target.confirmation_url(token)
        hours = self.settings.confirm_hours
        self._reply(entry, parsed, replies.confirmation(parsed, url, hours, self._from))

    def _reply(self, entry: Entry, parsed: Parsed, message: EmailMessage) -> None:
        why = replies.suppression(parsed, entry.envelope.mail_from)
        if why is None and not self.rate.allow(parsed.sender):
            why = "rate limit"
        if why is not None or self.sender is None:
            log.info("mail %s: no reply (%s)", entry.id, why or "no smarthost")
            self._count("replies_suppressed")
            return
        try:
            self.sender.send(message, parsed.sender)
        except (OSError, ValueError) as exc:  # smtplib's errors are OSErrors
            log.warning("mail %s: reply to %s failed: %s", entry.id, parsed.sender, exc)
            self._count("replies_failed")
            return
        self._count("replies_sent")

    def _count(self, name: str) -> None:
        with self._lock:
            self.stats[name] += 1

    @property
    def _unknown(self) -> UnknownSender:
        return self.settings.unknown_sender

    @property
    def _from(self) -> str:
        return self.settings.reply_address


def remove_tree(path: Path) -> None:
    """Remove a work directory left by a crash."""
    shutil.rmtree(path, ignore_errors=True)
