"""Simulated payment gateways on loopback, for the demo and the tests: Stripe (the API call
that creates a Checkout Session, its hosted checkout page, and the signed webhook events
that follow) and a campus card system's pay page notifying with Standard Webhooks.

* ``POST /v1/checkout/sessions`` (form-encoded, ``Authorization: Bearer sk_…``, as the Stripe
  SDK sends it; an ``Idempotency-Key`` seen before gets the same session back) answers a
  Checkout Session whose ``url`` is this simulator's page ``/pay/{session}``.
* ``GET /pay/{session}`` shows the amount, a "Pay" button and a "Cancel" link; ``POST
  /pay/{session}`` marks it paid, sends ``checkout.session.completed`` (signed by the SDK's own
  :class:`stripe.WebhookSignature`) to the Stripe webhook URL, and redirects (303) to its
  ``success_url``.
* ``GET /campus/pay?payment_id=…&amount=…&currency=…&return_url=…&cancel_url=…`` is the
  campus pay page; ``POST /campus/pay`` sends a signed ``payment.succeeded`` to the campus
  webhook URL and redirects (303) to ``return_url``.
* :meth:`PaymentGatewaySimulator.refund` and :meth:`~PaymentGatewaySimulator.dispute` (and
  their ``campus_`` twins) send the events of a refund or a chargeback.

Webhooks are delivered before the redirect is answered, so a test following the redirect
finds the event delivered; every delivery is kept in ``deliveries``.

Run on its own: ``python -m printwarden.sim.payment_gateway --port N --stripe-webhook URL
--campus-webhook URL --secrets-dir DIR`` (the secrets are read from DIR, made if missing).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import html
import json
import logging
import re
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qsl

import httpx
import stripe

from printwarden.files import private_dir, write_private
from printwarden.sim.http import QuietHandler, Served, TrackedServer

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
SESSION_PATH = re.compile(r"^/v1/checkout/sessions/(cs_test_[A-Za-z0-9]+)$")
PAY_PATH = re.compile(r"^/pay/(cs_test_[A-Za-z0-9]+)$")
DELIVERY_TIMEOUT = 10.0
SESSION_LIFETIME = 24 * 3600
# The secret files of the command line, in --secrets-dir (file names, not secrets).
STRIPE_SECRET_KEY_FILE = "stripe-secret-key"  # noqa: S105
STRIPE_WEBHOOK_SECRET_FILE = "stripe-webhook-secret"  # noqa: S105
CAMPUS_SECRET_FILE = "campus-webhook-secret"  # noqa: S105


class RequestError(ValueError):
    """A request the simulated API refuses, answered as Stripe answers errors."""

    def __init__(self, status: int, message: str, param: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.param = param


def _token(prefix: str, length: int = 24) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def _show(amount: int, currency: str) -> str:
    whole, cents = divmod(amount, 100)
    return f"{whole}.{cents:02d} {currency.upper()}"


# --- signing, as the gateways do ----------------------------------------------------------


def stripe_event(
    event_type: str, obj: dict[str, Any], *, event_id: str | None = None,
    created: int | None = None,
) -> bytes:  # fmt: skip
    """A Stripe event's JSON body (a snapshot event of the API version the SDK speaks)."""
    event = {
        "id": event_id or _token("evt_test_"),
        "object": "event",
        "api_version": stripe.api_version,
        "created": int(time.time()) if created is None else created,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    return json.dumps(event).encode()


def stripe_signature_header(body: bytes, secret: str, timestamp: int) -> str:
    """``Stripe-Signature`` of ``body``, made by the SDK's own helper."""
    header: str = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp
    )
    return header


