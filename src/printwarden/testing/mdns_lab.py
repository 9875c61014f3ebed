"""A two-host network for DNS-SD tests: this host and a client in a network namespace.

A veth pair joins this host's network namespace (``host_ip``) to a namespace made for the
test (``client_ip``), on a /30 of its own. Each side gets a private dbus-daemon and an
avahi-daemon allowed on its veth end only, so multicast DNS crosses the pair as between two
machines and reaches no other network. Commands run as the client (``client(...)``) see the
client's avahi (``avahi-browse``, ``ippfind``) and, when a resolver is given, a
``resolv.conf`` of their own (``ip netns exec`` mounts ``/etc/netns/<name>/resolv.conf``).

Needs root, ``ip`` (iproute2), ``dbus-daemon`` and ``avahi-daemon``; a missing one is an
error that says what to install, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from printwarden.sim.ippeveprinter import BUS_CONFIG, private_run_dir
from printwarden.sim.processes import stop_process

HOST_NAME = "pw-lab-host"  # this host's avahi host name in the lab
INSTALL_HINT = "apt-get install iproute2 dbus-daemon avahi-daemon avahi-utils"
AVAHI_DAEMON = "/usr/sbin/avahi-daemon"
DBUS_DAEMON = "/usr/bin/dbus-daemon"


_AVAHI_CONFIG = """\
[server]
host-name={host_name}
domain-name=local
use-ipv4=yes
use-ipv6=no
allow-interfaces={interface}
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area={wide_area}
[publish]
publish-addresses=yes
publish-hinfo=no
publish-workstation=no
publish-domain=no
[reflector]
enable-reflector=no
"""


class LabError(RuntimeError):
    """The namespaces or daemons could not be set up."""


@dataclass
class _Daemons:
    """dbus-daemon and avahi-daemon of one side."""

    workdir: Path
    bus_address: str = ""
    prefix: list[str] = field(default_factory=list)  # runs a command on this side
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def stop(self) -> None:
        for process in reversed(self.processes):
            stop_process(process)
        self.processes.clear()


class MdnsLab:
    """This host and one client namespace, each with its own avahi-daemon."""

    def __init__(self, number: int | None = None) -> None:
        _require()
        self.number = _free_subnet((os.getpid() % 200) + 20) if number is None else number
        tag = f"{os.getpid() % 100000}"
        self.netns = f"pw-mdns-{tag}"
        self.host_if, self.client_if = f"pwh{tag}", f"pwc{tag}"
        self.host_ip, self.client_ip = f"10.213.{self.number}.1", f"10.213.{self.number}.2"
        self.workdir = Path(tempfile.mkdtemp(prefix="printwarden-mdns-lab-"))
        self.host = _Daemons(self.workdir / "host")
        self.client_side = _Daemons(self.workdir / "client")
        self._resolv_dir = Path("/etc/netns") / self.netns

    # --- life ---------------------------------------------------------------------------

    def start(self, *, unicast_domain: str = "") -> MdnsLab:
        """Make the namespace and the pair, then the daemons on both sides. With
        ``unicast_domain`` the client's resolver is this host's end of the pair (port 53)
        and that domain its search domain, as DHCP would hand them out."""
        client_resolver = self.host_ip if unicast_domain else ""
        try:
            self._network()
            self._resolv_dir.mkdir(parents=True, exist_ok=True)
            # What nss-mdns gives a desktop: this host's .local name resolves (CUPS' ipp
            # back-end looks it up with getaddrinfo after resolving a DNS-SD URI).
            (self._resolv_dir / "hosts").write_text(
                f"127.0.0.1 localhost\n{self.host_ip} {HOST_NAME}.local {HOST_NAME}\n"
            )
            if client_resolver:
                (self._resolv_dir / "resolv.conf").write_text(
                    f"nameserver {client_resolver}\nsearch {unicast_domain}\n"
                )
            self._daemons(self.host, self.host_if, [], HOST_NAME, wide_area=False)
            prefix = ["ip", "netns", "exec", self.netns]
            self._daemons(self.client_side, self.client_if, prefix, "pw-lab-client",
                          wide_area=bool(client_resolver))  # fmt: skip
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.client_side.stop()
        self.host.stop()
        _quiet(["ip", "link", "del", self.host_if])
        _quiet(["ip", "netns", "del", self.netns])
        shutil.rmtree(self._resolv_dir, ignore_errors=True)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> MdnsLab:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- use ----------------------------------------------------------------------------

    @property
    def host_bus(self) -> str:
        """The D-Bus address of this host's avahi (a provider's ``[mdns] dbus_address``)."""
        return self.host.bus_address

    def client_env(self) -> dict[str, str]:
        """What a client-side command needs in its environment (its avahi's D-Bus)."""
        return {"DBUS_SYSTEM_BUS_ADDRESS": self.client_side.bus_address}

    def client(
        self, command: Sequence[str], timeout: float = 30.0, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` on the client side (its network, its avahi)."""
        full_env = {**os.environ, **self.client_env()}
        return subprocess.run(
            ["ip", "netns", "exec", self.netns, *command],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**full_env, **(env or {})},
            check=False,
        )

    def names(self, service: str, *, on_host: bool = False) -> set[str]:
        """The instances of ``service`` one ``avahi-browse -tp`` lists now: the client's
        view, or (``on_host``) what this host's avahi-daemon holds itself."""
        browse = ["avahi-browse", "-tp", service]
        if on_host:
            env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.host_bus}
            out = subprocess.run(browse, env=env, capture_output=True, text=True, timeout=30).stdout
        else:
            out = self.client(browse).stdout
        lines = [line.split(";") for line in out.splitlines()]
        return {
            unescape_name(fields[3]) for fields in lines if len(fields) > 3 and fields[0] == "+"
        }

    def browse(self, service: str, timeout: float = 20.0, want: int = 1) -> list[Resolved]:
        """``avahi-browse -rtp`` on the client until ``want`` instances resolve (or the time
        is up): the instances found, resolved."""
        deadline = time.monotonic() + timeout
        found: list[Resolved] = []
        while time.monotonic() < deadline:
            result = self.client(["avahi-browse", "-rtp", service], timeout=timeout)
            found = parse_browse(result.stdout)
            if len(found) >= want:
                return found
            time.sleep(0.3)
        return found

    # --- set-up -------------------------------------------------------------------------

    def _network(self) -> None:
        _run(["ip", "netns", "add", self.netns])
        _run(["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.client_if])
        _run(["ip", "link", "set", self.client_if, "netns", self.netns])
        _run(["ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if])
        _run(["ip", "link", "set", self.host_if, "up"])
        inside = ["ip", "netns", "exec", self.netns]
        _run([*inside, "ip", "addr", "add", f"{self.client_ip}/30", "dev", self.client_if])
        _run([*inside, "ip", "link", "set", self.client_if, "up"])
        _run([*inside, "ip", "link", "set", "lo", "up"])

    def _daemons(
        self, side: _Daemons, interface: str, prefix: list[str], host_name: str, *, wide_area: bool
    ) -> None:
        side.workdir.mkdir(parents=True)
        # Programs that drop privileges (CUPS' back-ends run as lp) reach the bus socket too.
        for directory in (self.workdir, side.workdir):
            directory.chmod(0o755)
        bus_socket = side.workdir / "bus.sock"
        (side.workdir / "bus.conf").write_text(BUS_CONFIG.format(socket=bus_socket))
        bus = [DBUS_DAEMON, f"--config-file={side.workdir / 'bus.conf'}", "--nofork", "--nopidfile"]
        side.processes.append(_spawn([*prefix, *bus], side.workdir / "dbus.log", {}))
        _wait(bus_socket.exists, 10, "dbus-daemon", side.workdir / "dbus.log")
        side.bus_address = f"unix:path={bus_socket}"
        config = side.workdir / "avahi.conf"
        config.write_text(_AVAHI_CONFIG.format(
            host_name=host_name, interface=interface, wide_area="yes" if wide_area else "no"
        ))  # fmt: skip
        side.prefix = prefix
        _start_avahi(side)

    def restart_host_avahi(self) -> None:
        """Stop this host's avahi-daemon and start it again (its adverts gone with it)."""
        stop_process(self.host.processes.pop())
        _start_avahi(self.host)


def _start_avahi(side: _Daemons) -> None:
    config, log = side.workdir / "avahi.conf", side.workdir / "avahi.log"
    log.unlink(missing_ok=True)
    avahi = [AVAHI_DAEMON, "-f", str(config), "--no-drop-root", "--no-chroot", "--no-rlimits"]
    env = {"DBUS_SYSTEM_BUS_ADDRESS": side.bus_address}
    process = _spawn([*side.prefix, *private_run_dir(), *avahi], log, env)
    side.processes.append(process)

    def ready() -> bool:
        if process.poll() is not None:
            raise LabError(f"avahi-daemon exited:\n{log.read_text()[-2000:]}")
        return "Server startup complete" in log.read_text(errors="replace")

    _wait(ready, 15, "avahi-daemon", log)


@dataclass(frozen=True)
class Resolved:
    """One resolved line of ``avahi-browse -p``: an instance, its host, address and TXT."""

    name: str
    type: str
    host: str
    address: str
    port: int
    txt: dict[str, str]


def parse_browse(output: str) -> list[Resolved]:
    """The resolved (``=``) lines of ``avahi-browse -rtp`` output, one per instance."""
    found: dict[tuple[str, str], Resolved] = {}
    for line in output.splitlines():
        fields = line.split(";")
        if len(fields) < 10 or fields[0] != "=":
            continue
        name = unescape_name(fields[3])
        txt = dict(_txt_pair(item) for item in _txt_items(";".join(fields[9:])))
        found[(name, fields[4])] = Resolved(
            name, fields[4], fields[6], fields[7], int(fields[8]), txt
        )
    return list(found.values())


def _txt_items(field_text: str) -> list[str]:
    items, current, quoted = [], "", False
    for char in field_text:
        if char == '"':
            if quoted:
                items.append(current)
                current = ""
            quoted = not quoted
        elif quoted:
            current += char
    return items


def _txt_pair(item: str) -> tuple[str, str]:
    key, _, value = item.partition("=")
    return key, value


def unescape_name(text: str) -> str:
    """avahi-browse's ``\\DDD`` decimal escapes."""
    out = bytearray()
    index = 0
    raw = text.encode()
    while index < len(raw):
        if raw[index : index + 1] == b"\\" and raw[index + 1 : index + 4].isdigit():
            out.append(int(raw[index + 1 : index + 4]))
            index += 4
        else:
            out += raw[index : index + 1]
            index += 1
    return out.decode(errors="replace")


def _free_subnet(first: int) -> int:
    """A third octet whose 10.213.N.0/30 no interface of this host uses (labs of parallel
    test workers side by side)."""
    shown = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True)
    taken = {int(n) for n in re.findall(r"inet 10\.213\.(\d+)\.", shown.stdout)}
    for offset in range(230):
        number = 20 + (first - 20 + offset) % 230
        if number not in taken:
            return number
    raise LabError("no free 10.213.N.0/30 subnet for the lab")


def _require() -> None:
    missing = [p for p in (AVAHI_DAEMON, DBUS_DAEMON) if not Path(p).exists()]
    if shutil.which("ip") is None:
        missing.append("ip")
    if missing:
        raise LabError(f"{', '.join(missing)} not found: run `{INSTALL_HINT}`")
    if os.geteuid() != 0:
        raise LabError("network namespaces need root")


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LabError(f"{' '.join(command)}: {result.stderr.strip()}")


def _quiet(command: list[str]) -> None:
    with contextlib.suppress(OSError):
        subprocess.run(command, capture_output=True, check=False)


def _spawn(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:
        return subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **env},
        )  # fmt: skip


def _wait(condition: Callable[[], bool], timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise LabError(f"{what} did not come up in {timeout:.0f} s:\n{tail}")
        time.sleep(0.05)


@contextlib.contextmanager
def mdns_lab(unicast_domain: str = "") -> Iterator[MdnsLab]:
    """A started :class:`MdnsLab` (see :meth:`MdnsLab.start`), stopped afterwards."""
    lab = MdnsLab().start(unicast_domain=unicast_domain)
    try:
        yield lab
    finally:
        lab.stop()
