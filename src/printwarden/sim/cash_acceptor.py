"""A simulated ccTalk bill validator on a pseudo-terminal, for the demo and the tests.

It answers a host on the pty's slave device (:attr:`SimulatedAcceptor.port`, a path pyserial
opens): simple poll (254), serial number (242), inhibit status (231), master inhibit (228),
buffered bill events (159) and bill id (157); a NAK to anything else, silence to a frame whose
checksum fails. Notes go in through :meth:`SimulatedAcceptor.insert`: stacked (and an event
buffered) when the validator is not inhibited, refused otherwise. It is the hardware: its
event counter outlives every host.

Its wire format is written here from the ccTalk specification, apart from the host's codec
(:mod:`printwarden.devices.acceptors.cctalk`): the simulated programs do not import the device
tools (tests/unit/test_layers.py), and a misreading of the specification in one shows against
the other.

As a process, ``python -m printwarden.sim.cash_acceptor --control 127.0.0.1:PORT`` prints
``pty PATH`` and ``control HOST:PORT``, then takes lines on that loopback TCP socket:
``insert 500`` (answers ``credited`` or ``refused``), ``status`` and ``power-cycle``.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import select
import signal
import socket
import socketserver
import sys
import threading
import tty
from collections import deque
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import Self

NOTES = (500, 1000, 2000, 5000)
BILL_VALIDATOR = 40
SCALING = 100  # a bill id's value digits are whole units: 100 minor units each
EVENTS = 5  # the buffered events a reply to header 159 carries
ACK, NAK = 0, 5
SIMPLE_POLL, SERIAL_NUMBER, INHIBIT_STATUS, MASTER_INHIBIT, BILL_EVENTS, BILL_ID = (
    254, 242, 231, 228, 159, 157,
)  # fmt: skip
STACKED, MASTER_INHIBITED, INVALID, INHIBITED = 0, 0, 2, 4  # result B of events
NO_BILL = b"......."  # the bill id of an unused channel


class SimulatedAcceptor:
    """A bill validator taking ``notes`` (minor units of ``currency``), one channel each from
    channel 1. ``echo`` sends every request back before its reply, as a one-wire bus does."""

    def __init__(
        self,
        currency: str = "EUR",
        notes: Sequence[int] = NOTES,
        *,
        serial: int = 1234567,
        address: int = BILL_VALIDATOR,
        scaling: int = SCALING,
        echo: bool = False,
    ) -> None:
        self.currency = currency
        self.notes = tuple(notes)
        self.serial = serial
        self.address = address
        self.echo = echo
        if any(value % scaling or not 0 < value // scaling <= 9999 for value in self.notes):
            raise ValueError(f"notes must be 1 to 9999 whole units of {scaling}: {notes}")
        self._ids = [f"{currency[:2]}{value // scaling:04d}A".encode() for value in self.notes]
        self._lock = threading.Lock()
        self._counter = 0
        self._events: deque[tuple[int, int]] = deque(maxlen=EVENTS)
        self._master = False
        self._channels: frozenset[int] = frozenset()
        self._stacked: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._fds: tuple[int, int] | None = None
        self.port = ""

    # --- the hardware ------------------------------------------------------------------------

    @property
    def accepting(self) -> bool:
        """Whether a note would be stacked now (no master inhibit, its channel enabled)."""
        with self._lock:
            return self._master and bool(self._channels & self._note_channels())

    @property
    def counter(self) -> int:
        """The event counter."""
        with self._lock:
            return self._counter

    @property
    def stacked(self) -> list[int]:
        """The values of the notes in the cashbox, in order."""
        with self._lock:
            return list(self._stacked)

    def insert(self, value: int) -> bool:
        """Feed a note of ``value``: stacked (True) unless inhibited or unknown (refused,
        False; a status event says why)."""
        with self._lock:
            channel = self.notes.index(value) + 1 if value in self.notes else 0
            if not channel:
                self._event(0, INVALID)
            elif not self._master:
                self._event(0, MASTER_INHIBITED)
            elif channel not in self._channels:
                self._event(0, INHIBITED)
            else:
                self._event(channel, STACKED)
                self._stacked.append(value)
                return True
            return False

    def power_cycle(self) -> None:
        """Lose the event buffer (the counter reads 0) and the inhibit settings."""
        with self._lock:
            self._counter, self._master, self._channels = 0, False, frozenset()
            self._events.clear()

    def _event(self, result_a: int, result_b: int) -> None:
        self._counter = self._counter % 255 + 1  # 1…255, then 1 again: 0 only after a reset
        self._events.appendleft((result_a, result_b))

    def _note_channels(self) -> frozenset[int]:
        return frozenset(range(1, len(self.notes) + 1))

    # --- the wire ----------------------------------------------------------------------------

    def answer(self, request: bytes) -> bytes:
        """The reply to the frame ``request`` (a NAK for what it does not know)."""
        header, data = request[3], request[4:-1]
        with self._lock:
            answer = self._answer(header, data)
        return frame(request[2], self.address, NAK if answer is None else ACK, answer or b"")

    def _answer(self, header: int, data: bytes) -> bytes | None:
        if header == SIMPLE_POLL:
            return b""
        if header == SERIAL_NUMBER:
            return self.serial.to_bytes(3, "little")
        if header == INHIBIT_STATUS and len(data) == 2:
            bits = int.from_bytes(data, "little")
            self._channels = frozenset(n + 1 for n in range(16) if bits >> n & 1)
            return b""
        if header == MASTER_INHIBIT and len(data) == 1:
            self._master = bool(data[0] & 1)
            return b""
        if header == BILL_EVENTS:
            pairs = [*self._events, *[(0, 0)] * (EVENTS - len(self._events))]
            return bytes([self._counter, *(byte for pair in pairs for byte in pair)])
        if header == BILL_ID and len(data) == 1:
            known = 1 <= data[0] <= len(self._ids)
            return self._ids[data[0] - 1] if known else NO_BILL
        return None

    def start(self) -> None:
        """Open the pty and serve it in a thread."""
        master, slave = os.openpty()
        tty.setraw(slave)
        self._fds, self.port = (master, slave), os.ttyname(slave)
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name="cash-acceptor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the pty."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._fds is not None:
            for fd in self._fds:
                os.close(fd)
            self._fds = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        assert self._fds is not None
        master = self._fds[0]
        buffer = bytearray()
        while not self._stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                buffer += os.read(master, 512)
                for request in frames(buffer):
                    if request[0] in (self.address, 0):
                        echoed = request if self.echo else b""
                        os.write(master, echoed + self.answer(request))


def frame(dest: int, src: int, header: int, data: bytes = b"") -> bytes:
    """A ccTalk frame: ``[dest][length][src][header][data…][checksum]``, the bytes summing to
    0 modulo 256."""
    body = bytes([dest, len(data), src, header]) + data
    return body + bytes([-sum(body) % 256])


def frames(buffer: bytearray) -> Iterator[bytes]:
    """The whole frames at the start of ``buffer``, taken out of it; those whose checksum
    fails are dropped."""
    while len(buffer) >= 2 and len(buffer) >= buffer[1] + 5:
        raw = bytes(buffer[: buffer[1] + 5])
        del buffer[: len(raw)]
        if sum(raw) % 256 == 0:
            yield raw


# --- the process -------------------------------------------------------------------------------


class ControlServer(socketserver.ThreadingTCPServer):
    """A loopback TCP socket taking one command a line (``insert 500``, ``status``,
    ``power-cycle``) for ``acceptor``: a person's hand, for the demo and for tests."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], acceptor: SimulatedAcceptor) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _ControlHandler)
        self.acceptor = acceptor


