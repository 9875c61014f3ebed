"""Web Print and Email to Print at the provider: fetch the documents the server rendered for
this provider's queues and spool each as a job of the person who handed it in.

Fetched with the doorbell's orders (the server rings once a document is rendered), with this
provider's own token from its own server. The job takes the submission's id as its UUID, so
the held-job record and the charge name it; fetching a submission again (the report of the
first time was lost) finds the job already spooled and reports it again. From the spool on,
the job is an IPP job like any other: analysed, decided, held, released, charged.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from printwarden.provider.config import ProviderConfig
from printwarden.provider.desk import Desk, Submission
from printwarden.provider.service_client import ServerRefused, ServiceClient
from printwarden.provider.spool import DocumentWriter, Spool

log = logging.getLogger("printwarden.provider")

PDF = "application/pdf"
ACCEPTED, REFUSED = "accepted", "refused"


class SubmissionDesk:
    """Takes this provider's submissions from its server into the spool."""

    def __init__(
        self, name: str, config: ProviderConfig, client: ServiceClient, desk: Desk, spool: Spool
    ) -> None:
        self.name, self.config, self.client = name, config, client
        self.desk, self.spool = desk, spool

    def fetch(self) -> int:
        """Spool every waiting submission and report it; how many there were."""
        try:
            found = self.client.submissions(self.name)
        except ServerRefused as exc:
            if exc.status == 404:  # a server without Web Print
                return 0
            raise
        if not found:
            return 0
        self.client.submission_results(self.name, [self.take(item) for item in found])
        return len(found)

    def take(self, item: dict[str, Any]) -> dict[str, Any]:
        """Spool one submission; what came of it (a refusal is this one's alone)."""
        answer: dict[str, Any] = {"id": str(item["id"])}
        existing = self.spool.find_named(str(item["username"]), answer["id"])
        if existing is not None:
            return {**answer, "outcome": ACCEPTED, "provider_job_id": existing.id}
        queue = self.config.queue(str(item["queue"]))
        if queue is None:
            return {**answer, "outcome": REFUSED, "detail": f"no queue {item['queue']!r} here"}
        try:
            data = self.client.submission_document(self.name, answer["id"])
        except Exception as exc:
            log.info("submission %s: fetching the document failed (%s)", answer["id"], exc)
            return {**answer, "outcome": REFUSED, "detail": "the document could not be fetched"}
        if hashlib.sha256(data).hexdigest() != item["sha256"]:
            return {**answer, "outcome": REFUSED, "detail": "the document arrived damaged"}
        writer = DocumentWriter(self.spool)
        writer.write(data)
        job = self.desk.accept(_submission(queue, item), writer)
        log.info("job %s: Web Print %s of %s spooled", job.id, answer["id"], item["username"])
        return {**answer, "outcome": ACCEPTED, "provider_job_id": job.id}


def _submission(queue: Any, item: dict[str, Any]) -> Submission:
    attributes: dict[str, Any] = {
        "copies": int(item.get("copies", 1)),
        "sides": "two-sided-long-edge" if item.get("duplex") else "one-sided",
        "job-name": str(item.get("document_name", ""))[:255],
    }
    if item.get("grayscale"):
        attributes["print-color-mode"] = "monochrome"
    return Submission(
        queue=queue,
        user=str(item["username"]),
        authenticated=True,  # its server vouches: the person logged in there
        name=str(item.get("document_name", ""))[:255],
        document_format=PDF,
        attributes=attributes,
        uuid=str(item["id"]),
    )