def standard_webhook_headers(
    body: bytes, secret: str, msg_id: str, timestamp: int
) -> dict[str, str]:
    """The Standard Webhooks headers of ``body``: HMAC-SHA256 with the key of the
    ``whsec_<base64>`` ``secret`` over ``"{msg_id}.{timestamp}.{body}"``."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.digest(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }


# --- the simulator's state ----------------------------------------------------------------


@dataclass
class Session:
    """A Checkout Session, and the PaymentIntent and Charge behind it."""

    id: str
    amount_total: int
    currency: str
    description: str
    client_reference_id: str | None
    metadata: dict[str, str]
    intent_metadata: dict[str, str]
    success_url: str
    cancel_url: str
    payment_intent: str = field(default_factory=lambda: _token("pi_test_"))
    charge: str = field(default_factory=lambda: _token("ch_test_"))
    created: int = field(default_factory=lambda: int(time.time()))
    payment_status: str = "unpaid"

    def to_json(self, base_url: str) -> dict[str, Any]:
        """The session as the API answers it."""
        paid = self.payment_status == "paid"
        return {
            "id": self.id,
            "object": "checkout.session",
            "amount_subtotal": self.amount_total,
            "amount_total": self.amount_total,
            "cancel_url": self.cancel_url,
            "client_reference_id": self.client_reference_id,
            "created": self.created,
            "currency": self.currency,
            "expires_at": self.created + SESSION_LIFETIME,
            "livemode": False,
            "metadata": self.metadata,
            "mode": "payment",
            "payment_intent": self.payment_intent,
            "payment_method_types": ["card"],
            "payment_status": self.payment_status,
            "status": "complete" if paid else "open",
            "success_url": self.success_url,
            "url": None if paid else f"{base_url}/pay/{self.id}",
        }

    def charge_json(self, refunded: int = 0) -> dict[str, Any]:
        """The Charge of the paid session (PaymentIntent metadata is copied to it)."""
        return {
            "id": self.charge,
            "object": "charge",
            "amount": self.amount_total,
            "amount_captured": self.amount_total,
            "amount_refunded": refunded,
            "currency": self.currency,
            "metadata": self.intent_metadata,
            "paid": True,
            "payment_intent": self.payment_intent,
            "refunded": refunded >= self.amount_total,
            "status": "succeeded",
        }


@dataclass
class CampusPayment:
    """A payment on the campus pay page."""

    payment_id: str
    amount: int
    currency: str
    return_url: str
    reference: str = field(default_factory=lambda: _token("ref_"))


@dataclass(frozen=True)
class Delivery:
    """One webhook sent: where, which event, the body, and the answer's status (0: none)."""

    url: str
    event_type: str
    body: bytes
    status: int


def _nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``line_items[0][price_data][currency]=eur``) as JSON."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        if not parts:
            continue
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise RequestError(400, f"conflicting parameter {key}", key)
        node[parts[-1]] = value
    found = _lists(root)
    if not isinstance(found, dict):
        raise RequestError(400, "the parameters are a list")
    return found