class _ControlHandler(socketserver.StreamRequestHandler):
    server: ControlServer

    def handle(self) -> None:
        for raw in self.rfile:
            answer = command(self.server.acceptor, raw.decode("utf-8", "replace"))
            self.wfile.write(answer.encode() + b"\n")


def command(acceptor: SimulatedAcceptor, line: str) -> str:
    """The answer to one control line: ``insert VALUE``, ``status`` or ``power-cycle``."""
    words = line.split()
    if len(words) == 2 and words[0] == "insert" and words[1].isdigit():
        return "credited" if acceptor.insert(int(words[1])) else "refused"
    if words == ["status"]:
        accepting = "yes" if acceptor.accepting else "no"
        return f"accepting {accepting} counter {acceptor.counter} serial {acceptor.serial}"
    if words == ["power-cycle"]:
        acceptor.power_cycle()
        return "ok"
    return "error: insert VALUE | status | power-cycle"


def _loopback(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    host = host.strip("[]")
    try:
        if not ipaddress.ip_address(host).is_loopback:
            raise ValueError("not a loopback address")
        return host, int(port)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: a loopback HOST:PORT ({exc})") from None


def _notes(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(value) for value in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated minor units") from None


def main(argv: list[str] | None = None) -> int:
    """Run the simulator until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m printwarden.sim.cash_acceptor", description="A simulated bill validator."
    )
    parser.add_argument(
        "--control", type=_loopback, required=True, help="loopback HOST:PORT (0: any port)"
    )
    parser.add_argument("--currency", default="EUR")
    parser.add_argument("--notes", type=_notes, default=NOTES, help="e.g. 500,1000,2000")
    parser.add_argument("--serial", type=int, default=1234567)
    parser.add_argument("--echo", action="store_true", help="echo requests as a one-wire bus")
    args = parser.parse_args(argv)
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request_stop)
    acceptor = SimulatedAcceptor(args.currency, args.notes, serial=args.serial, echo=args.echo)
    with acceptor, ControlServer(args.control, acceptor) as control:
        threading.Thread(target=control.serve_forever, args=(0.1,), daemon=True).start()
        host, port = args.control[0], control.socket.getsockname()[1]
        print(f"pty {acceptor.port}", flush=True)
        print(f"control {host}:{port}", flush=True)
        while not stopping.wait(0.2):
            pass
        control.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
