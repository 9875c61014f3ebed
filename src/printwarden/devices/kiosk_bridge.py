"""The kiosk bridge: reports what a cash acceptor takes to the print server, each note once.

Each round: ask the server whether the kiosk takes money (``GET /api/v1/device/kiosk``), poll
the acceptor, send every unacknowledged insertion in order (``POST …/kiosk/insertions``, its
``insertion_id`` the acceptor's event id) and acknowledge each one the server answered 201
(credited) or 200 (credited before) to. Whatever else comes back (409: no session open, other
errors, no answer) keeps the insertion for the next round, after a growing pause: money is
never dropped, and the server credits an id once however often it comes.

The acceptor takes notes only while the server says so, answers, and has every earlier
insertion: a bridge that cannot deliver stops the money coming in. A failing round is logged
and the next one starts; an acceptor that fails is closed and opened again.

``python -m printwarden.devices.kiosk_bridge --server URL --token-file F --port PORT_URL
--state-file F`` runs it until SIGTERM or SIGINT; the device token is read from a file only
its owner may read.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
import stat
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

from printwarden.devices.acceptors import Acceptor, AcceptorError, Insertion

log = logging.getLogger(__name__)

KIOSK_PATH = "/api/v1/device/kiosk"
INSERTIONS_PATH = "/api/v1/device/kiosk/insertions"
HTTP_TIMEOUT = 10.0
MAX_BACKOFF = 5.0


class TokenFileError(Exception):
    """A token file that is missing, empty, or open to other users."""


@dataclass(frozen=True)
class KioskState:
    """What the server says of the kiosk."""

    accepting: bool
    currency: str
    session_id: str = ""  # the person's device session while accepting


class Bridge:
    """One acceptor and one server; :meth:`round` does one round of the loop."""

    def __init__(self, http: httpx.Client, acceptor: Acceptor, currency: str | None = None):
        self.http = http
        self.acceptor = acceptor
        self.currency = currency
        self._open = False
        # The session each insertion was made in: the one open when the acceptor was last
        # let take money (after a restart, the one open then).
        self._session = ""
        self._sessions: dict[str, str] = {}

    def round(self) -> bool:
        """Poll, deliver and set the acceptor; True when the server took everything."""
        if not self._open:
            self.acceptor.open()
            self._open = True
            log.info("acceptor %s open", self.acceptor.identity())
        state = self.kiosk_state()
        if state is not None and state.accepting and state.session_id:
            self._session = state.session_id
        delivered = self.deliver(self.acceptor.poll())
        self.acceptor.set_accepting(delivered and self._accepting(state))
        return delivered and state is not None

    def deliver(self, insertions: list[Insertion]) -> bool:
        """Send ``insertions`` in order, acknowledging each the server took; False at the
        first one it did not."""
        for insertion in insertions:
            if not self.send(insertion):
                return False
            self.acceptor.acknowledge(insertion.event_id)
            self._sessions.pop(insertion.event_id, None)
        return True

    def send(self, insertion: Insertion) -> bool:
        """Whether the server credited ``insertion`` (now or before)."""
        session_id = self._sessions.setdefault(insertion.event_id, self._session)
        what = f"insertion {insertion.event_id} ({insertion.value} {insertion.currency})"
        if not session_id:
            log.warning("%s kept: no session known to credit it to", what)
            return False
        body = {
            "insertion_id": insertion.event_id,
            "amount": insertion.value,
            "currency": insertion.currency,
            "session_id": session_id,
        }
        try:
            response = self.http.post(INSERTIONS_PATH, json=body)
        except httpx.HTTPError as exc:
            log.warning("%s kept: no answer from the server (%s)", what, exc)
            return False
        if response.status_code in (200, 201):
            log.info("%s credited%s", what, " before" if response.status_code == 200 else "")
            return True
        if response.status_code == 409:
            log.warning("%s kept: no session is open (409)", what)
        else:
            log.error("%s kept: %d %s", what, response.status_code, response.text[:200])
        return False

    def kiosk_state(self) -> KioskState | None:
        """The server's answer, or None (logged) without a usable one."""
        try:
            response = self.http.get(KIOSK_PATH)
            response.raise_for_status()
            found = response.json()
            session = found.get("session") or {}
            return KioskState(
                found["accepting"] is True, str(found["currency"]), str(session.get("id") or "")
            )
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.warning("kiosk state unknown: %s", exc)
            return None

    def close(self) -> None:
        """Close the acceptor (it inhibits itself)."""
        if self._open:
            self._open = False
            self.acceptor.close()

    def inhibit(self) -> None:
        """Stop the acceptor taking money, if it answers."""
        if self._open:
            with contextlib.suppress(AcceptorError):
                self.acceptor.set_accepting(False)

    def _accepting(self, state: KioskState | None) -> bool:
        if state is None or not state.accepting:
            return False
        if self.currency is not None and state.currency != self.currency:
            log.error("the server counts %s, the acceptor %s", state.currency, self.currency)
            return False
        return True


