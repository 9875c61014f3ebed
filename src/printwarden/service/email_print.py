"""Email to Print on a server: the mail package's listener (:mod:`printwarden.mail`) over Web
Print's use cases. Each document of a message becomes a Web Print submission of the sender,
rendered and held on the queue the message was addressed to.

A queue's address is ``<local part>@<[mail] domain>``: its name made fit for an address
(``Library Colour`` → ``library-colour``), or an alias of the ``web-print`` setting's
``addresses``. A server offers its own providers' queues (HQ: those of no site; a Site Server:
its site's), from its own database, so a site's listener works offline too.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from printwarden.config import MailConfig
from printwarden.domain.web_print import PrintOptions, Stage, WebPrintPolicy
from printwarden.mail.settings import MailSettings, smarthost_at
from printwarden.mail.smarthost import Smarthost
from printwarden.mail.target import Attachment, Outcome
from printwarden.service.state import AppState
from printwarden.service.web_print import WebPrintService
from printwarden.store import mail_addresses, users, web_prints
from printwarden.store.models import WebPrintRow
from printwarden.usecases import web_print
from printwarden.usecases.errors import REFUSALS

if TYPE_CHECKING:
    from printwarden.mail.imap import ImapSource
    from printwarden.mail.listener import MailService

log = logging.getLogger("printwarden.mail")

CONFIRM_PATH = "/web/portal/mail-confirm"
WAIT_STEP = 0.2  # seconds between looks at a document being rendered


def local_part(queue: str) -> str:
    """A queue name as the local part of its address."""
    return re.sub(r"[^a-z0-9]+", "-", queue.lower()).strip("-") or "print"


def addresses_here(
    session: Session, site: str | None, rules: WebPrintPolicy
) -> dict[str, web_print.WebPrintQueue]:
    """Local part → queue, for the queues this server offers (aliases first)."""
    offered = web_print.queues_here(session, site, rules)
    found = {local_part(q.queue): q for q in reversed(offered)}  # the first of a name wins
    by_key = {q.key: q for q in offered}
    for alias, key in rules.addresses.items():
        if key in by_key:
            found[alias.lower()] = by_key[key]
    return found


class EmailPrintTarget:
    """The print side of Email to Print (``printwarden.mail.target.PrintTarget``)."""

    def __init__(
        self,
        state: AppState,
        service: WebPrintService,
        config: MailConfig,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.state, self.service, self.config, self.loop = state, service, config, loop
        self.site = web_print.site_of_issuer(state.issuer)
        self.wait_seconds = state.settings.web_print.render_timeout_seconds * 2 + 30

    def queue_for(self, recipient: str) -> str | None:
        local, _, domain = recipient.strip().lower().rpartition("@")
        if domain != self.config.domain.lower():
            return None
        with self.state.database.read() as session:
            found = addresses_here(session, self.site, web_print.policy(session)).get(local)
        return found.key if found is not None else None

    def user_for(self, sender: str) -> str | None:
        with self.state.database.read() as session:
            row = mail_addresses.owner(session, sender)
            return row.username if row is not None else None

    def submit(self, username: str, queue: str, attachment: Attachment, message_id: str) -> Outcome:
        """Hold one document: rendered here, then fetched and held by the queue's provider.
        Waits for the rendering, so the reply says what came of it. The same ``message_id``
        again (a message processed again after a crash) finds the first submission."""
        try:
            submission_id = self._begin(username, queue, attachment, message_id)
        except REFUSALS as exc:
            return Outcome(attachment.filename, False, str(getattr(exc, "detail", "") or exc))
        row = self._settled(submission_id)
        return _outcome(attachment.filename, row, self.state)

    def _begin(self, username: str, key: str, attachment: Attachment, message_id: str) -> str:
        with self.state.database.session() as session:
            existing = web_prints.by_source_key(session, message_id)
            if existing is not None:
                return existing.id
            user = users.find_user(session, username)
            queue = web_print.find_queue(session, self.site, key)
            row = web_print.begin(
                session, user, queue, attachment.filename, attachment.size, PrintOptions(),
                submit=True, source="email", source_key=message_id,
            )  # fmt: skip
            shutil.copyfile(attachment.path, self.service.source(row.id))
            submission_id = row.id
        self.loop.call_soon_threadsafe(self.service.enqueue, submission_id)
        return submission_id

    def _settled(self, submission_id: str) -> WebPrintRow | None:
        """The submission once rendered (or the wait is over)."""
        deadline = time.monotonic() + self.wait_seconds
        while True:
            with self.state.database.read() as session:
                row = web_prints.get(session, submission_id)
                if row is not None:
                    session.expunge(row)
            if row is None or row.stage != Stage.RENDERING or time.monotonic() > deadline:
                return row
            time.sleep(WAIT_STEP)

    def link_sender(self, username: str, sender: str) -> None:
        """Keep ``sender`` as one of the user's addresses. At HQ only: a site's replica
        takes users from HQ (the confirmed message still prints at the site)."""
        if not self.state.authority.at_hq:
            log.info("mail: %s confirmed %s at a site; the address is not kept", username, sender)
            return
        with self.state.database.session() as session:
            mail_addresses.add(session, users.find_user(session, username), sender)

    def confirmation_url(self, token: str) -> str:
        base = self.config.public_url.rstrip("/") or f"http://{self.state.settings.host}:" + str(
            self.state.settings.port
        )
        return f"{base}{CONFIRM_PATH}/{token}"


def _outcome(filename: str, row: WebPrintRow | None, state: AppState) -> Outcome:
    if row is None:
        return Outcome(filename, False, "it was removed before it was printed")
    if row.stage in (Stage.FAILED, Stage.REFUSED, Stage.CANCELED):
        return Outcome(filename, False, row.detail or row.stage)
    if row.stage == Stage.RENDERING:
        return Outcome(filename, True, f"accepted: it is being prepared for {row.queue}")
    pages = f"{row.pages} page{'' if row.pages == 1 else 's'}" if row.pages else ""
    cost = f", {state.currency.format(row.cost)}" if row.cost is not None else ""
    facts = f" ({pages}{cost})" if pages else ""
    return Outcome(filename, True, f"held for release at {row.queue}{facts}")


def mail_settings(config: MailConfig) -> MailSettings:
    return MailSettings(
        listen_host=config.listen,
        port=config.port,
        domain=config.domain,
        tls_cert=config.tls_cert,
        tls_key=config.tls_key,
        require_tls=config.require_tls,
        max_message_bytes=config.max_message_bytes,
        trusted_relays=tuple(config.trusted_relays),
        trusted_relay_networks=tuple(config.trusted_relay_networks),
        unknown_sender=config.unknown_sender,
        confirm_hours=config.confirm_hours,
        replies_per_hour=config.replies_per_hour,
        print_body=config.print_body,
        smarthost=smarthost_at(
            config.smarthost, config.smarthost_starttls, config.smarthost_credentials_file
        ),
    )


class EmailPrint:
    """Email to Print as it runs: the SMTP listener and the mailboxes it polls."""

    def __init__(self, service: MailService, mailboxes: ImapSource | None) -> None:
        self.service, self.mailboxes = service, mailboxes

    async def stop(self) -> None:
        if self.mailboxes is not None:  # first: what they fetch goes to the service's spool
            await self.mailboxes.stop()
        await self.service.stop()

    def stats(self) -> dict[str, int]:
        counts = dict(self.service.stats())
        if self.mailboxes is not None:
            counts.update({f"imap_{k}": v for k, v in self.mailboxes.stats().items()})
        return counts


async def start_mail(
    state: AppState, service: WebPrintService, config: MailConfig, directory: Path
) -> EmailPrint | None:
    """Start Email to Print when ``[mail] domain`` is set (and poll ``[[mail.imap]]``).
    The SMTP server and the sender checks (aiosmtpd, dkimpy, pyspf) load only then."""
    if not config.domain:
        return None
    from printwarden.mail.imap import ImapSettings, run_pollers
    from printwarden.mail.listener import MailService

    mailboxes = [ImapSettings(**_paths(table)) for table in config.imap]  # ValueError: says why
    settings = mail_settings(config)
    sender = Smarthost(settings.smarthost, config.domain) if config.smarthost else None
    target = EmailPrintTarget(state, service, config, asyncio.get_running_loop())
    mail = MailService(settings, target, directory, sender)
    await mail.start()
    source = await run_pollers(mail, mailboxes) if mailboxes else None
    return EmailPrint(mail, source)


def _paths(table: dict[str, Any]) -> dict[str, Any]:
    """A ``[[mail.imap]]`` table with its file settings as paths."""
    files = ("ca_file", "token_file", "client_secret_file")
    return {k: Path(v) if k in files and v else v for k, v in table.items()}
