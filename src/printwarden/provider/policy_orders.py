"""What the server's job policy ordered, kept with the job in the spool.

The decision may convert the document (greyscale, duplex, N-up, fit to paper), set the cost
(a print script) or the account to charge. The orders travel in the job's attributes under
one private key, so they survive a restart and reach the charge report.
"""

from __future__ import annotations

from typing import Any

from printwarden.analysis.conversions import ConversionOrder
from printwarden.provider.desk import TO_GREY_PDF
from printwarden.provider.service_client import Answer

POLICY = "printwarden-policy"


def policy_orders(answer: Answer) -> dict[str, Any]:
    """The job attributes to add for ``answer`` (none when the policy ordered nothing)."""
    orders: dict[str, Any] = {}
    identity = {"grayscale": False, "duplex": False, "nup": 1, "fit_to": ""}
    conversion = {k: v for k, v in answer.conversion.items() if k in identity and v != identity[k]}
    if conversion:
        orders["conversion"] = conversion
    if answer.cost_override is not None:
        orders["cost_override"] = answer.cost_override
    if answer.charge_account_id is not None:
        orders["account_id"] = answer.charge_account_id
    if answer.approval:
        orders["approver_group"] = answer.approver_group
    return {POLICY: orders} if orders else {}


def approval_report(attributes: dict[str, Any]) -> dict[str, Any]:
    """The held-job report fields of a job a filter holds for approval."""
    orders = attributes.get(POLICY) or {}
    if "approver_group" not in orders:
        return {}
    return {"approval": "pending", "approver_group": str(orders["approver_group"])[:128]}


def decided_by_policy(attributes: dict[str, Any]) -> dict[str, Any]:
    """What the charge report must carry: the script's cost and account."""
    orders = attributes.get(POLICY) or {}
    return {k: orders[k] for k in ("cost_override", "account_id") if orders.get(k) is not None}


def conversion_of(attributes: dict[str, Any], release_order: str = "") -> ConversionOrder:
    """The conversion to apply before printing: the policy's, plus a release's greyscale."""
    ordered = dict((attributes.get(POLICY) or {}).get("conversion") or {})
    try:
        conversion = ConversionOrder(
            grayscale=bool(ordered.get("grayscale")) or release_order == TO_GREY_PDF,
            duplex=bool(ordered.get("duplex")),
            nup=int(ordered.get("nup") or 1),
            fit_to=str(ordered.get("fit_to") or ""),
        )
    except ValueError:
        conversion = ConversionOrder(grayscale=release_order == TO_GREY_PDF)
    return conversion