def run_bridge(
    server_url: str,
    token: str,
    acceptor: Acceptor,
    stop: threading.Event,
    poll_interval: float = 0.2,
    *,
    currency: str | None = None,
    max_backoff: float = MAX_BACKOFF,
) -> None:
    """Run rounds every ``poll_interval`` until ``stop`` is set, pausing up to ``max_backoff``
    after failures; ``currency`` (the acceptor's) must match the server's to take money."""
    headers = {"Authorization": f"Bearer {token}"}
    base = server_url.rstrip("/")
    with httpx.Client(base_url=base, headers=headers, timeout=HTTP_TIMEOUT) as http:
        bridge = Bridge(http, acceptor, currency)
        pause = poll_interval
        try:
            while not stop.is_set():
                done = _supervised(bridge)
                pause = poll_interval if done else min(max(pause, poll_interval) * 2, max_backoff)
                stop.wait(pause)
        finally:
            bridge.close()


def _supervised(bridge: Bridge) -> bool:
    """One round; a failure is logged, and the acceptor inhibited or reopened."""
    try:
        return bridge.round()
    except AcceptorError as exc:
        log.error("acceptor failed (%s); opening it again", exc)
        with contextlib.suppress(AcceptorError):
            bridge.close()
    except Exception:
        log.exception("kiosk bridge round failed")
        bridge.inhibit()
    return False


# --- the command -------------------------------------------------------------------------------


def read_token_file(path: Path) -> str:
    """The token in ``path``, which only its owner may read or write."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise TokenFileError(
                f"{path} is open to group or others (mode {mode:04o}); "
                f"a device token must be private: chmod 600 {path}"
            )
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise TokenFileError(f"cannot read the token file: {exc}") from None
    if not token:
        raise TokenFileError(f"{path} is empty")
    return token


def main(argv: list[str] | None = None) -> int:
    """Run the bridge until SIGTERM or SIGINT."""
    from printwarden.devices.acceptors.cctalk_driver import CcTalkAcceptor

    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        token = read_token_file(args.token_file)
    except TokenFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)
    acceptor = CcTalkAcceptor(
        args.port, args.state_file, address=args.address, currency=args.currency
    )
    run_bridge(args.server, token, acceptor, stop, args.poll_interval, currency=args.currency)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m printwarden.devices.kiosk_bridge",
        description="Report what a cash acceptor takes to the print server.",
    )
    parser.add_argument("--server", required=True, help="URL of the print server")
    parser.add_argument(
        "--token-file", type=Path, required=True, help="the device token (mode 0600)"
    )
    parser.add_argument(
        "--port", required=True, help="the acceptor's serial port (a device or pyserial URL)"
    )
    parser.add_argument(
        "--state-file", type=Path, required=True, help="where the acceptor's progress is kept"
    )
    parser.add_argument("--currency", default="EUR", help="the acceptor's currency")
    parser.add_argument("--address", type=int, default=40, help="the acceptor's ccTalk address")
    parser.add_argument("--poll-interval", type=float, default=0.2, help="seconds")
    return parser


if __name__ == "__main__":
    sys.exit(main())
