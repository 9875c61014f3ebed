"""The JSON a call hands the driver, and the outcome read back from the driver's JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from printwarden.scripting.model import ScriptJob, ScriptOutcome, ScriptUser

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(now: datetime) -> int:
    """Milliseconds since the epoch; a naive ``now`` is taken as UTC."""
    aware = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    return (aware - _EPOCH) // timedelta(milliseconds=1)


def job_inputs(job: ScriptJob) -> dict[str, Any]:
    """``inputs.job``: page counts are totals over all copies."""
    return {
        "totalPages": job.pages * job.copies,
        "totalColorPages": job.colour_pages * job.copies,
        "totalGrayscalePages": (job.pages - job.colour_pages) * job.copies,
        "copies": job.copies,
        "cost": job.cost,
        "documentName": job.document_name,
        "sizeBytes": job.size,
        "isDuplex": job.duplex,
        "isGrayscale": job.grayscale,
        "paperSizeName": job.paper_size,
        "printerName": job.printer,
        "isHeld": job.is_held,
        "username": job.username,
        "account": job.account,
    }


def user_inputs(user: ScriptUser) -> dict[str, Any]:
    """``inputs.user`` without its method (the driver adds ``isInGroup``)."""
    return {
        "username": user.username,
        "groups": list(user.groups),
        "balance": user.balance,
        "restricted": user.restricted,
    }


def encode(job: ScriptJob, user: ScriptUser, now: datetime, props: dict[str, str | None]) -> str:
    """The payload of one call; ``props`` are the store's values loaded so far."""
    data = {"job": job_inputs(job), "user": user_inputs(user), "now": epoch_ms(now)}
    return json.dumps({**data, "props": props}, separators=(",", ":"))


CHECK_PAYLOAD = '{"check":true}'


def readable(error: str) -> str:
    """The driver's error text, with V8's stack overflow named plainly."""
    overflow = "RangeError: Maximum call stack size exceeded"
    if error.startswith(overflow):
        return "stack overflow (recursion too deep)" + error[len(overflow) :]
    return error


def outcome(result: dict[str, Any], error: str = "") -> ScriptOutcome:
    """The outcome of a finished call; with an ``error`` only the logs are kept."""
    logs = tuple((str(level), str(message)) for level, message in result.get("logs", ()))
    error = error or str(result.get("error") or "")
    if error:
        return ScriptOutcome(logs=logs, error=error)
    cost = result.get("cost")
    return ScriptOutcome(
        cancel=bool(result["cancel"]),
        cancel_message=str(result["cancelMessage"]),
        cost=cost if isinstance(cost, int) and not isinstance(cost, bool) else None,
        grayscale=bool(result["grayscale"]),
        duplex=bool(result["duplex"]),
        charge_account=str(result["chargeAccount"]),
        hold=bool(result["hold"]),
        comment=str(result["comment"]),
        logs=logs,
    )