def _lists(node: Any) -> Any:
    """Dicts keyed 0, 1, … as lists, all the way down."""
    if not isinstance(node, dict):
        return node
    items = {key: _lists(value) for key, value in node.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


def _integer(value: Any, param: str) -> int:
    if not isinstance(value, str) or not value.isdigit() or len(value) > 12:
        raise RequestError(400, f"Invalid integer: {value}", param)
    return int(value)


def _strings(value: Any, param: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise RequestError(400, f"Invalid hash: {param}", param)
    return dict(value)


class PaymentGatewaySimulator(Served):
    """Both simulated gateways, served from a background thread at :attr:`url`.

    ``stripe_secret_key``, when given, is the one API key accepted (else any ``sk_…``);
    webhooks go to the URLs given, signed with their secrets (none sent without a URL)."""

    running_name = "payment-gateway"

    def __init__(
        self,
        stripe_webhook_url: str = "",
        stripe_webhook_secret: str = "",
        campus_webhook_url: str = "",
        campus_secret: str = "",
        *,
        stripe_secret_key: str = "",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.stripe_webhook_url = stripe_webhook_url
        self.stripe_webhook_secret = stripe_webhook_secret
        self.campus_webhook_url = campus_webhook_url
        self.campus_secret = campus_secret
        self.stripe_secret_key = stripe_secret_key
        self.host = host
        self.port = port
        self.sessions: dict[str, Session] = {}
        self.campus_payments: dict[str, CampusPayment] = {}
        self.deliveries: list[Delivery] = []
        self.lock = threading.Lock()
        self._idempotent: dict[str, str] = {}  # Idempotency-Key → session id

    @property
    def url(self) -> str:
        """The simulator's root, e.g. ``http://127.0.0.1:8080`` (Stripe's ``api_base``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def campus_pay_url(self) -> str:
        """The campus pay page (a webhook gateway's ``pay_url``)."""
        return f"{self.url}/campus/pay"

    def make_server(self) -> TrackedServer:
        return _Server((self.host, self.port), _Handler, self)

    # --- Stripe -----------------------------------------------------------------------------

    def check_api_key(self, authorization: str) -> None:
        """Refuse (401) a request without the API key, as Stripe does."""
        scheme, _, key = authorization.partition(" ")
        if scheme != "Bearer" or not key.startswith(("sk_", "rk_")):
            raise RequestError(401, "You did not provide a valid API key.")
        if self.stripe_secret_key and not hmac.compare_digest(
            key.encode(), self.stripe_secret_key.encode()
        ):
            raise RequestError(401, f"Invalid API Key provided: {key[:8]}****{key[-4:]}")

    def create_session(self, form: dict[str, Any], idempotency_key: str = "") -> Session:
        """A new Checkout Session from the API's parameters (one per idempotency key)."""
        with self.lock:
            known = self._idempotent.get(idempotency_key) if idempotency_key else None
            if known is not None:
                return self.sessions[known]
            session = _new_session(form)
            self.sessions[session.id] = session
            if idempotency_key:
                self._idempotent[idempotency_key] = session.id
        return session

    def pay(self, session_id: str) -> str:
        """Pay the session (once; its event is sent the first time); where the person goes."""
        with self.lock:
            session = self.sessions[session_id]
            first = session.payment_status != "paid"
            session.payment_status = "paid"
        if first:
            self.send_stripe("checkout.session.completed", session.to_json(self.url))
        return session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id)

    def refund(self, session_id: str, amount: int | None = None) -> int:
        """Refund a paid session (wholly, or ``amount``): ``charge.refunded``; the status the
        webhook receiver answered."""
        session = self._paid(session_id)
        refunded = session.amount_total if amount is None else amount
        return self.send_stripe("charge.refunded", session.charge_json(refunded))

    def dispute(self, session_id: str) -> int:
        """A chargeback of a paid session: ``charge.dispute.created``."""
        session = self._paid(session_id)
        dispute = {
            "id": _token("dp_test_"),
            "object": "dispute",
            "amount": session.amount_total,
            "charge": session.charge,
            "currency": session.currency,
            "metadata": {},
            "payment_intent": session.payment_intent,
            "reason": "fraudulent",
            "status": "needs_response",
        }
        return self.send_stripe("charge.dispute.created", dispute)

    def _paid(self, session_id: str) -> Session:
        session = self.sessions[session_id]
        if session.payment_status != "paid":
            raise ValueError(f"session {session_id} is not paid")
        return session

    def send_stripe(self, event_type: str, obj: dict[str, Any]) -> int:
        """Send a Stripe event to the Stripe webhook URL; the receiver's status (0: none)."""
        body = stripe_event(event_type, obj)
        if not self.stripe_webhook_url:
            return 0
        header = stripe_signature_header(body, self.stripe_webhook_secret, int(time.time()))
        return self._deliver(
            self.stripe_webhook_url, event_type, body, {"Stripe-Signature": header}
        )

    # --- the campus card system -------------------------------------------------------------

    def campus_pay(self, payment_id: str, amount: int, currency: str, return_url: str) -> str:
        """Pay on the campus page (once per payment id); where the person goes."""
        with self.lock:
            payment = self.campus_payments.get(payment_id)
            first = payment is None
            if payment is None:
                payment = CampusPayment(payment_id, amount, currency.upper(), return_url)
                self.campus_payments[payment_id] = payment
        if first:
            self.send_campus("payment.succeeded", payment, payment.amount)
        return payment.return_url

    def campus_refund(self, payment_id: str, amount: int | None = None) -> int:
        """Refund a campus payment (wholly, or ``amount``): ``payment.refunded``."""
        payment = self.campus_payments[payment_id]
        refunded = payment.amount if amount is None else amount
        return self.send_campus("payment.refunded", payment, refunded)

    def campus_dispute(self, payment_id: str) -> int:
        """A chargeback of a campus payment: ``payment.disputed``."""
        payment = self.campus_payments[payment_id]
        return self.send_campus("payment.disputed", payment, payment.amount)

    def send_campus(self, event_type: str, payment: CampusPayment, amount: int) -> int:
        """Send a Standard Webhooks message about ``payment``; the receiver's status."""
        if not self.campus_webhook_url:
            return 0
        message = {
            "type": event_type,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "data": {
                "payment_id": payment.payment_id,
                "reference": payment.reference,
                "amount": amount,
                "currency": payment.currency,
            },
        }
        body = json.dumps(message).encode()
        headers = standard_webhook_headers(
            body, self.campus_secret, _token("msg_"), int(time.time())
        )
        return self._deliver(self.campus_webhook_url, event_type, body, headers)

    def _deliver(self, url: str, event_type: str, body: bytes, headers: dict[str, str]) -> int:
        """POST one webhook; its answer's status (0 when it could not be sent)."""
        try:
            with httpx.Client(timeout=DELIVERY_TIMEOUT) as client:
                status = client.post(
                    url, content=body, headers={**headers, "Content-Type": "application/json"}
                ).status_code
        except httpx.HTTPError as exc:
            log.warning("webhook %s to %s not delivered: %s", event_type, url, exc)
            status = 0
        with self.lock:
            self.deliveries.append(Delivery(url, event_type, body, status))
        return status


def _new_session(form: dict[str, Any]) -> Session:
    """A session from the parameters of ``POST /v1/checkout/sessions`` (one price_data line)."""
    if form.get("mode") != "payment":
        raise RequestError(400, "This simulator only supports mode=payment.", "mode")
    lines = form.get("line_items")
    if not isinstance(lines, list) or len(lines) != 1 or not isinstance(lines[0], dict):
        raise RequestError(400, "Exactly one line item is supported.", "line_items")
    price = lines[0].get("price_data")
    if not isinstance(price, dict) or not isinstance(price.get("product_data"), dict):
        raise RequestError(400, "Missing required param: price_data.", "line_items[0]")
    currency = price.get("currency")
    if not isinstance(currency, str) or not re.fullmatch(r"[a-z]{3}", currency):
        raise RequestError(400, "Invalid currency.", "line_items[0][price_data][currency]")
    unit = _integer(price.get("unit_amount"), "line_items[0][price_data][unit_amount]")
    quantity = _integer(lines[0].get("quantity", "1"), "line_items[0][quantity]")
    success_url, cancel_url = form.get("success_url"), form.get("cancel_url", "")
    if not isinstance(success_url, str) or not success_url.startswith(("http://", "https://")):
        raise RequestError(400, "Not a valid URL", "success_url")
    intent = form.get("payment_intent_data") or {}
    return Session(
        id=_token("cs_test_", 58),
        amount_total=unit * quantity,
        currency=currency,
        description=str(price["product_data"].get("name", "")),
        client_reference_id=form.get("client_reference_id"),
        metadata=_strings(form.get("metadata"), "metadata"),
        intent_metadata=_strings(intent.get("metadata"), "payment_intent_data[metadata]"),
        success_url=success_url,
        cancel_url=str(cancel_url),
    )


# --- pages --------------------------------------------------------------------------------


def _page(title: str, body: str) -> bytes:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>{body}</body></html>"
    ).encode()


def checkout_page(session: Session) -> bytes:
    """Stripe's hosted checkout page, reduced to a Pay button and a Cancel link."""
    if session.payment_status == "paid":
        link = html.escape(session.success_url.replace("{CHECKOUT_SESSION_ID}", session.id))
        return _page("Paid", f"<h1>Paid</h1><p><a href='{link}'>Back</a></p>")
    body = (
        f"<h1>Pay {html.escape(_show(session.amount_total, session.currency))}</h1>"
        f"<p>{html.escape(session.description)}</p>"
        f"<form method='post' action='/pay/{session.id}'>"
        "<button type='submit' id='pay'>Pay</button></form>"
        f"<p><a id='cancel' href='{html.escape(session.cancel_url)}'>Cancel</a></p>"
    )
    return _page("Checkout (simulated Stripe)", body)


def campus_page(fields: dict[str, str]) -> bytes:
    """The campus card system's pay page for the payment in ``fields``."""
    amount = _integer(fields.get("amount"), "amount")
    hidden = "".join(
        f"<input type='hidden' name='{name}' value='{html.escape(fields.get(name, ''))}'>"
        for name in ("payment_id", "amount", "currency", "return_url", "cancel_url")
    )
    body = (
        f"<h1>Pay {html.escape(_show(amount, fields.get('currency', '')))}</h1>"
        f"<form method='post' action='/campus/pay'>{hidden}"
        "<button type='submit' id='pay'>Pay</button></form>"
        f"<p><a id='cancel' href='{html.escape(fields.get('cancel_url', ''))}'>Cancel</a></p>"
    )
    return _page("Campus card (simulated)", body)


def _campus_fields(fields: dict[str, str]) -> tuple[str, int, str, str]:
    """payment_id, amount, currency and return_url of a campus payment."""
    payment_id, currency = fields.get("payment_id", ""), fields.get("currency", "")
    return_url = fields.get("return_url", "")
    if not payment_id or not re.fullmatch(r"[A-Za-z]{3}", currency):
        raise RequestError(400, "payment_id and currency are required")
    if not return_url.startswith(("http://", "https://")):
        raise RequestError(400, "return_url is not an http(s) URL")
    return payment_id, _integer(fields.get("amount"), "amount"), currency, return_url


# --- HTTP ---------------------------------------------------------------------------------


class _Server(TrackedServer):
    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], sim: PaymentGatewaySimulator
    ) -> None:
        self.sim = sim
        super().__init__(address, handler)


