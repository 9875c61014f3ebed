"""The payment gateways against the simulated ones (printwarden.sim.payment_gateway), all on
127.0.0.1: a payment started through the gateway (the Stripe SDK calling the simulated API),
paid on the simulated page, and the signed webhook it sends verified by the same gateway
in a tiny receiver; refunds and disputes likewise; and the simulator's command line."""

from __future__ import annotations

import base64
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from printwarden.domain.payments import (
    BadNotification,
    Gateway,
    GatewayUnavailable,
    Notification,
    NotificationKind,
    PaymentStart,
)
from printwarden.payments.stripe_gateway import StripeGateway
from printwarden.payments.webhook_gateway import WebhookGateway
from printwarden.sim.payment_gateway import PaymentGatewaySimulator
from printwarden.sim.ports import free_port

STRIPE_KEY = "sk_test_simulatorKey0123456789"
STRIPE_SECRET = "whsec_simulatorSigningSecret0123"
CAMPUS_SECRET = "whsec_" + base64.b64encode(b"the campus simulator's key").decode()
PAYMENT = "pay_BBBBBBBBBBBBBBBBBBBBBBBB"
TIMEOUT = 30


@dataclass
class Receiver:
    """``POST /api/v1/payments/{gateway}/notify`` answered as the server would: 200 when the
    gateway verifies the notification, 400 when it refuses it."""

    gateways: dict[str, Gateway] = field(default_factory=dict)
    notifications: list[Notification] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    port: int = 0

    def url(self, gateway: str) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/payments/{gateway}/notify"

    def receive(self, path: str, headers: dict[str, str], body: bytes) -> int:
        name = path.removeprefix("/api/v1/payments/").removesuffix("/notify")
        gateway = self.gateways.get(name)
        if gateway is None:
            return 404
        try:
            self.notifications.append(gateway.verify(headers, body, time.time()))
        except BadNotification as exc:
            self.refusals.append(str(exc))
            return 400
        return 200


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: _ReceiverServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.send_response(self.server.receiver.receive(self.path, headers, body))
        self.send_header("Content-Length", "0")
        self.end_headers()


class _ReceiverServer(ThreadingHTTPServer):
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    server = _ReceiverServer(found)
    found.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
        thread.join(TIMEOUT)


@pytest.fixture
def sim(receiver: Receiver) -> Iterator[PaymentGatewaySimulator]:
    simulator = PaymentGatewaySimulator(
        stripe_webhook_url=receiver.url("card"),
        stripe_webhook_secret=STRIPE_SECRET,
        campus_webhook_url=receiver.url("campus"),
        campus_secret=CAMPUS_SECRET,
        stripe_secret_key=STRIPE_KEY,
    )
    with simulator:
        receiver.gateways["card"] = StripeGateway("card", STRIPE_KEY, STRIPE_SECRET, simulator.url)
        receiver.gateways["campus"] = WebhookGateway(
            "campus", simulator.campus_pay_url, CAMPUS_SECRET
        )
        yield simulator


def _start(payment_id: str = PAYMENT, amount: int = 1_025) -> PaymentStart:
    return PaymentStart(
        payment_id=payment_id,
        amount=amount,
        currency="EUR",
        username="alice",
        description="Print credit for alice",
        return_url=f"https://print.example/pay/{payment_id}/done",
        cancel_url=f"https://print.example/pay/{payment_id}/cancelled",
    )


def _last(receiver: Receiver, kind: NotificationKind) -> Notification:
    assert not receiver.refusals, receiver.refusals
    found = receiver.notifications[-1]
    assert found.kind is kind, found
    return found


def test_a_stripe_payment_from_start_to_credit_refund_and_dispute(
    sim: PaymentGatewaySimulator, receiver: Receiver
) -> None:
    gateway = receiver.gateways["card"]
    started = gateway.start(_start())
    assert started.payment_ref.startswith("cs_test_")
    assert started.redirect_url == f"{sim.url}/pay/{started.payment_ref}"
    session = sim.sessions[started.payment_ref]
    assert (session.amount_total, session.currency, session.description) == (
        1_025, "eur", "Print credit for alice",
    )  # fmt: skip
    assert session.client_reference_id == PAYMENT
    assert session.metadata == session.intent_metadata == {"payment_id": PAYMENT}

    with httpx.Client(timeout=TIMEOUT) as browser:
        page = browser.get(started.redirect_url)
        assert page.status_code == 200
        assert ">Pay</button>" in page.text
        assert "10.25 EUR" in page.text
        assert f"href='https://print.example/pay/{PAYMENT}/cancelled'>Cancel" in page.text
        paid = browser.post(started.redirect_url)
        assert paid.status_code == 303
        assert paid.headers["Location"] == f"https://print.example/pay/{PAYMENT}/done"

        credit = _last(receiver, NotificationKind.CREDIT)
        assert (credit.gateway, credit.event_type) == ("card", "checkout.session.completed")
        assert (credit.payment_id, credit.payment_ref) == (PAYMENT, started.payment_ref)
        assert (credit.amount, credit.currency) == (1_025, "EUR")
        assert credit.intent_ref == session.payment_intent
        assert credit.event_id.startswith("evt_")

        assert browser.post(started.redirect_url).status_code == 303  # paid once: no new event
        assert len(receiver.notifications) == 1

    assert sim.refund(started.payment_ref) == 200
    refund = _last(receiver, NotificationKind.REVERSE)
    assert (refund.event_type, refund.payment_id) == ("charge.refunded", PAYMENT)
    assert (refund.intent_ref, refund.amount) == (credit.intent_ref, 1_025)

    assert sim.dispute(started.payment_ref) == 200
    disputed = _last(receiver, NotificationKind.REVERSE)
    assert disputed.event_type == "charge.dispute.created"
    assert (disputed.intent_ref, disputed.amount) == (credit.intent_ref, 1_025)
    assert [d.status for d in sim.deliveries] == [200, 200, 200]


