"""A ccTalk bill validator over pyserial (a real port, a pty, ``socket://…``, any URL).

New notes are the events of the validator's buffer (header 159) past the event counter last
read: the counter runs 1…255 and wraps to 1, and reads 0 after a power-up or reset. The
driver counts wraps and resets in a *cycle*, so that ``serial-cycle-counter`` names each event
once for good.

Progress is saved to ``state_file`` (``{"serial", "cycle", "last_counter"}``, written to a
temporary file, synced and renamed, mode 0600) only by :meth:`CcTalkAcceptor.acknowledge`:
a bridge killed before acknowledging reads the same events, with the same ids, when it starts
again. The one other write is the first start on a validator (no state file, or another
serial number): its current counter is taken as the start, so that notes from before this
bridge ever ran are not credited.

Limits: the validator keeps its last 5 events only, and notes must go straight to the stacker
(escrowed bills are logged and never credited). A reset that goes unseen (the counter never
read as 0) and passes the saved counter again cannot be told from new events.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import termios
import time
from dataclasses import dataclass
from pathlib import Path

import serial

from printwarden.devices.acceptors import AcceptorError, Insertion, event_id
from printwarden.devices.acceptors.cctalk import (
    BILL_IN_ESCROW,
    BILL_STACKED,
    BILL_VALIDATOR,
    BUFFERED_EVENTS,
    DEFAULT_SCALING,
    HOST,
    CcTalkError,
    EventBuffer,
    Frame,
    FrameParser,
    Header,
    TruncatedFrame,
    bill_value,
    decode_serial_number,
    encode,
    events_between,
    inhibit_mask,
    master_inhibit,
    next_counter,
)
from printwarden.files import fsync_dir

log = logging.getLogger(__name__)

BAUDRATE = 9600
READ_SLICE = 0.02  # seconds one read of the port waits for a byte
RESEND_SECONDS = 5.0  # the inhibit state is sent again this often (a reset forgets it)

Position = tuple[int, int]  # (cycle, counter) of an event


@dataclass(frozen=True)
class _Pending:
    insertion: Insertion
    before: Position  # the position just before this event: where progress stops if unsent


def _step(position: Position) -> Position:
    cycle, counter = position
    following = next_counter(counter)
    return (cycle + 1 if counter and following < counter else cycle), following


class CcTalkAcceptor:
    """A ccTalk bill validator at ``address`` on ``port_url``, this host at ``host``; notes
    are reported in ``currency``, valued by :func:`cctalk.bill_value` at ``scaling``."""

    def __init__(
        self,
        port_url: str,
        state_file: Path,
        address: int = BILL_VALIDATOR,
        host: int = HOST,
        *,
        currency: str = "EUR",
        scaling: int = DEFAULT_SCALING,
        timeout: float = 0.5,
        retries: int = 2,
    ) -> None:
        self.port_url = port_url
        self.state_file = state_file
        self.address = address
        self.host = host
        self.currency = currency
        self.scaling = scaling
        self.timeout = timeout
        self.retries = retries
        self._port: serial.Serial | None = None
        self._serial = ""
        self._position: Position = (0, 0)
        self._saved: Position = (0, 0)
        self._pending: dict[str, _Pending] = {}
        self._bill_values: dict[int, int] = {}
        self._accepting: bool | None = None
        self._sent_at = 0.0

    # --- the interface ---------------------------------------------------------------------

    def open(self) -> None:
        """Open the port, read the serial number and the saved progress, and inhibit."""
        if self._port is not None:
            raise AcceptorError(f"{self.port_url} is open already")
        try:
            self._port = serial.serial_for_url(self.port_url, baudrate=BAUDRATE, timeout=READ_SLICE)
        except (serial.SerialException, OSError) as exc:
            raise AcceptorError(f"{self.port_url}: {exc}") from None
        try:
            self._start()
        except BaseException:
            self._port.close()
            self._port = None
            raise

    def _start(self) -> None:
        try:
            self._serial = str(decode_serial_number(self._ask(Header.REQUEST_SERIAL_NUMBER)))
        except CcTalkError as exc:
            raise AcceptorError(f"{self.port_url}: {exc}") from None
        self._pending.clear()
        self._bill_values.clear()
        self._accepting = None
        self._load_progress()
        self.set_accepting(False)

    def close(self) -> None:
        """Inhibit the validator if it answers, and close the port."""
        if self._port is None:
            return
        with contextlib.suppress(AcceptorError):
            self.set_accepting(False)
        self._port.close()
        self._port = None

    def identity(self) -> str:
        """The validator's serial number (read by :meth:`open`)."""
        return self._serial

    def set_accepting(self, on: bool) -> None:
        """Enable all channels and clear the master inhibit, or the reverse; sent when it
        changes, and every :data:`RESEND_SECONDS` in case the validator was reset."""
        if on == self._accepting and time.monotonic() - self._sent_at < RESEND_SECONDS:
            return
        self._ask(Header.MODIFY_INHIBIT_STATUS, inhibit_mask(on))
        self._ask(Header.MODIFY_MASTER_INHIBIT, master_inhibit(on))
        self._accepting, self._sent_at = on, time.monotonic()

    def poll(self) -> list[Insertion]:
        """Every stacked note not yet acknowledged, oldest first."""
        self._advance(self._read_events())
        return [pending.insertion for pending in self._pending.values()]

    def acknowledge(self, event_id: str) -> None:
        """Forget ``event_id`` and save progress up to the oldest note still unacknowledged."""
        if event_id not in self._pending:
            return
        rest = [pending for key, pending in self._pending.items() if key != event_id]
        progress = rest[0].before if rest else self._position
        if progress != self._saved:
            self._save(progress)
        del self._pending[event_id]

    def __enter__(self) -> CcTalkAcceptor:
        self.open()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- events ----------------------------------------------------------------------------

    def _advance(self, buffer: EventBuffer) -> None:
        cycle, last = self._position
        if buffer.counter == 0:
            if last:
                log.warning("acceptor %s was reset (event counter 0)", self._serial)
                self._position, self._accepting = (cycle + 1, 0), None
            return
        count = events_between(last, buffer.counter)
        if count > BUFFERED_EVENTS:
            log.error("acceptor %s: %d events lost", self._serial, count - BUFFERED_EVENTS)
        position = self._position
        for _ in range(count - min(count, BUFFERED_EVENTS)):
            position = _step(position)
        for result in reversed(buffer.results[: min(count, BUFFERED_EVENTS)]):
            before, position = position, _step(position)
            self._record(result, before, position)
        self._position = position

    def _record(self, result: tuple[int, int], before: Position, at: Position) -> None:
        bill_type, code = result
        if bill_type == 0:
            log.info("acceptor %s: status %d at event %d", self._serial, code, at[1])
        elif code == BILL_IN_ESCROW:
            log.error("acceptor %s: a bill held in escrow is not credited", self._serial)
        elif code == BILL_STACKED:
            value = self._bill_value(bill_type)
            insertion = Insertion(event_id(self._serial, *at), value, self.currency)
            self._pending[insertion.event_id] = _Pending(insertion, before)
        else:
            log.warning("acceptor %s: bill event %r", self._serial, result)

    def _read_events(self) -> EventBuffer:
        try:
            return EventBuffer.decode(self._ask(Header.READ_BUFFERED_BILL_EVENTS))
        except CcTalkError as exc:
            raise AcceptorError(f"{self.port_url}: {exc}") from None

    def _bill_value(self, bill_type: int) -> int:
        if bill_type not in self._bill_values:
            raw = self._ask(Header.REQUEST_BILL_ID, bytes([bill_type]))
            try:
                _country, value = bill_value(raw.decode("ascii", "replace"), self.scaling)
            except CcTalkError as exc:
                raise AcceptorError(f"bill type {bill_type}: {exc}") from None
            self._bill_values[bill_type] = value
        return self._bill_values[bill_type]

    # --- progress on disk ------------------------------------------------------------------

    def _load_progress(self) -> None:
        saved = self._read_state()
        if saved is None or saved[0] != self._serial:
            counter = self._read_events().counter
            log.info("acceptor %s: starting at event counter %d", self._serial, counter)
            self._position = (0, counter)
            self._save(self._position)
        else:
            self._position = self._saved = saved[1], saved[2]

    def _read_state(self) -> tuple[str, int, int] | None:
        try:
            state = json.loads(self.state_file.read_text(encoding="utf-8"))
            return str(state["serial"]), int(state["cycle"]), int(state["last_counter"])
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise AcceptorError(f"{self.state_file}: unreadable ({exc})") from None

    def _save(self, progress: Position) -> None:
        try:
            self._write_state(progress)
        except OSError as exc:
            raise AcceptorError(f"{self.state_file}: progress not saved ({exc})") from None
        self._saved = progress

    def _write_state(self, progress: Position) -> None:
        state = {"serial": self._serial, "cycle": progress[0], "last_counter": progress[1]}
        directory = self.state_file.parent
        fd, temporary = tempfile.mkstemp(prefix=f".{self.state_file.name}.", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(state, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.state_file)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        fsync_dir(directory)

    # --- the wire --------------------------------------------------------------------------

    def _ask(self, header: int, data: bytes = b"") -> bytes:
        """The data of the validator's ACK to ``header``, tried ``retries`` more times."""
        request = encode(Frame(self.address, self.host, header, data))
        problem = ""
        for _attempt in range(self.retries + 1):
            try:
                return self._exchange(request)
            except CcTalkError as exc:
                problem = str(exc)
            except (serial.SerialException, OSError, termios.error) as exc:
                raise AcceptorError(f"{self.port_url}: {exc}") from None
        raise AcceptorError(f"{self.port_url}: header {header}: {problem}")

    def _exchange(self, request: bytes) -> bytes:
        if self._port is None:
            raise AcceptorError(f"{self.port_url} is not open")
        self._port.reset_input_buffer()
        self._port.write(request)
        parser = FrameParser(own_address=self.host)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for frame in parser.feed(self._port.read(self._port.in_waiting or 1)):
                if frame.src != self.address or frame.dest != self.host:
                    continue
                if frame.header != Header.REPLY:
                    raise CcTalkError(f"refused with header {frame.header}")
                return frame.data
        if parser.pending:
            raise TruncatedFrame(f"{parser.pending} bytes of a reply, then nothing")
        raise CcTalkError(f"no reply within {self.timeout} s")