class _Handler(QuietHandler):
    """The simulated API and pages."""

    server_version = "printwarden-payment-sim/1"
    default_media_type = "application/json"
    server: _Server

    def _json(self, status: int, found: dict[str, Any]) -> None:
        self._send(status, json.dumps(found).encode(), headers={"Request-Id": _token("req_")})

    def _html(self, body: bytes) -> None:
        self._send(200, body, "text/html; charset=utf-8")

    def _redirect(self, location: str) -> None:
        self._send(303, headers={"Location": location})

    def _form(self) -> dict[str, str]:
        """The form-encoded body (raises :class:`RequestError`)."""
        length = self.headers.get("Content-Length", "0")
        if not length.isdigit() or int(length) > MAX_BODY:
            self.close_connection = True
            raise RequestError(413, "The request body is too large or has no length.")
        text = self.rfile.read(int(length)).decode("utf-8", "replace")
        return dict(parse_qsl(text, keep_blank_values=True))

    def _query(self) -> dict[str, str]:
        return dict(parse_qsl(self.path.partition("?")[2], keep_blank_values=True))

    def _refuse(self, exc: RequestError, page: bool) -> None:
        if page:
            self._send(exc.status, _page("Error", html.escape(str(exc))), "text/html")
            return
        error = {"type": "invalid_request_error", "message": str(exc)}
        if exc.param:
            error["param"] = exc.param
        self._json(exc.status, {"error": error})

    def do_GET(self) -> None:
        sim, path = self.server.sim, self.path.partition("?")[0]
        try:
            if match := PAY_PATH.match(path):
                self._html(checkout_page(self._session(match[1])))
            elif match := SESSION_PATH.match(path):
                sim.check_api_key(self.headers.get("Authorization", ""))
                self._json(200, self._session(match[1]).to_json(sim.url))
            elif path == "/campus/pay":
                _campus_fields(self._query())
                self._html(campus_page(self._query()))
            else:
                self._send(404)
        except RequestError as exc:
            self._refuse(exc, not path.startswith("/v1/"))

    def do_POST(self) -> None:
        sim, path = self.server.sim, self.path.partition("?")[0]
        try:
            form = self._form()
            if path == "/v1/checkout/sessions":
                sim.check_api_key(self.headers.get("Authorization", ""))
                key = self.headers.get("Idempotency-Key", "")
                session = sim.create_session(_nested(list(form.items())), key)
                self._json(200, session.to_json(sim.url))
            elif match := PAY_PATH.match(path):
                self._redirect(sim.pay(self._session(match[1]).id))
            elif path == "/campus/pay":
                self._redirect(sim.campus_pay(*_campus_fields({**self._query(), **form})))
            else:
                self._send(404)
        except RequestError as exc:
            self._refuse(exc, not path.startswith("/v1/"))

    def _session(self, session_id: str) -> Session:
        session = self.server.sim.sessions.get(session_id)
        if session is None:
            raise RequestError(404, f"No such checkout.session: '{session_id}'", "id")
        return session


