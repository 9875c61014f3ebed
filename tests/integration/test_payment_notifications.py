"""Gateway notifications against the App Server: every event signed with the Stripe SDK's
own helper, replayed twice, out of order, stale, badly signed and tampered with, from 8
threads at once. Exactly one credit per payment; a refund or dispute reverses exactly once;
the rest are refused (400) with a log line."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from printwarden.domain.accounts import Role
from printwarden.domain.payments import Notification, NotificationKind
from printwarden.files import write_private
from printwarden.sim.payment_gateway import PaymentGatewaySimulator
from printwarden.store.db import Database
from printwarden.testing import payment_events as events
from printwarden.testing.inprocess import InProcessAppServer
from printwarden.usecases import payments

SECRET_KEY, WEBHOOK_SECRET = "sk_test_notifications", "whsec_notifications"
NOTIFY = "/payments/stripe/notify"


@dataclass
class Rig:
    app: InProcessAppServer
    admin: httpx.Client
    simulator: PaymentGatewaySimulator


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    root = tmp_path_factory.mktemp("payments")
    key = write_private(root / "key", SECRET_KEY)
    hook = write_private(root / "hook", WEBHOOK_SECRET)
    with PaymentGatewaySimulator(stripe_secret_key=SECRET_KEY) as simulator:
        gateway = {"kind": "stripe", "secret_key_file": str(key),
                   "webhook_secret_file": str(hook), "api_base": simulator.url}  # fmt: skip
        payments = {"min_amount": 100, "max_amount": 5000, "gateways": {"stripe": gateway}}
        app = InProcessAppServer(
            f"sqlite:///{root / 'app.db'}", root, overrides={"payments": payments}
        )
        app.start()
        try:
            with app.client(app.token(Role.ADMIN, "pay-admin")) as admin:
                yield Rig(app, admin, simulator)
        finally:
            app.stop()


def person(rig: Rig, name: str) -> httpx.Client:
    return rig.app.client(rig.app.token(Role.USER, name))


def start(client: httpx.Client, amount: int) -> tuple[str, str]:
    """A payment of ``amount``: our id and the gateway's session id."""
    answer = client.post("/me/payments", json={"gateway": "stripe", "amount": amount})
    assert answer.status_code == 201, answer.text
    started = answer.json()
    assert started["redirect_url"].startswith("http://127.0.0.1")
    session = started["redirect_url"].rstrip("/").split("/")[-1]
    return started["payment"]["id"], session


def signed(body: bytes, *, at: float | None = None, secret: str = WEBHOOK_SECRET) -> dict[str, Any]:
    stamp = int(time.time() if at is None else at)
    return {"body": body, "headers": events.stripe_headers(body, secret, stamp)}


def balance(rig: Rig, name: str) -> int:
    found: int = rig.admin.get(f"/users/{name}").json()["balance"]
    return found


def test_each_payment_is_credited_once_and_reversed_once(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    names = [f"payer{n}" for n in range(6)]
    payments = {name: start(person(rig, name), 1000 + 100 * n) for n, name in enumerate(names)}
    reversed_ = set(names[:3])
    good: list[dict[str, Any]] = []
    for n, name in enumerate(names):
        payment_id, session = payments[name]
        amount, intent = 1000 + 100 * n, f"pi_{session}"
        paid = events.checkout_session(payment_id, amount, "usd", session_id=session,
                                       intent_id=intent)  # fmt: skip
        good.append(signed(events.stripe_event("checkout.session.completed", paid)))
        good.append(signed(events.stripe_event("checkout.session.async_payment_succeeded", paid)))
        if name in reversed_:
            refund = events.refunded_charge(payment_id, amount, "usd", intent_id=intent)
            good.append(signed(events.stripe_event("charge.refunded", refund)))
            chargeback = events.dispute(amount, "usd", intent_id=intent)
            good.append(signed(events.stripe_event("charge.dispute.created", chargeback)))
    bad = []
    for sent in good[:6]:
        bad.append(signed(sent["body"], at=time.time() - 301))  # stale
        bad.append(signed(sent["body"], secret="whsec_not_ours"))  # bad signature
        tampered = sent["body"].rstrip()[:-1] + b', "amount_total": 1}'  # a field changed
        bad.append({"body": tampered, "headers": sent["headers"]})  # tampered body
    replay = good * 2 + bad
    random.Random(23).shuffle(replay)  # refunds before their payment's credit, some
    with caplog.at_level(logging.WARNING, "printwarden.payments"), ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(
            lambda sent: rig.app.client().post(NOTIFY, content=sent["body"],
                                               headers=sent["headers"]),
            replay,
        ))  # fmt: skip
    statuses = [a.status_code for a in answers]
    assert statuses.count(400) == len(bad)
    assert statuses.count(200) == len(good) * 2
    for n, name in enumerate(names):
        expected = 0 if name in reversed_ else 1000 + 100 * n
        assert balance(rig, name) == expected, name
    log = rig.admin.get("/payment-events", params={"limit": 1000}).json()
    outcomes = [e["outcome"] for e in log]
    assert outcomes.count("credited") == len(names)
    assert outcomes.count("reversed") + _late(log) == len(reversed_)
    refused = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refused) == len(bad)
    found = rig.admin.get("/payments", params={"status": "reversed"}).json()
    assert {p["username"] for p in found} >= reversed_


