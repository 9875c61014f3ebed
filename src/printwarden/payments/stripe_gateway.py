"""Stripe Checkout as a payment gateway: a Checkout Session per payment, and Stripe's signed
webhook events read into :class:`~printwarden.domain.payments.Notification`.

The SDK talks to Stripe through :class:`_HttpxClient`, a fresh ``httpx.Client`` per request:
the SDK's bundled clients (``requests``, and an ``httpx.AsyncClient`` made for the async
methods) keep sockets open for the life of the process, which warns when they are collected.
Payments start seldom, so one connection each costs nothing worth keeping a pool for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import stripe
from stripe.params.checkout import SessionCreateParams

from printwarden.domain.payments import (
    BadNotification,
    GatewayUnavailable,
    Notification,
    NotificationKind,
    PaymentStart,
    Started,
    amount_field,
    check_timestamp,
    currency_field,
    json_object,
    object_field,
    text_field,
    unix_time,
)

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "stripe-signature"
DEFAULT_DESCRIPTION = "Print credit"
UNREACHABLE = "The payment service cannot be reached at the moment. Please try again later."
REFUSED = "The payment service could not start the payment. Please try again later."

# The fields of a notification an event type sets: kind, payment_id, payment_ref, intent_ref,
# amount and currency.
_Fields = tuple[NotificationKind, str, str, str, int, str]


class _HttpxClient(stripe.HTTPClient):
    """The SDK's transport over a short-lived ``httpx.Client`` (sync only)."""

    name = "printwarden-httpx"

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        try:
            with httpx.Client(timeout=self._timeout) as client:
                response = client.request(
                    method.upper(), url, headers=dict(headers or {}), content=post_data
                )
        except httpx.HTTPError as exc:
            raise stripe.APIConnectionError(  # type: ignore[no-untyped-call]  # the SDK's own
                f"could not reach Stripe ({type(exc).__name__})", should_retry=True
            ) from exc
        return response.content.decode("utf-8", "replace"), response.status_code, response.headers

    def close(self) -> None:
        """Nothing to close: no connection outlives its request."""


class StripeGateway:
    """Stripe Checkout. ``secret_key`` is the API key (sk_…), ``webhook_secret`` the
    endpoint's signing secret (whsec_…); ``api_base`` points the SDK elsewhere (the
    simulator, :mod:`printwarden.sim.payment_gateway`)."""

    def __init__(
        self,
        name: str,
        secret_key: str,
        webhook_secret: str,
        api_base: str | None = None,
        http_timeout: float = 10.0,
    ) -> None:
        if not secret_key.startswith(("sk_", "rk_")):
            raise ValueError(f"the Stripe gateway {name}'s secret key is not an sk_… or rk_… key")
        if not webhook_secret.startswith("whsec_"):
            raise ValueError(f"the Stripe gateway {name}'s webhook secret is not a whsec_… one")
        self.name = name
        self._webhook_secret = webhook_secret
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=_HttpxClient(http_timeout),
            max_network_retries=1,  # safe: every start has an idempotency key
        )

    def __repr__(self) -> str:
        return f"StripeGateway({self.name!r})"  # no secrets

    # --- starting a payment ---------------------------------------------------------------

    def start(self, request: PaymentStart) -> Started:
        """Create a Checkout Session for ``request`` (once per payment id: a retry gets the
        same session back) and send the person to its page."""
        params = session_params(request)
        options: stripe.RequestOptions = {"idempotency_key": f"printwarden-{request.payment_id}"}
        try:
            session = self._client.v1.checkout.sessions.create(params, options)
        except stripe.APIConnectionError as exc:
            log.warning("Stripe unreachable for payment %s: %s", request.payment_id, exc)
            raise GatewayUnavailable(UNREACHABLE) from None
        except stripe.StripeError as exc:
            log.warning("Stripe refused payment %s: %r", request.payment_id, exc)
            raise GatewayUnavailable(REFUSED) from None
        if not session.url or not session.id:
            log.warning("Stripe's session for payment %s has no URL", request.payment_id)
            raise GatewayUnavailable(REFUSED)
        return Started(redirect_url=session.url, payment_ref=session.id)

    # --- reading notifications ------------------------------------------------------------

    def verify(self, headers: Mapping[str, str], body: bytes, now: float) -> Notification:
        """The event in ``body``, signed with the webhook secret in ``Stripe-Signature``
        (the SDK checks the HMAC in constant time), no more than 300 s away from ``now``."""
        header = headers.get(SIGNATURE_HEADER, "")
        if not header:
            raise BadNotification("the Stripe-Signature header is missing")
        timestamp = signed_at(header)
        try:
            stripe.WebhookSignature.verify_header(body, header, self._webhook_secret, None)
        except UnicodeDecodeError:
            raise BadNotification("the body is not UTF-8") from None
        except stripe.SignatureVerificationError:
            raise BadNotification("the signature does not match") from None
        check_timestamp(timestamp, now)
        return read_event(self.name, json_object(body))