# --- command line -------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatorSecrets:
    """The secrets of the simulator and the gateways configured against it."""

    stripe_secret_key: str
    stripe_webhook_secret: str
    campus_secret: str


def simulator_secrets(directory: Path) -> SimulatorSecrets:
    """The secrets kept in ``directory`` (files ``stripe-secret-key``,
    ``stripe-webhook-secret`` and ``campus-webhook-secret``), each made (0600) if missing."""
    private_dir(directory)
    makers: dict[str, Callable[[], str]] = {
        STRIPE_SECRET_KEY_FILE: lambda: _token("sk_test_", 32),
        STRIPE_WEBHOOK_SECRET_FILE: lambda: _token("whsec_", 32),
        CAMPUS_SECRET_FILE: lambda: "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    found = {}
    for name, make in makers.items():
        path = directory / name
        if not path.exists():
            write_private(path, make() + "\n")
        found[name] = path.read_text().strip()
    return SimulatorSecrets(
        found[STRIPE_SECRET_KEY_FILE], found[STRIPE_WEBHOOK_SECRET_FILE], found[CAMPUS_SECRET_FILE]
    )


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until SIGTERM or SIGINT; print ``listening URL`` once ready."""
    parser = argparse.ArgumentParser(
        prog="python -m printwarden.sim.payment_gateway",
        description="Simulated Stripe Checkout and campus card pay pages on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port")
    parser.add_argument("--stripe-webhook", default="", metavar="URL", help="Stripe events go here")
    parser.add_argument("--campus-webhook", default="", metavar="URL", help="campus events go here")
    parser.add_argument(
        "--secrets-dir", type=Path, required=True, metavar="DIR",
        help=f"holds {STRIPE_SECRET_KEY_FILE}, {STRIPE_WEBHOOK_SECRET_FILE} and "
        f"{CAMPUS_SECRET_FILE} (made if missing)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(format="%(asctime)s %(message)s", stream=sys.stderr)
    found = simulator_secrets(args.secrets_dir)
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)
    simulator = PaymentGatewaySimulator(
        args.stripe_webhook, found.stripe_webhook_secret, args.campus_webhook,
        found.campus_secret, stripe_secret_key=found.stripe_secret_key,
        host=args.host, port=args.port,
    )  # fmt: skip
    with simulator:
        print(f"listening {simulator.url}", flush=True)
        while not stopping.wait(0.2):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