def _late(log: list[dict[str, Any]]) -> int:
    """Reversals applied with their credit (the refund came first and waited)."""
    return sum(1 for e in log if e["outcome"] == "credited" and "reversed" in e["detail"])


def test_the_fee_limits_and_groups_are_checked(rig: Rig) -> None:
    client = person(rig, "limited")
    low = client.post("/me/payments", json={"gateway": "stripe", "amount": 50})
    assert low.status_code == 422
    high = client.post("/me/payments", json={"gateway": "stripe", "amount": 9999})
    assert high.status_code == 422
    unknown = client.post("/me/payments", json={"gateway": "paypal", "amount": 500})
    assert unknown.status_code == 422
    options = client.get("/me/payment-options").json()
    assert options["available"] is True
    assert options["gateways"] == [{"name": "stripe", "label": "stripe"}]


def test_a_notification_for_no_gateway_or_without_signature_is_refused(rig: Rig) -> None:
    anyone = rig.app.client()
    assert anyone.post("/payments/paypal/notify", content=b"{}").status_code == 404
    assert anyone.post(NOTIFY, content=b"{}").status_code == 400


def test_the_payments_log_exports_csv(rig: Rig, tmp_path: Path) -> None:
    start(person(rig, "csv-payer"), 700)
    answer = rig.admin.get("/payments", params={"format": "csv", "user": "csv-payer"})
    assert answer.status_code == 200
    lines = answer.text.strip().splitlines()
    assert lines[0].startswith("id,created_at,username")
    assert len(lines) == 2
    assert ",pending" in lines[1]


def test_one_batch_holding_copies_reversals_first_and_two_events_of_a_payment(rig: Rig) -> None:
    """What the applier's group commit hands ``apply_all`` at once comes out as if applied
    one by one: a copy is a duplicate, a reversal before its credit waits for it, a payment's
    second success event credits nothing more."""
    payment_id, session = start(person(rig, "batched"), 2000)
    intent = f"pi_{session}"

    def note(event: str, kind: NotificationKind, ours: str = payment_id) -> Notification:
        return Notification("stripe", event, "t", kind, ours, session, intent, 2000, "USD",
                            datetime.now(UTC))  # fmt: skip

    batch = [
        note("evt_b_refund", NotificationKind.REVERSE, ours=""),
        note("evt_b_paid", NotificationKind.CREDIT),
        note("evt_b_paid", NotificationKind.CREDIT),
        note("evt_b_async", NotificationKind.CREDIT),
        note("evt_b_dispute", NotificationKind.REVERSE),
    ]
    database = Database(rig.app.database_url)
    try:
        with database.session() as db:
            outcomes = [done.outcome for done in payments.apply_all(db, batch)]
    finally:
        database.dispose()
    assert outcomes == ["waiting", "credited", "duplicate", "duplicate", "duplicate"]
    assert balance(rig, "batched") == 0
    kinds = rig.admin.get("/payments", params={"user": "batched"}).json()
    assert [p["status"] for p in kinds] == ["reversed"]


def test_partial_refunds_take_back_what_was_refunded_once(rig: Rig) -> None:
    """Stripe's ``amount_refunded`` is the total so far: each new total takes back the
    difference, a repeated total nothing, and never more than was credited."""
    payment_id, session = start(person(rig, "partly"), 1000)
    intent = f"pi_{session}"
    paid = events.checkout_session(payment_id, 1000, "usd", session_id=session, intent_id=intent)
    sent = [signed(events.stripe_event("checkout.session.completed", paid))]
    for total in (300, 500, 500, 300):  # a later total, the same again, an old one
        refund = events.refunded_charge(payment_id, total, "usd", intent_id=intent)
        sent.append(signed(events.stripe_event("charge.refunded", refund)))
    anyone = rig.app.client()
    outcomes = []
    for each in sent:
        answer = anyone.post(NOTIFY, content=each["body"], headers=each["headers"])
        assert answer.status_code == 200, answer.text
        outcomes.append(answer.json()["outcome"])
    assert outcomes == ["credited", "reversed", "reversed", "duplicate", "duplicate"]
    assert balance(rig, "partly") == 500
    [shown] = rig.admin.get("/payments", params={"user": "partly"}).json()
    assert (shown["status"], shown["reversed"]) == ("paid", 500)
    chargeback = events.dispute(1000, "usd", intent_id=intent)
    last = signed(events.stripe_event("charge.dispute.created", chargeback))
    assert anyone.post(NOTIFY, content=last["body"], headers=last["headers"]).status_code == 200
    assert balance(rig, "partly") == 0
    [shown] = rig.admin.get("/payments", params={"user": "partly"}).json()
    assert (shown["status"], shown["reversed"]) == ("reversed", 1000)


def test_the_payments_csv_quotes_what_a_spreadsheet_would_run(rig: Rig) -> None:
    start(person(rig, "=HYPERLINK(1)"), 700)
    answer = rig.admin.get("/payments", params={"format": "csv", "user": "=HYPERLINK(1)"})
    assert answer.status_code == 200
    assert ",'=HYPERLINK(1)," in answer.text.splitlines()[1]
