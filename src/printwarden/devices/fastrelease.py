"""Fast Release: network card readers next to printers release a user's jobs on a card read.

Each reader connects to this listener over TCP (the reader is the client, as Elatec TCP
converters and RFIDeas Ethernet readers are set up to be) and sends one ASCII line per card
read (see :mod:`printwarden.devices.card_format`). Readers are known by their IP address, each
bound to a device token, and so to the device's printer on the server. A card read logs in at
that device by card, releases all the user's held and Find-Me jobs, and logs out.

Connections from unknown addresses are closed at once; unknown cards are logged and nothing
else happens. No error in one connection or one read stops the listener.

```toml
[listener]
host = "0.0.0.0"
port = 7100

[[readers]]
name = "library"             # for the log (default: the address)
address = "10.1.2.40"
token = "…"                  # printwarden admin token create --role device --device NAME
preset = "elatec"            # elatec | rfideas | rfideas-hex
prefix = ""                  # stripped when present
suffix = ""
convert = "none"             # none | hex-to-decimal | decimal-to-hex (default: the preset's)
strip_leading_zeros = false
```
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import signal
import socket
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from printwarden.devices import card_format
from printwarden.devices.card_format import CardFormat, CardFormatError, Convert, Terminator
from printwarden.devices.client import (
    DeviceApiError,
    DeviceApiUnavailable,
    DeviceClient,
    ReleaseAll,
)
from printwarden.domain.wording import count

log = logging.getLogger("printwarden.fastrelease")
DEFAULT_PORT = 7100
READ_SIZE = 4096


class ListenerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    host: str = "0.0.0.0"  # noqa: S104 - readers are on the network
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)


class ReaderConfig(BaseModel):
    """One card reader: where it connects from, its device token, how it frames reads."""

    model_config = ConfigDict(extra="forbid")
    address: str
    token: str = Field(min_length=1)
    name: str = ""
    preset: str = "elatec"
    terminator: Terminator | None = None
    prefix: str | None = None
    suffix: str | None = None
    convert: Convert | None = None
    strip_leading_zeros: bool | None = None

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return str(ipaddress.ip_address(value))

    @field_validator("preset")
    @classmethod
    def _preset(cls, value: str) -> str:
        if value not in card_format.PRESETS:
            raise ValueError(f"unknown preset {value!r}: one of {', '.join(card_format.PRESETS)}")
        return value

    @property
    def label(self) -> str:
        return f"{self.name} ({self.address})" if self.name else self.address

    def card_format(self) -> CardFormat:
        return card_format.preset(
            self.preset,
            terminator=self.terminator,
            prefix=self.prefix,
            suffix=self.suffix,
            convert=self.convert,
            strip_leading_zeros=self.strip_leading_zeros,
        )


class FastReleaseConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    listener: ListenerConfig = Field(default_factory=ListenerConfig)
    readers: list[ReaderConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_addresses(self) -> FastReleaseConfig:
        addresses = [reader.address for reader in self.readers]
        if len(set(addresses)) != len(addresses):
            raise ValueError("each reader address may appear only once")
        return self


def load_config(path: Path) -> FastReleaseConfig:
    """Read and check a readers TOML file (ValueError says what is wrong)."""
    with path.open("rb") as handle:
        return FastReleaseConfig.model_validate(tomllib.load(handle))


def peer_address(host: str) -> str:
    """The canonical text of a peer's IP address (IPv4-mapped IPv6 as IPv4)."""
    address = ipaddress.ip_address(host.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def mask(card: str) -> str:
    """A card number fit for a log: its last four characters."""
    return f"…{card[-4:]}" if len(card) > 4 else "…"


def release_card(client: DeviceClient, card: str) -> tuple[str, ReleaseAll]:
    """Log in by card, release all the user's jobs, log out; the username and the result."""
    session = client.login_card(card)
    try:
        return session.username, client.release_all(session)
    finally:
        client.logout(session)


@dataclass
class _Reader:
    config: ReaderConfig
    format: CardFormat
    client: DeviceClient


class FastReleaseServer:
    """The TCP listener; one :class:`DeviceClient` per configured reader."""

    def __init__(self, config: FastReleaseConfig, server_url: str) -> None:
        self.config = config
        self.readers = {
            r.address: _Reader(r, r.card_format(), DeviceClient(server_url, r.token))
            for r in config.readers
        }
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The port listened on (useful with port 0)."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        listener = self.config.listener
        self._server = await asyncio.start_server(self._connection, listener.host, listener.port)
        log.info("listening on %s:%d for %d readers", listener.host, self.port, len(self.readers))

    async def serve(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set."""
        try:
            await self.start()
            assert self._server is not None
            async with self._server:
                await stop.wait()
        finally:
            self.close()

    def close(self) -> None:
        for reader in self.readers.values():
            reader.client.close()

    async def _connection(self, stream: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            address = peer_address(str(peer[0]))
            reader = self.readers.get(address)
            if reader is None:
                log.warning("connection from unknown reader %s closed", address)
                return
            log.info("reader %s connected", reader.config.label)
            await self._read_cards(reader, stream)
            log.info("reader %s disconnected", reader.config.label)
        except OSError as exc:
            log.warning("connection from %s failed: %s", peer, exc)
        except Exception:
            log.exception("connection from %s: unexpected error", peer)
        finally:
            writer.close()

    async def _read_cards(self, reader: _Reader, stream: asyncio.StreamReader) -> None:
        splitter = card_format.LineSplitter()
        while data := await stream.read(READ_SIZE):
            for line in splitter.feed(data):
                await self._card_read(reader, line)
            if splitter.discarded:
                log.warning("reader %s: discarded an overlong line", reader.config.label)
                splitter.discarded = 0

    async def _card_read(self, reader: _Reader, line: bytes) -> None:
        label = reader.config.label
        try:
            card = reader.format.card_number(line)
        except CardFormatError as exc:
            log.warning("reader %s: ignored a read: %s", label, exc)
            return
        try:
            outcome = await asyncio.to_thread(release_card, reader.client, card)
        except DeviceApiError as exc:
            log.warning(
                "reader %s: card %s refused: %s (%d)", label, mask(card), exc.message, exc.status
            )
        except DeviceApiUnavailable as exc:
            log.error("reader %s: card %s: server unavailable: %s", label, mask(card), exc)
        except Exception:
            log.exception("reader %s: card %s: unexpected error", label, mask(card))
        else:
            log.info("reader %s: %s", label, describe(*outcome))


def describe(username: str, result: ReleaseAll) -> str:
    """One log line for a release: who, what printed, what was refused and why."""
    released = ", ".join(job.document_name or job.id for job in result.released) or "none"
    text = f"{username}: released {count(len(result.released), 'job')} ({released})"
    if result.refused:
        refused = "; ".join(f"{r.document_name or r.id}: {r.reason}" for r in result.refused)
        text += f", refused {len(result.refused)} ({refused})"
    return text


async def _serve(config: FastReleaseConfig, server_url: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await FastReleaseServer(config, server_url).serve(stop)


def serve(config: FastReleaseConfig, server_url: str) -> None:
    """Run the listener until SIGINT or SIGTERM."""
    asyncio.run(_serve(config, server_url))


def send_reads(
    host: str,
    port: int,
    frames: list[bytes],
    *,
    source: str = "",
    pause: float = 0.0,
    timeout: float = 60.0,
) -> bool:
    """Act as a reader: connect (from ``source``), send ``frames``, and wait until the
    listener hangs up — it does once it has handled every read, or at once for an unknown
    reader. False if it hung up before everything was sent; OSError if it cannot connect."""
    source_address = (source, 0) if source else None
    with socket.create_connection(
        (host, port), timeout=timeout, source_address=source_address
    ) as sock:
        try:
            for frame in frames:
                sock.sendall(frame)
                time.sleep(pause)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(READ_SIZE):
                pass
        except TimeoutError:
            raise
        except OSError:  # reset, broken pipe, not connected: the listener hung up
            return False
    return True