def test_a_stripe_start_again_gets_the_same_session(
    sim: PaymentGatewaySimulator, receiver: Receiver
) -> None:
    gateway = receiver.gateways["card"]
    first, again = gateway.start(_start()), gateway.start(_start())
    other = gateway.start(_start("pay_CCCCCCCCCCCCCCCCCCCCCCCC"))
    assert first == again != other
    assert len(sim.sessions) == 2


def test_an_unpaid_session_cannot_be_refunded(
    sim: PaymentGatewaySimulator, receiver: Receiver
) -> None:
    started = receiver.gateways["card"].start(_start())
    with pytest.raises(ValueError, match="not paid"):
        sim.refund(started.payment_ref)


def test_stripe_refusing_or_unreachable_is_gateway_unavailable(
    sim: PaymentGatewaySimulator,
) -> None:
    wrong_key = StripeGateway("card", "sk_test_wrong", STRIPE_SECRET, sim.url)
    with pytest.raises(GatewayUnavailable, match="could not start the payment") as refused:
        wrong_key.start(_start())
    assert "sk_test_wrong" not in str(refused.value)
    nobody = StripeGateway("card", STRIPE_KEY, STRIPE_SECRET, f"http://127.0.0.1:{free_port()}")
    began = time.monotonic()
    with pytest.raises(GatewayUnavailable, match="cannot be reached"):
        nobody.start(_start())
    assert time.monotonic() - began < 10  # one retry, after a short pause


def test_an_event_signed_with_another_secret_is_refused(
    sim: PaymentGatewaySimulator, receiver: Receiver
) -> None:
    started = receiver.gateways["card"].start(_start())
    sim.stripe_webhook_secret = "whsec_someone_else"
    with httpx.Client(timeout=TIMEOUT) as browser:
        assert browser.post(started.redirect_url).status_code == 303
    assert receiver.notifications == []
    assert receiver.refusals == ["the signature does not match"]
    assert [d.status for d in sim.deliveries] == [400]


def test_a_campus_payment_from_start_to_credit_refund_and_dispute(
    sim: PaymentGatewaySimulator, receiver: Receiver
) -> None:
    started = receiver.gateways["campus"].start(_start(amount=2_000))
    assert started.redirect_url.startswith(f"{sim.campus_pay_url}?payment_id={PAYMENT}&")
    with httpx.Client(timeout=TIMEOUT) as browser:
        page = browser.get(started.redirect_url)
        assert page.status_code == 200
        assert ">Pay</button>" in page.text
        assert "20.00 EUR" in page.text
        form = {
            "payment_id": PAYMENT,
            "amount": "2000",
            "currency": "EUR",
            "return_url": f"https://print.example/pay/{PAYMENT}/done",
            "cancel_url": f"https://print.example/pay/{PAYMENT}/cancelled",
        }
        assert all(f"name='{name}' value='{value}'" in page.text for name, value in form.items())
        paid = browser.post(sim.campus_pay_url, data=form)
        assert paid.status_code == 303
        assert paid.headers["Location"] == form["return_url"]
        assert browser.get(f"{sim.campus_pay_url}?payment_id=x").status_code == 400

    credit = _last(receiver, NotificationKind.CREDIT)
    reference = sim.campus_payments[PAYMENT].reference
    assert (credit.gateway, credit.event_type, credit.payment_id) == (
        "campus", "payment.succeeded", PAYMENT,
    )  # fmt: skip
    assert (credit.payment_ref, credit.amount, credit.currency) == (reference, 2_000, "EUR")
    assert credit.event_id.startswith("msg_")

    assert sim.campus_refund(PAYMENT, 500) == 200
    refund = _last(receiver, NotificationKind.REVERSE)
    assert (refund.event_type, refund.payment_ref, refund.amount) == (
        "payment.refunded", reference, 500,
    )  # fmt: skip
    assert sim.campus_dispute(PAYMENT) == 200
    assert _last(receiver, NotificationKind.REVERSE).event_type == "payment.disputed"


def test_the_command_line_makes_its_secrets_and_serves(tmp_path: Path) -> None:
    secrets_dir = tmp_path / "secrets"
    command = [sys.executable, "-m", "printwarden.sim.payment_gateway", "--port", "0"]
    command += ["--secrets-dir", str(secrets_dir)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            assert line.startswith("listening http://127.0.0.1:"), line
            url = line.removeprefix("listening ")
            key = (secrets_dir / "stripe-secret-key").read_text().strip()
            webhook = (secrets_dir / "stripe-webhook-secret").read_text().strip()
            gateway = StripeGateway("card", key, webhook, url)
            assert gateway.start(_start()).redirect_url.startswith(f"{url}/pay/cs_test_")
            campus = (secrets_dir / "campus-webhook-secret").read_text().strip()
            WebhookGateway("campus", f"{url}/campus/pay", campus)  # a usable secret
        finally:
            process.send_signal(signal.SIGTERM)
            assert process.wait(TIMEOUT) == 0
    assert stat.S_IMODE(os.stat(secrets_dir).st_mode) == 0o700
    for path in secrets_dir.iterdir():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