def session_params(request: PaymentStart) -> SessionCreateParams:
    """The Checkout Session of ``request``: one line of ``request.amount`` (credit and fee),
    our payment id as ``client_reference_id`` and in the metadata of the session and of its
    PaymentIntent (whose refunds and disputes then carry it)."""
    ours = {"payment_id": request.payment_id}
    return {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": request.currency.lower(),
                    "unit_amount": request.amount,
                    "product_data": {"name": request.description or DEFAULT_DESCRIPTION},
                },
            }
        ],
        "client_reference_id": request.payment_id,
        "metadata": ours,
        "payment_intent_data": {"metadata": ours},
        "success_url": request.return_url,
        "cancel_url": request.cancel_url,
    }


def signed_at(header: str) -> int:
    """The timestamp ``t`` of a ``Stripe-Signature`` header: the first item named exactly
    ``t``, as the SDK finds the one it verifies (a different reading would let a stale
    event's signature pass under a fresh ``t``)."""
    for item in header.split(","):
        key, _, value = item.partition("=")
        if key == "t":
            if not value.isascii() or not value.isdigit() or len(value) > 12:
                raise BadNotification("the Stripe-Signature header's timestamp is malformed")
            return int(value)
    raise BadNotification("the Stripe-Signature header has no timestamp")


# --- events -------------------------------------------------------------------------------


def read_event(gateway: str, event: Mapping[str, Any]) -> Notification:
    """The notification of a (verified) Stripe event."""
    event_type = text_field(event, "type")
    reader = EVENT_READERS.get(event_type)
    fields: _Fields = (NotificationKind.IGNORE, "", "", "", 0, "")
    if reader is not None:
        fields = reader(object_field(object_field(event, "data"), "object"))
    kind, payment_id, payment_ref, intent_ref, amount, currency = fields
    return Notification(
        gateway=gateway,
        event_id=text_field(event, "id"),
        event_type=event_type,
        kind=kind,
        payment_id=payment_id,
        payment_ref=payment_ref,
        intent_ref=intent_ref,
        amount=amount,
        currency=currency,
        created=unix_time(event.get("created"), "created"),
    )


def _intent(found: Mapping[str, Any]) -> str:
    """The PaymentIntent's id: a string, null, or the expanded object."""
    value = found.get("payment_intent")
    if isinstance(value, Mapping):
        return text_field(value, "id")
    return text_field(found, "payment_intent", required=False)


def _ours(found: Mapping[str, Any]) -> str:
    """Our payment id in an object's metadata, or ""."""
    metadata = found.get("metadata")
    if metadata is None:
        return ""
    if not isinstance(metadata, Mapping):
        raise BadNotification("metadata is not an object")
    return text_field(metadata, "payment_id", required=False)


def _session_paid(session: Mapping[str, Any]) -> _Fields:
    """A Checkout Session whose payment succeeded."""
    payment_id = text_field(session, "client_reference_id", required=False) or _ours(session)
    amount = amount_field(session, "amount_total")
    currency = currency_field(session, "currency")
    payment_ref, intent_ref = text_field(session, "id"), _intent(session)
    return NotificationKind.CREDIT, payment_id, payment_ref, intent_ref, amount, currency


def _session_completed(session: Mapping[str, Any]) -> _Fields:
    """Paid now (a card), or not yet (a bank debit: ``async_payment_succeeded`` follows)."""
    if text_field(session, "payment_status") == "paid":
        return _session_paid(session)
    payment_id = text_field(session, "client_reference_id", required=False) or _ours(session)
    payment_ref, intent_ref = text_field(session, "id"), _intent(session)
    return NotificationKind.IGNORE, payment_id, payment_ref, intent_ref, 0, ""


def _charge_refunded(charge: Mapping[str, Any]) -> _Fields:
    """A charge refunded, wholly or partly: ``amount_refunded`` is the total refunded so far."""
    amount = amount_field(charge, "amount_refunded")
    currency = currency_field(charge, "currency")
    return NotificationKind.REVERSE, _ours(charge), "", _intent(charge), amount, currency


def _dispute_created(dispute: Mapping[str, Any]) -> _Fields:
    """A chargeback opened: the disputed amount is gone until it is won."""
    amount = amount_field(dispute, "amount")
    currency = currency_field(dispute, "currency")
    return NotificationKind.REVERSE, _ours(dispute), "", _intent(dispute), amount, currency


EVENT_READERS: dict[str, Callable[[Mapping[str, Any]], _Fields]] = {
    "checkout.session.completed": _session_completed,
    "checkout.session.async_payment_succeeded": _session_paid,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute_created,
}
