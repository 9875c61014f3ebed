"""The ``ipp://``/``ipps://`` back-end: Print-Job to a network printer, then follow the job."""

from __future__ import annotations

import time

from printwarden.provider.delivery import Delivered, Delivery, PrinterRejected, PrinterUnavailable
from printwarden.provider.ipp.builders import AttributeInput
from printwarden.provider.ipp.client import (
    IppClient,
    IppError,
    PrinterUnreachable,
)

FOLLOW_SECONDS = 300.0
FIRST_POLL_SECONDS = 0.005
MAX_POLL_SECONDS = 0.5
TERMINAL = {7: "canceled", 8: "aborted", 9: "completed"}


class IppBackend:
    """Sends a document with Print-Job and waits (bounded) until the printer finishes it."""

    def __init__(self, uri: str, follow_seconds: float = FOLLOW_SECONDS) -> None:
        self.uri = uri
        self.follow_seconds = follow_seconds

    def deliver(self, delivery: Delivery) -> Delivered:
        client = IppClient(self.uri)
        try:
            job_id = self._print(client, delivery)
            if delivery.accepted is not None:
                delivery.accepted(job_id)
            return self._follow(client, job_id)
        finally:
            client.close()

    def _print(self, client: IppClient, delivery: Delivery) -> int:
        attributes: dict[str, AttributeInput] = {"copies": delivery.copies, "sides": delivery.sides}
        if delivery.colour_mode != "auto":
            attributes["print-color-mode"] = delivery.colour_mode
        try:
            with delivery.path.open("rb") as document:
                return client.print_job(
                    document,
                    document_format=delivery.document_format,
                    job_name=delivery.job_name,
                    requesting_user_name=delivery.user,
                    attributes=attributes,
                )
        except PrinterUnreachable as exc:
            raise PrinterUnavailable(str(exc)) from None
        except IppError as exc:
            if exc.status in (0x0502, 0x0505, 0x0506, 0x0507):  # busy/unavailable: try later
                raise PrinterUnavailable(str(exc)) from None
            raise PrinterRejected(str(exc), exc.status) from None

    def _follow(self, client: IppClient, job_id: int) -> Delivered:
        deadline = time.monotonic() + self.follow_seconds
        delay = FIRST_POLL_SECONDS
        while time.monotonic() < deadline:
            try:
                job = client.get_job_attributes(job_id)
            except (PrinterUnreachable, IppError):
                break
            state = job.value("job-state")
            if isinstance(state, int) and state in TERMINAL:
                if state != 9:
                    raise PrinterRejected(f"the printer {TERMINAL[state]} the job")
                impressions = job.value("job-impressions-completed")
                count = impressions if isinstance(impressions, int) else None
                return Delivered(job_id, count)
            # The dispatch thread waits here before the next job: ask soon, then less often.
            time.sleep(delay)
            delay = min(delay * 2, MAX_POLL_SECONDS)
        return Delivered(job_id)
