"""The payment gateways' notifications (Stripe and Standard Webhooks): what verifies, what
each event means, and what is refused (and that no refusal shows a secret); their start
and their configuration."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from pydantic import ValidationError

from printwarden.domain.payments import (
    BadNotification,
    Gateway,
    Notification,
    NotificationKind,
    PaymentRules,
    PaymentStart,
)
from printwarden.payments.config import (
    GatewayConfig,
    PaymentsConfig,
    SecretFileError,
    build_gateways,
    read_secret,
    rules,
)
from printwarden.payments.stripe_gateway import StripeGateway, session_params
from printwarden.payments.webhook_gateway import WebhookGateway, signature
from printwarden.testing.payment_events import (
    campus_message,
    checkout_session,
    dispute,
    refunded_charge,
    stripe_event,
    stripe_headers,
    webhook_headers,
)

NOW = 1_800_000_000
STRIPE_KEY = "sk_test_51SecretKeyThatMustNeverBeShown"
STRIPE_SECRET = "whsec_StripeSigningSecretNeverShown0123"
CAMPUS_KEY = b"campus key bytes never shown!!"
CAMPUS_SECRET = "whsec_" + base64.b64encode(CAMPUS_KEY).decode()
PAYMENT = "pay_AAAAAAAAAAAAAAAAAAAAAAAA"


@pytest.fixture
def stripe_gateway() -> StripeGateway:
    return StripeGateway("card", STRIPE_KEY, STRIPE_SECRET)


@pytest.fixture
def campus() -> WebhookGateway:
    return WebhookGateway("campus", "https://pay.campus.example/pay", CAMPUS_SECRET)


def signed_stripe(body: bytes, at: int = NOW, secret: str = STRIPE_SECRET) -> dict[str, str]:
    return stripe_headers(body, secret, at)


def signed_campus(body: bytes, at: int = NOW, secret: str = CAMPUS_SECRET) -> dict[str, str]:
    return webhook_headers(body, secret, "msg_1", at)


# --- Stripe -------------------------------------------------------------------------------


def test_a_paid_checkout_session_credits_our_payment(stripe_gateway: StripeGateway) -> None:
    body = stripe_event(
        "checkout.session.completed",
        checkout_session(PAYMENT, 1_234, session_id="cs_test_9", intent_id="pi_test_9"),
        event_id="evt_1",
        created=NOW - 5,
    )
    found = stripe_gateway.verify(signed_stripe(body), body, NOW)
    assert found == Notification(
        gateway="card",
        event_id="evt_1",
        event_type="checkout.session.completed",
        kind=NotificationKind.CREDIT,
        payment_id=PAYMENT,
        payment_ref="cs_test_9",
        intent_ref="pi_test_9",
        amount=1_234,
        currency="EUR",
        created=datetime.fromtimestamp(NOW - 5, UTC),
    )


def test_our_id_is_read_from_the_metadata_without_client_reference_id(
    stripe_gateway: StripeGateway,
) -> None:
    session = {**checkout_session(PAYMENT, 500), "client_reference_id": None}
    body = stripe_event("checkout.session.async_payment_succeeded", session)
    found = stripe_gateway.verify(signed_stripe(body), body, NOW)
    assert (found.kind, found.payment_id, found.amount) == (NotificationKind.CREDIT, PAYMENT, 500)


def _refund() -> dict[str, Any]:
    return refunded_charge(PAYMENT, 700, intent_id="pi_test_9")


def _refund_without_metadata() -> dict[str, Any]:
    return {**refunded_charge(PAYMENT, 300, intent_id="pi_test_9"), "metadata": {}}


def _expanded_intent() -> dict[str, Any]:
    return {**dispute(900), "payment_intent": {"id": "pi_test_9", "object": "payment_intent"}}


NOTHING = ("", "", "", 0, "")  # payment_id, payment_ref, intent_ref, amount, currency
STRIPE_TABLE: list[tuple[str, Callable[[], dict[str, Any]], tuple[Any, ...]]] = [
    # type, object, (kind, payment_id, payment_ref, intent_ref, amount, currency)
    (
        "checkout.session.completed",
        lambda: checkout_session(PAYMENT, 800, "usd"),
        (NotificationKind.CREDIT, PAYMENT, "cs_test_a1", "pi_test_a1", 800, "USD"),
    ),
    (
        "checkout.session.completed",
        lambda: checkout_session(PAYMENT, 800, payment_status="unpaid"),
        (NotificationKind.IGNORE, PAYMENT, "cs_test_a1", "pi_test_a1", 0, ""),
    ),
    (
        "checkout.session.async_payment_succeeded",
        lambda: checkout_session(PAYMENT, 800, payment_status="paid"),
        (NotificationKind.CREDIT, PAYMENT, "cs_test_a1", "pi_test_a1", 800, "EUR"),
    ),
    (
        "charge.refunded",
        _refund,
        (NotificationKind.REVERSE, PAYMENT, "", "pi_test_9", 700, "EUR"),
    ),
    (
        "charge.refunded",
        _refund_without_metadata,
        (NotificationKind.REVERSE, "", "", "pi_test_9", 300, "EUR"),
    ),
    (
        "charge.dispute.created",
        lambda: dispute(900, "gbp", intent_id="pi_test_9"),
        (NotificationKind.REVERSE, "", "", "pi_test_9", 900, "GBP"),
    ),
    (
        "charge.dispute.created",
        _expanded_intent,
        (NotificationKind.REVERSE, "", "", "pi_test_9", 900, "EUR"),
    ),
    (
        "checkout.session.async_payment_failed",
        lambda: checkout_session(PAYMENT, 800, payment_status="unpaid"),
        (NotificationKind.IGNORE, "", "", "", 0, ""),
    ),
    ("payment_intent.succeeded", lambda: {"id": "pi_1"}, (NotificationKind.IGNORE, *NOTHING)),
    ("customer.created", lambda: {}, (NotificationKind.IGNORE, *NOTHING)),
]


@pytest.mark.parametrize(("event_type", "obj", "expected"), STRIPE_TABLE)
def test_stripe_event_types(
    stripe_gateway: StripeGateway,
    event_type: str,
    obj: Callable[[], dict[str, Any]],
    expected: tuple[Any, ...],
) -> None:
    body = stripe_event(event_type, obj())
    found = stripe_gateway.verify(signed_stripe(body), body, NOW)
    fields = (found.kind, found.payment_id, found.payment_ref, found.intent_ref)
    assert (*fields, found.amount, found.currency) == expected
    assert found.event_type == event_type


def _stripe_body(**changes: Any) -> bytes:
    event = json.loads(stripe_event("checkout.session.completed", checkout_session(PAYMENT, 5)))
    event["data"]["object"].update(changes)
    return json.dumps(event).encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"id": "evt_1", "created": 1}', "type is missing"),
        (b'{"type": "customer.created", "created": 1}', "id is missing"),
        (b'{"type": "customer.created", "id": "evt_1"}', "created is missing"),
        (b'{"type": "customer.created", "id": "evt_1", "created": 1e400}', "created is missing"),
        (b'{"type": "customer.created", "id": "e", "created": 99999999999999}', "out of range"),
        (b'{"type": "charge.refunded", "id": "evt_1", "created": 1}', "data is missing"),
        (_stripe_body(amount_total=None), "amount_total is missing"),
        (_stripe_body(amount_total=12.5), "amount_total is missing"),
        (_stripe_body(amount_total=True), "amount_total is missing"),
        (_stripe_body(amount_total=0), "above zero"),
        (_stripe_body(currency="euro"), "currency is missing or not a currency code"),
        (_stripe_body(payment_status=None), "payment_status is missing"),
        (_stripe_body(id=None), "id is missing"),
        (_stripe_body(metadata=["pay_1"], client_reference_id=None), "metadata is not"),
        (_stripe_body(payment_intent=7), "payment_intent is missing or not a string"),
        (b'{"id": "e", "type": "x", "a": ' + b"[" * 10**5 + b"]" * 10**5 + b"}", "nested"),
    ],
)
def test_malformed_stripe_events_are_refused(
    stripe_gateway: StripeGateway, body: bytes, message: str
) -> None:
    with pytest.raises(BadNotification, match=message):
        stripe_gateway.verify(signed_stripe(body), body, NOW)


@pytest.mark.parametrize(
    ("signed_at", "accepted"),
    [(NOW - 300, True), (NOW + 300, True), (NOW - 301, False), (NOW + 301, False)],
)
def test_stripe_timestamps_within_300_seconds_either_way(
    stripe_gateway: StripeGateway, signed_at: int, accepted: bool
) -> None:
    body = stripe_event("customer.created", {})
    headers = signed_stripe(body, signed_at)
    if accepted:
        stripe_gateway.verify(headers, body, NOW)
        return
    late = "stale" if signed_at < NOW else "in the future"
    with pytest.raises(BadNotification, match=late):
        stripe_gateway.verify(headers, body, NOW)


def test_stripe_refuses_what_is_not_signed_with_its_secret(stripe_gateway: StripeGateway) -> None:
    body = stripe_event("checkout.session.completed", checkout_session(PAYMENT, 5))
    tampered = body.replace(b'"amount_total": 5', b'"amount_total": 50000')
    assert tampered != body
    header = signed_stripe(body)["stripe-signature"]
    attempts = [
        (signed_stripe(body, secret="whsec_another"), body, "does not match"),
        (signed_stripe(body), tampered, "does not match"),
        ({}, body, "Stripe-Signature header is missing"),
        ({"stripe-signature": ""}, body, "missing"),
        ({"stripe-signature": header.split(",")[1]}, body, "no timestamp"),
        ({"stripe-signature": header.split(",")[0]}, body, "does not match"),
        ({"stripe-signature": header.replace("t=", "t=x")}, body, "timestamp is malformed"),
        ({"stripe-signature": header.replace("v1=", "v0=")}, body, "does not match"),
        ({"stripe-signature": header}, b"\xff" + body, "not UTF-8"),
        ({"Stripe-Signature": header}, body, "missing"),  # the names come lower-cased
    ]
    for headers, sent, message in attempts:
        with pytest.raises(BadNotification, match=message):
            stripe_gateway.verify(headers, sent, NOW)


def test_a_stale_stripe_signature_cannot_be_passed_off_with_a_fresh_timestamp(
    stripe_gateway: StripeGateway,
) -> None:
    body = stripe_event("checkout.session.completed", checkout_session(PAYMENT, 5))
    stale = signed_stripe(body, NOW - 3_600)["stripe-signature"]
    for forged in (
        f" t={NOW},{stale}",
        f"t={NOW},{stale}",
        f"{stale},t={NOW}",
        f"t ={NOW},{stale}",
    ):
        with pytest.raises(BadNotification, match=r"stale|does not match|malformed"):
            stripe_gateway.verify({"stripe-signature": forged}, body, NOW)


def test_stripe_accepts_any_of_several_signatures_during_a_secret_rotation(
    stripe_gateway: StripeGateway,
) -> None:
    body = stripe_event("customer.created", {})
    old = signed_stripe(body, secret="whsec_old")["stripe-signature"]
    new = signed_stripe(body)["stripe-signature"].split(",")[1]
    assert stripe_gateway.verify({"stripe-signature": f"{old},{new}"}, body, NOW)


def test_stripe_session_parameters() -> None:
    start = PaymentStart(
        payment_id=PAYMENT,
        amount=1_050,
        currency="EUR",
        username="alice",
        description="",
        return_url=f"https://print.example/pay/{PAYMENT}/done",
        cancel_url="https://print.example/pay",
    )
    params = session_params(start)
    assert params["line_items"] == [
        {
            "quantity": 1,
            "price_data": {
                "currency": "eur",
                "unit_amount": 1_050,
                "product_data": {"name": "Print credit"},
            },
        }
    ]
    assert params["mode"] == "payment"
    assert params["client_reference_id"] == PAYMENT
    assert params["metadata"] == {"payment_id": PAYMENT}
    assert params["payment_intent_data"] == {"metadata": {"payment_id": PAYMENT}}
    assert (params["success_url"], params["cancel_url"]) == (start.return_url, start.cancel_url)
    assert "alice" not in repr(params)  # nothing about the person goes to Stripe


@pytest.mark.parametrize(
    ("key", "secret", "message"),
    [("pk_test_1", STRIPE_SECRET, "sk_… or rk_…"), (STRIPE_KEY, "nope", "whsec_")],
)
def test_stripe_keys_of_the_wrong_kind_are_refused(key: str, secret: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        StripeGateway("card", key, secret)
    assert key not in str(refused.value)
    assert secret not in str(refused.value)


# --- Standard Webhooks --------------------------------------------------------------------


def test_the_standard_webhooks_test_vector() -> None:
    """The specification's own example (standard-webhooks' reference libraries)."""
    key = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    body = b'{"test": 2432232314}'
    found = signature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert base64.b64encode(found) == b"g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    gateway = WebhookGateway("c", "https://x.example", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    headers = {
        "webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "webhook-timestamp": "1614265330",
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    with pytest.raises(BadNotification, match="type is missing"):  # verified, then read
        gateway.verify(headers, body, 1614265330)


def test_a_campus_payment_credits_our_payment(campus: WebhookGateway) -> None:
    body = campus_message("payment.succeeded", PAYMENT, 2_000, "chf", reference="ref_77")
    found = campus.verify(signed_campus(body, NOW - 10), body, NOW)
    assert found == Notification(
        gateway="campus",
        event_id="msg_1",
        event_type="payment.succeeded",
        kind=NotificationKind.CREDIT,
        payment_id=PAYMENT,
        payment_ref="ref_77",
        intent_ref="",
        amount=2_000,
        currency="CHF",
        created=datetime.fromtimestamp(NOW - 10, UTC),
    )


def test_a_campus_message_s_own_timestamp_is_when_it_happened(campus: WebhookGateway) -> None:
    message = json.loads(campus_message("payment.refunded", PAYMENT, 5))
    message["timestamp"] = "2027-01-15T08:30:00+01:00"
    body = json.dumps(message).encode()
    found = campus.verify(signed_campus(body), body, NOW)
    assert found.created == datetime(2027, 1, 15, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [
        ("payment.succeeded", NotificationKind.CREDIT),
        ("payment.refunded", NotificationKind.REVERSE),
        ("payment.disputed", NotificationKind.REVERSE),
        ("payment.failed", NotificationKind.IGNORE),
        ("payment.created", NotificationKind.IGNORE),
        ("account.updated", NotificationKind.IGNORE),
    ],
)
def test_campus_event_types(
    campus: WebhookGateway, event_type: str, kind: NotificationKind
) -> None:
    body = campus_message(event_type, PAYMENT, 450)
    found = campus.verify(signed_campus(body), body, NOW)
    assert found.kind is kind
    if kind is NotificationKind.IGNORE:
        assert (found.amount, found.currency, found.payment_id) == (0, "", "")
    else:
        assert (found.amount, found.currency, found.payment_id) == (450, "EUR", PAYMENT)
        assert found.payment_ref == "ref_a1"


def _campus_body(**data: Any) -> bytes:
    message = json.loads(campus_message("payment.succeeded", PAYMENT, 5))
    message["data"].update(data)
    return json.dumps(message).encode()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not JSON"),
        (b'"payment.succeeded"', "not a JSON object"),
        (b'{"data": {}}', "type is missing"),
        (b'{"type": "payment.succeeded"}', "data is missing"),
        (b'{"type": "payment.succeeded", "data": []}', "data is missing"),
        (_campus_body(amount="5"), "amount is missing"),
        (_campus_body(amount=-5), "above zero"),
        (_campus_body(currency=None), "currency is missing"),
        (_campus_body(currency="EU"), "currency is missing"),
        (_campus_body(payment_id=7), "payment_id is missing or not a string"),
        (_campus_body(reference=["r"]), "reference is missing or not a string"),
        (b'{"type": "x", "timestamp": "yesterday"}', "ISO 8601"),
        (b'{"type": "x", "timestamp": "2027-01-15T08:30:00"}', "with its offset"),
        (b'{"type": "x", "timestamp": 1800000000}', "ISO 8601"),
    ],
)
def test_malformed_campus_messages_are_refused(
    campus: WebhookGateway, body: bytes, message: str
) -> None:
    with pytest.raises(BadNotification, match=message):
        campus.verify(signed_campus(body), body, NOW)


@pytest.mark.parametrize(
    ("signed_at", "accepted"),
    [(NOW - 300, True), (NOW + 300, True), (NOW - 301, False), (NOW + 301, False)],
)
def test_campus_timestamps_within_300_seconds_either_way(
    campus: WebhookGateway, signed_at: int, accepted: bool
) -> None:
    body = campus_message("payment.succeeded", PAYMENT, 5)
    headers = signed_campus(body, signed_at)
    if accepted:
        campus.verify(headers, body, NOW)
        return
    late = "stale" if signed_at < NOW else "in the future"
    with pytest.raises(BadNotification, match=late):
        campus.verify(headers, body, NOW)


def test_campus_refuses_what_is_not_signed_with_its_secret(campus: WebhookGateway) -> None:
    body = campus_message("payment.succeeded", PAYMENT, 5)
    tampered = body.replace(b'"amount": 5', b'"amount": 5000')
    assert tampered != body
    good = signed_campus(body)
    other = "whsec_" + base64.b64encode(b"another key, sixteen bytes+").decode()
    attempts: list[tuple[dict[str, str], bytes, str]] = [
        (signed_campus(body, secret=other), body, "does not match"),
        (good, tampered, "does not match"),
        ({**good, "webhook-id": "msg_2"}, body, "does not match"),  # the id is signed
        ({**good, "webhook-timestamp": str(NOW + 1)}, body, "does not match"),
        ({**good, "webhook-signature": "v1,not base64!"}, body, "does not match"),
        ({**good, "webhook-signature": "v1"}, body, "does not match"),
        ({**good, "webhook-signature": good["webhook-signature"][3:]}, body, "does not match"),
        ({**good, "webhook-signature": "v2" + good["webhook-signature"][2:]}, body, "not match"),
        ({**good, "webhook-timestamp": "1e9"}, body, "not a Unix time"),
        ({**good, "webhook-timestamp": "-5"}, body, "not a Unix time"),
        ({**good, "webhook-timestamp": "١٢٣"}, body, "not a Unix time"),  # Arabic-Indic digits
    ]
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        attempts.append(({k: v for k, v in good.items() if k != name}, body, f"{name} header"))
    for headers, sent, message in attempts:
        with pytest.raises(BadNotification, match=message):
            campus.verify(headers, sent, NOW)


def test_campus_accepts_any_of_several_signatures_during_a_rotation(
    campus: WebhookGateway,
) -> None:
    body = campus_message("payment.succeeded", PAYMENT, 5)
    good = signed_campus(body)
    old = signed_campus(body, secret="whsec_" + base64.b64encode(b"x" * 24).decode())
    several = f"v1a,c29tZXRoaW5n {old['webhook-signature']} {good['webhook-signature']}"
    assert campus.verify({**good, "webhook-signature": several}, body, NOW).amount == 5


def test_campus_start_sends_the_person_to_the_pay_page(campus: WebhookGateway) -> None:
    start = PaymentStart(
        payment_id=PAYMENT,
        amount=1_030,
        currency="eur",
        username="alice",
        description="Print credit",
        return_url=f"https://print.example/pay/{PAYMENT}?a=1&b=2",
        cancel_url="https://print.example/pay",
    )
    started = campus.start(start)
    url = urlsplit(started.redirect_url)
    assert (url.scheme, url.netloc, url.path) == ("https", "pay.campus.example", "/pay")
    assert parse_qs(url.query) == {
        "payment_id": [PAYMENT],
        "amount": ["1030"],
        "currency": ["EUR"],
        "return_url": [start.return_url],
        "cancel_url": [start.cancel_url],
    }
    assert started.payment_ref == ""
    with_query = WebhookGateway("c", "https://pay.example/p?site=7", CAMPUS_SECRET)
    assert with_query.start(start).redirect_url.startswith("https://pay.example/p?site=7&")


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("whsec_not base64!", "whsec_ and base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "at least 16 bytes"),
        ("", "at least 16 bytes"),
    ],
)
def test_campus_secrets_that_are_no_key_are_refused(secret: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        WebhookGateway("c", "https://pay.example", secret)
    assert not secret or secret not in str(refused.value)


# --- no secret in any refusal -------------------------------------------------------------


def test_no_refusal_shows_a_secret(stripe_gateway: StripeGateway, campus: WebhookGateway) -> None:
    body = stripe_event("checkout.session.completed", checkout_session(PAYMENT, 5))
    stripe_header = signed_stripe(body)["stripe-signature"]
    message = campus_message("payment.succeeded", PAYMENT, 5)
    campus_headers = signed_campus(message)
    attempts: list[tuple[Gateway, dict[str, str], bytes, float]] = [
        (stripe_gateway, {"stripe-signature": stripe_header}, body + b" ", NOW),
        (stripe_gateway, {"stripe-signature": stripe_header}, body, NOW + 10_000),
        (stripe_gateway, {"stripe-signature": "t=1,v1=" + "0" * 64}, body, NOW),
        (stripe_gateway, {"stripe-signature": stripe_header}, b"\xff", NOW),
        (campus, campus_headers, message + b" ", NOW),
        (campus, campus_headers, message, NOW - 10_000),
        (campus, {**campus_headers, "webhook-signature": "v1,AAAA"}, message, NOW),
    ]
    secrets = [STRIPE_KEY, STRIPE_SECRET, STRIPE_SECRET.removeprefix("whsec_"), CAMPUS_SECRET]
    secrets += [CAMPUS_KEY.decode(), CAMPUS_SECRET.removeprefix("whsec_")]
    for gateway, headers, sent, now in attempts:
        with pytest.raises(BadNotification) as refused:
            gateway.verify(headers, sent, now)
        shown = f"{refused.value} {refused.value!r} {refused.value.__cause__!r}"
        assert not any(secret in shown for secret in secrets), shown
        assert refused.value.__cause__ is None  # nor is what it hides shown with it
        assert refused.value.__context__ is None or refused.value.__suppress_context__
    for gateway in (stripe_gateway, campus):
        assert not any(secret in repr(gateway) for secret in secrets)


# --- configuration ------------------------------------------------------------------------


def _secret_file(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text + "\n")
    os.chmod(path, mode)
    return path


def test_gateways_are_built_with_the_secrets_in_their_files(tmp_path: Path) -> None:
    config = PaymentsConfig.model_validate(
        {
            "min_amount": 200,
            "max_amount": 10_000,
            "groups": ["students"],
            "fee_fixed": 25,
            "fee_basis_points": 150,
            "gateways": {
                "card": {
                    "kind": "stripe",
                    "label": "Card",
                    "secret_key_file": _secret_file(tmp_path / "sk", STRIPE_KEY),
                    "webhook_secret_file": _secret_file(tmp_path / "wh", STRIPE_SECRET, 0o400),
                },
                "campus-card": {
                    "kind": "webhook",
                    "pay_url": "https://pay.campus.example/pay",
                    "webhook_secret_file": _secret_file(tmp_path / "campus", CAMPUS_SECRET),
                },
            },
        }
    )
    gateways = build_gateways(config)
    assert sorted(gateways) == ["campus-card", "card"]
    assert isinstance(gateways["card"], StripeGateway)
    assert isinstance(gateways["campus-card"], WebhookGateway)
    body = campus_message("payment.succeeded", PAYMENT, 5)
    assert gateways["campus-card"].verify(signed_campus(body), body, NOW).gateway == "campus-card"
    body = stripe_event("customer.created", {})
    assert gateways["card"].verify(signed_stripe(body), body, NOW).gateway == "card"
    assert rules(config) == PaymentRules(200, 10_000, frozenset({"students"}), 25, 150)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o644, 0o660])
def test_a_secret_file_others_may_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = _secret_file(tmp_path / "secret", CAMPUS_SECRET, mode)
    with pytest.raises(SecretFileError, match="group or others") as refused:
        read_secret(path)
    assert str(path) in str(refused.value)
    assert CAMPUS_SECRET not in str(refused.value)


def test_secret_files_missing_empty_or_not_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretFileError, match=r"cannot open the secret file .*missing"):
        read_secret(tmp_path / "missing")
    with pytest.raises(SecretFileError, match="is empty"):
        read_secret(_secret_file(tmp_path / "empty", "  "))
    (tmp_path / "binary").write_bytes(b"\xff\xfe")
    os.chmod(tmp_path / "binary", 0o600)
    with pytest.raises(SecretFileError, match="not UTF-8"):
        read_secret(tmp_path / "binary")
    with pytest.raises(SecretFileError, match="larger than 4096 bytes"):
        read_secret(_secret_file(tmp_path / "large", "x" * 4096))
    (tmp_path / "dir").mkdir(mode=0o700)
    with pytest.raises(SecretFileError, match="not a regular file"):
        read_secret(tmp_path / "dir")


def test_a_malformed_campus_secret_names_its_file(tmp_path: Path) -> None:
    config = PaymentsConfig(
        gateways={
            "campus": GatewayConfig(
                kind="webhook",
                pay_url="https://pay.example",
                webhook_secret_file=_secret_file(tmp_path / "campus", "whsec_short"),
            )
        }
    )
    with pytest.raises(ValueError, match=f"{tmp_path / 'campus'}: a webhook secret") as refused:
        build_gateways(config)
    assert "whsec_short" not in str(refused.value)


STRIPE_FILES = {"kind": "stripe", "secret_key_file": "a", "webhook_secret_file": "b"}
CAMPUS = {"kind": "webhook", "pay_url": "https://x", "webhook_secret_file": "b"}


def _one(name: str, gateway: dict[str, str]) -> dict[str, Any]:
    return {"gateways": {name: gateway}}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"min_amount": 500, "max_amount": 100}, "min_amount is more than max_amount"),
        ({"min_amount": 0}, "greater than 0"),
        ({"fee_basis_points": 10_001}, "less than or equal to 10000"),
        ({"fee_fixed": -1}, "greater than or equal to 0"),
        ({"currency": "EUR"}, "Extra inputs are not permitted"),
        ({"public_url": "print.example"}, "public_url is an http"),
        ({"gateways": {"Card": {"kind": "webhook"}}}, "a webhook gateway needs pay_url"),
        (_one("Card", STRIPE_FILES), "gateway name 'Card'"),
        (_one("c" * 33, STRIPE_FILES), "1-32 of a-z"),
        (_one("card", {"kind": "stripe", "secret_key_file": "a"}), "needs secret_key_file and"),
        (_one("card", {**STRIPE_FILES, "pay_url": "https://x"}), "has no pay_url"),
        (_one("card", {**STRIPE_FILES, "api_base": "localhost:1"}), "api_base is an http"),
        (_one("card", {"kind": "webhook", "pay_url": "https://x"}), "needs pay_url and webhook"),
        (_one("card", {**CAMPUS, "pay_url": "x"}), "pay_url is an http"),
        (_one("card", {**CAMPUS, "secret_key_file": "a"}), "has no secret_key_file"),
        (_one("card", {**CAMPUS, "api_base": "https://x"}), "has no secret_key_file or api_base"),
        (_one("card", {"kind": "cash"}), "'stripe' or 'webhook'"),
        (_one("card", {**CAMPUS, "secret": "whsec_x"}), "Extra inputs"),
    ],
)
def test_inconsistent_configuration_is_refused(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PaymentsConfig.model_validate(raw)


def test_the_defaults() -> None:
    config = PaymentsConfig()
    assert rules(config) == PaymentRules(100, 50_000)
    assert build_gateways(config) == {}
