"""The demo's payments: two simulated gateways (Stripe Checkout and a campus card system,
``sim/payment_gateway.py``), a batch of top-up cards, and a cash kiosk whose simulated note
acceptor (``sim/cash_acceptor.py``) is driven by a real bridge process (``printwarden kiosk``).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from printwarden.config import CashConfig
from printwarden.domain import vouchers
from printwarden.domain.accounts import Role
from printwarden.files import private_dir, write_private
from printwarden.payments.config import PaymentsConfig
from printwarden.sim.cash_acceptor import ControlServer, SimulatedAcceptor
from printwarden.sim.payment_gateway import PaymentGatewaySimulator, simulator_secrets
from printwarden.store import printers, tokens
from printwarden.usecases import vouchers as topup_cards

GATEWAY_PORT_OFFSET = 500  # the simulated gateways at port base + 500
ACCEPTOR_PORT_OFFSET = 501  # the simulated note acceptor's control socket ("insert 500")
KIOSK = "kiosk-lobby"
CAMPUS, STRIPE = "campus", "stripe"
NOTES = (100, 500, 1000, 2000)  # what the demo's acceptor takes (and the server's [cash])


def directory(data_dir: Path) -> Path:
    return private_dir(data_dir / "payments")


def config(data_dir: Path, app_url: str, port_base: int) -> PaymentsConfig:
    """Both gateways, their secrets in 0600 files, against the simulator."""
    folder = directory(data_dir)
    simulator_secrets(folder)
    simulator = f"http://127.0.0.1:{port_base + GATEWAY_PORT_OFFSET}"
    return PaymentsConfig.model_validate({
        "public_url": app_url, "min_amount": 100, "max_amount": 10_000, "fee_fixed": 0,
        "gateways": {
            CAMPUS: {"kind": "webhook", "label": "Campus card",
                     "pay_url": f"{simulator}/campus/pay",
                     "webhook_secret_file": str(folder / "campus-webhook-secret")},
            STRIPE: {"kind": "stripe", "label": "Card (Stripe)", "api_base": simulator,
                     "secret_key_file": str(folder / "stripe-secret-key"),
                     "webhook_secret_file": str(folder / "stripe-webhook-secret")},
        },
    })  # fmt: skip


def cash_config() -> CashConfig:
    return CashConfig(denominations=list(NOTES), daily_limit=100_000)


def seed(session: Session, secret: bytes, currency: str) -> dict[str, Any]:
    """The kiosk device and its token, and ten top-up cards of 5.00 (their codes)."""
    printers.save_device(session, KIOSK, {"kind": "kiosk", "location": "Lobby",
                                          "cost_model": {}, "login_methods": ["card", "password"]},
                         create=True)  # fmt: skip
    token, _ = tokens.issue_token(session, Role.DEVICE, name=KIOSK, scope=f"device:{KIOSK}")
    from printwarden.keys import voucher_key

    batch = vouchers.Batch("demo-cards", 500, currency, None, 10)
    made = topup_cards.generate(session, voucher_key(secret), batch, currency=currency, by="demo")
    return {"kiosk_token": token, "topup_cards": made.codes}


class DemoPayments:
    """The simulated gateways, the acceptor and the kiosk's bridge, while the demo runs."""

    def __init__(self, data_dir: Path, app_url: str, port_base: int, currency: str) -> None:
        folder = directory(data_dir)
        found = simulator_secrets(folder)
        self.simulator = PaymentGatewaySimulator(
            f"{app_url}/api/v1/payments/{STRIPE}/notify", found.stripe_webhook_secret,
            f"{app_url}/api/v1/payments/{CAMPUS}/notify", found.campus_secret,
            stripe_secret_key=found.stripe_secret_key, port=port_base + GATEWAY_PORT_OFFSET,
        )  # fmt: skip
        self.campus_secret = found.campus_secret
        self.acceptor = SimulatedAcceptor(currency=currency, notes=NOTES)
        self.control_address = ("127.0.0.1", port_base + ACCEPTOR_PORT_OFFSET)
        self.control: ControlServer | None = None
        self.folder, self.app_url, self.currency = folder, app_url, currency
        self.bridge: subprocess.Popen[bytes] | None = None

    def start(self, kiosk_token: str) -> dict[str, Any]:
        """Start everything; what ``demo.json`` says of it."""
        self.simulator.start()
        self.acceptor.start()
        self.control = ControlServer(self.control_address, self.acceptor)
        threading.Thread(target=self.control.serve_forever, args=(0.1,), daemon=True).start()
        token_file = write_private(self.folder / "kiosk.token", kiosk_token + "\n")
        command = [sys.executable, "-m", "printwarden", "kiosk", "run",
                   "--server", self.app_url, "--device", KIOSK, "--token-file", str(token_file),
                   "--acceptor", self.acceptor.port, "--state-dir", str(self.folder / "kiosk"),
                   "--currency", self.currency]  # fmt: skip
        with (self.folder / "kiosk.log").open("ab") as log:
            self.bridge = subprocess.Popen(command, stdout=log, stderr=log)
        return {
            "kiosk_url": f"{self.app_url}/kiosk/{KIOSK}#token={kiosk_token}",
            "payments": {
                "gateways": [CAMPUS, STRIPE],
                "simulator": self.simulator.url,
                "webhook_secret": self.campus_secret,
                "notify_url": f"{self.app_url}/api/v1/payments/{CAMPUS}/notify",
            },
            "kiosk": {
                "device": KIOSK,
                "acceptor_port": self.acceptor.port,
                "acceptor_control": "{}:{}".format(*self.control_address),
                "notes": list(NOTES),
            },
        }

    def insert(self, value: int) -> bool:
        """A note into the kiosk's acceptor (the demo's stand-in for a person)."""
        return self.acceptor.insert(value)

    def stop(self) -> None:
        if self.bridge is not None:
            self.bridge.terminate()
            try:
                self.bridge.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.bridge.kill()
        if self.control is not None:
            self.control.shutdown()
            self.control.server_close()
        self.acceptor.stop()
        self.simulator.stop()
