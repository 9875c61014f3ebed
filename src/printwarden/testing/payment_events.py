"""Signed payment notifications for the tests and the benchmarks, as the gateways send them:
Stripe events signed by the Stripe SDK's own helper, Standard Webhooks messages signed as
the simulator (:mod:`printwarden.sim.payment_gateway`) signs them. Header names are lower
case, as :meth:`printwarden.domain.payments.Gateway.verify` is given them."""

from __future__ import annotations

import json
from typing import Any

from printwarden.sim.payment_gateway import (
    standard_webhook_headers,
    stripe_signature_header,
)
from printwarden.sim.payment_gateway import stripe_event as _stripe_event


def stripe_event(
    type: str, obj: dict[str, Any], *, event_id: str | None = None, created: int | None = None
) -> bytes:
    """The JSON body of a Stripe event of ``type`` about ``obj`` (a random ``evt_`` id, and
    now, unless given)."""
    return _stripe_event(type, obj, event_id=event_id, created=created)


def stripe_headers(body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    """The ``stripe-signature`` header of ``body`` signed with ``secret`` at ``timestamp``
    (``stripe.WebhookSignature.generate_signature_header``)."""
    return {"stripe-signature": stripe_signature_header(body, secret, timestamp)}


def webhook_headers(body: bytes, secret: str, msg_id: str, timestamp: int) -> dict[str, str]:
    """The Standard Webhooks headers of ``body`` signed with ``secret`` (``whsec_<base64>``)."""
    return standard_webhook_headers(body, secret, msg_id, timestamp)


def checkout_session(
    payment_id: str,
    amount: int,
    currency: str = "eur",
    *,
    session_id: str = "cs_test_a1",
    intent_id: str = "pi_test_a1",
    payment_status: str = "paid",
) -> dict[str, Any]:
    """A completed Checkout Session of our payment ``payment_id``."""
    return {
        "id": session_id,
        "object": "checkout.session",
        "amount_total": amount,
        "client_reference_id": payment_id,
        "currency": currency,
        "metadata": {"payment_id": payment_id},
        "mode": "payment",
        "payment_intent": intent_id,
        "payment_status": payment_status,
        "status": "complete",
    }


def refunded_charge(
    payment_id: str, refunded: int, currency: str = "eur", *, intent_id: str = "pi_test_a1"
) -> dict[str, Any]:
    """A charge of our payment ``payment_id`` with ``refunded`` refunded so far."""
    return {
        "id": "ch_test_a1",
        "object": "charge",
        "amount_refunded": refunded,
        "currency": currency,
        "metadata": {"payment_id": payment_id},
        "payment_intent": intent_id,
        "refunded": True,
    }


def dispute(amount: int, currency: str = "eur", *, intent_id: str = "pi_test_a1") -> dict[str, Any]:
    """A dispute (chargeback) of ``amount`` of the charge of ``intent_id``."""
    return {
        "id": "dp_test_a1",
        "object": "dispute",
        "amount": amount,
        "charge": "ch_test_a1",
        "currency": currency,
        "metadata": {},
        "payment_intent": intent_id,
        "status": "needs_response",
    }


def campus_message(
    type: str, payment_id: str, amount: int, currency: str = "EUR", reference: str = "ref_a1"
) -> bytes:
    """The JSON body of a campus (Standard Webhooks) message of ``type``."""
    data = {"payment_id": payment_id, "reference": reference, "amount": amount}
    return json.dumps({"type": type, "data": {**data, "currency": currency}}).encode()
