"""The demo's sites. Each has a controllable link to the App Server (the fault-injecting TCP
proxy of :mod:`printwarden.sim.link`, in a process of its own, steered by a control file),
a Site Server that reaches the App Server only through that link — and that the App Server
reaches only through it too (the link's second route, the address the site advertises, by
which HQ rings the site's provider) — and its print side: real printers behind a Print
Provider whose server is the Site Server.

``printwarden demo link down SITE`` writes ``down`` to the site's control file: the link
then drops every packet in both directions (clients see timeouts, as on a cut WAN line), the
site goes offline within a second or two and HQ within three refuses to release its jobs;
``link up`` restores it and the site reconciles.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from printwarden.cli_tokens import SITE_OR_PROVIDER_ENV
from printwarden.demo import scanning as demo_scanning
from printwarden.demo.payments import ACCEPTOR_PORT_OFFSET, GATEWAY_PORT_OFFSET
from printwarden.demo.providers import (
    PROVIDER_PORT_OFFSET,
    PROVIDER_TLS_PORT_OFFSET,
    READY_SECONDS,
    DemoPrintSide,
    DemoStopping,
    wait_listening,
)
from printwarden.files import private_dir, private_file, write_private
from printwarden.keys import SITE_SECRET_FILE
from printwarden.provider.tls import self_signed
from printwarden.service.email_print import local_part
from printwarden.sim.link import LinkState, read_state, write_state

SITE_PORT_OFFSET = 100  # site-a's Site Server at port base + 100, site-b's at + 101
LINK_PORT_OFFSET = 200  # site-a's link at port base + 200, site-b's at + 201
DNS_SD_PORT_OFFSET = 53  # the App Server's DNS-SD responder (UDP and TCP) at port base + 53
HQ_TO_SITE_PORT_OFFSET = 300  # the same links' way back: HQ reaches site-a at base + 300
SMTP_PORT_OFFSET = 25  # the App Server's Email to Print listener at base + 25
MAIL_SINK_PORT_OFFSET = 26  # the demo's smarthost (a Maildir sink) at base + 26
SITE_SMTP_PORT_OFFSET = 125  # site-a's listener at base + 125, site-b's at + 126
BEACON_PORT_OFFSET = 99  # the App Server's beacon for the sites (docs/operations.md)
LINK_BEACON_PORT_OFFSET = 350  # the beacon through site-a's link at base + 350, site-b's + 351
MAIL_DOMAIN = "print.test"  # HQ's mail domain; a site's is <site>.print.test
# Mail from loopback carrying this MX's Authentication-Results counts, as if from your MX.
DEMO_RELAY = "mx.print.test"
STOP_SECONDS = 10.0


@dataclass(frozen=True)
class SiteLayout:
    """What one demo site has: printers (name → colour), queues (name → kind, printer) and
    devices (name → printer)."""

    name: str
    location: str
    printers: dict[str, bool]
    queues: dict[str, tuple[str, str]]
    devices: dict[str, str]


SITES = (
    SiteLayout(
        "site-a",
        "Site A, library",
        {"colour-laser": True, "confirm-laser": False},
        {
            "direct-colour": ("direct", "colour-laser"),
            "findme": ("findme", ""),
            "confirm": ("direct", "confirm-laser"),
        },
        {"library-mfd": "colour-laser"},
    ),
    SiteLayout(
        "site-b",
        "Site B, office",
        {"mono-laser": False, "project-laser": False},
        {
            "direct-mono": ("direct", "mono-laser"),
            "secure": ("hold", "mono-laser"),
            "project": ("direct", "project-laser"),
        },
        {"library-mono-mfd": "mono-laser"},
    ),
)
# Every port the demo listens on, relative to --port-base (the App Server's port).
PORT_OFFSETS = (
    0,
    DNS_SD_PORT_OFFSET,
    SMTP_PORT_OFFSET,
    MAIL_SINK_PORT_OFFSET,
    BEACON_PORT_OFFSET,
    *(offset + index
      for offset in (SITE_PORT_OFFSET, LINK_PORT_OFFSET, HQ_TO_SITE_PORT_OFFSET,
                     LINK_BEACON_PORT_OFFSET,
                     PROVIDER_PORT_OFFSET, PROVIDER_TLS_PORT_OFFSET, SITE_SMTP_PORT_OFFSET)
      for index in range(len(SITES))),
    # each device's simulated network scanner (demo/scanning.py)
    *(demo_scanning.ESCL_PORT_OFFSET + index
      for index in range(sum(len(site.devices) for site in SITES))),
    GATEWAY_PORT_OFFSET,  # the simulated payment gateways (demo/payments.py)
    ACCEPTOR_PORT_OFFSET,  # the pay station's simulated note acceptor's control socket
)  # fmt: skip


def mail_config(port: int, domain: str, sink_port: int, public_url: str) -> dict[str, Any]:
    """The ``[mail]`` settings of a demo server (HQ or a site)."""
    return {
        "domain": domain,
        "listen": "127.0.0.1",
        "port": port,
        "smarthost": f"127.0.0.1:{sink_port}",
        "public_url": public_url,
        "trusted_relays": [DEMO_RELAY],
        "trusted_relay_networks": ["127.0.0.0/8"],
        "unknown_sender": "reject-with-instructions",
    }


def demo_tls(data_dir: Path) -> tuple[Path, Path]:
    """The certificate (its own CA: ``tls_ca`` in ``demo.json``) and key every demo provider
    serves ipps:// with, made once in ``<data_dir>/tls``."""
    made = self_signed(data_dir / "tls", ["localhost", "127.0.0.1", "::1"])
    return made.certificate, made.key


def site_dir(data_dir: Path, site: str) -> Path:
    """Where a demo site keeps its link's control file, its Site Server and its provider."""
    return data_dir / "sites" / site


def link_control(data_dir: Path, site: str) -> Path:
    """The control file of a site's link: ``up`` or ``down``."""
    return site_dir(data_dir, site) / "link.state"


def known_sites(data_dir: Path) -> list[str]:
    """The sites of the demo in ``data_dir`` (from its ``demo.json``, else its directories)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        return sorted(json.loads((data_dir / "demo.json").read_text())["sites"])
    with contextlib.suppress(OSError):
        return sorted(p.name for p in (data_dir / "sites").iterdir() if p.is_dir())
    return []


def set_link(data_dir: Path, site: str, state: LinkState) -> Path:
    """Cut (``down``) or restore (``up``) a demo site's link; returns its control file."""
    sites = known_sites(data_dir)
    if site not in sites:
        found = ", ".join(sites) or "none: is the demo running with this --data-dir?"
        raise LookupError(f"no demo site {site!r} in {data_dir} (sites: {found})")
    path = link_control(data_dir, site)
    write_state(path, state)
    return path


def link_states(data_dir: Path) -> dict[str, str]:
    """Each demo site's link state, as its control file asks."""
    return {site: str(read_state(link_control(data_dir, site))) for site in known_sites(data_dir)}


@dataclass
class DemoSite:
    """One site's link, Site Server and print side."""

    layout: SiteLayout
    index: int
    data_dir: Path  # the demo's
    app_port: int
    port_base: int
    site_token: str
    provider_token: str
    stopping: threading.Event
    link: subprocess.Popen[bytes] | None = None
    server: subprocess.Popen[bytes] | None = None
    print_side: DemoPrintSide = field(init=False)

    def __post_init__(self) -> None:
        self.print_side = DemoPrintSide(
            self.dir,
            self.url,
            self.provider_token,
            self.port_base + PROVIDER_PORT_OFFSET + self.index,
            site=self.name,
            printers_wanted=dict(self.layout.printers),
            queues=dict(self.layout.queues),
            tls_port=self.port_base + PROVIDER_TLS_PORT_OFFSET + self.index,
            tls_files=demo_tls(self.data_dir),
            stopping=self.stopping,
        )

    @property
    def name(self) -> str:
        return self.layout.name

    @property
    def dir(self) -> Path:
        return site_dir(self.data_dir, self.name)

    @property
    def port(self) -> int:
        return self.port_base + SITE_PORT_OFFSET + self.index

    @property
    def link_port(self) -> int:
        return self.port_base + LINK_PORT_OFFSET + self.index

    @property
    def back_port(self) -> int:
        """Where HQ reaches this site's Site Server: the link's way back."""
        return self.port_base + HQ_TO_SITE_PORT_OFFSET + self.index

    @property
    def app_beacon_port(self) -> int:
        return self.port_base + BEACON_PORT_OFFSET

    @property
    def beacon_port(self) -> int:
        """Where this site reaches HQ's beacon: through its link too."""
        return self.port_base + LINK_BEACON_PORT_OFFSET + self.index

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def smtp_port(self) -> int:
        return self.port_base + SITE_SMTP_PORT_OFFSET + self.index

    @property
    def mail_domain(self) -> str:
        return f"{self.name}.{MAIL_DOMAIN}"

    def _mail_config_file(self) -> Path:
        """The site's ``[mail]`` and ``[scanning]`` (``site serve --mail-config``)."""
        table = mail_config(self.smtp_port, self.mail_domain,
                            self.port_base + MAIL_SINK_PORT_OFFSET, self.url)  # fmt: skip
        lines = ["[mail]"] + [f"{key} = {json.dumps(value)}" for key, value in table.items()]
        lines.append(demo_scanning.toml_table(self.data_dir, self.url))
        path = self.dir / "mail.toml"
        write_private(path, "\n".join(lines) + "\n")
        return path

    def start(self) -> None:
        private_dir(self.dir)
        control = link_control(self.data_dir, self.name)
        write_state(control, LinkState.UP)
        self.link = self._spawn(
            [sys.executable, "-m", "printwarden.sim.link",
             "--listen", f"127.0.0.1:{self.link_port}",
             "--target", f"127.0.0.1:{self.app_port}", "--control", str(control),
             "--route", f"127.0.0.1:{self.back_port}=127.0.0.1:{self.port}",
             "--route", f"127.0.0.1:{self.beacon_port}=127.0.0.1:{self.app_beacon_port}"],
            "link.log",
        )  # fmt: skip
        wait_listening(self.link_port, self.link, f"the link of {self.name}",
                       self.dir / "link.log", self.stopping)  # fmt: skip
        self.server = self._spawn(
            [sys.executable, "-m", "printwarden", "site", "serve",
             "--upstream", f"http://127.0.0.1:{self.link_port}",
             "--site", self.name, "--data-dir", str(self.dir / "site"),
             "--port", str(self.port),
             "--advertised-url", f"http://127.0.0.1:{self.back_port}",
             "--hq-beacon", f"127.0.0.1:{self.beacon_port}",
             "--mail-config", str(self._mail_config_file())],
            "site.log",
            {SITE_OR_PROVIDER_ENV: self.site_token},  # not on the command line: ps shows it
        )  # fmt: skip
        wait_listening(self.port, self.server, f"the Site Server of {self.name}",
                       self.dir / "site.log", self.stopping, self._online)  # fmt: skip
        self.print_side.start()

    def _spawn(
        self, command: list[str], log_name: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        if self.stopping.is_set():
            raise DemoStopping("the demo is stopping")
        with private_file(self.dir / log_name).open("ab") as log:
            return subprocess.Popen(
                command, stdout=log, stderr=log, env={**os.environ, **(env or {})}
            )

    def status(self) -> dict[str, Any]:
        """The Site Server's own view: ``mode``, ``journal_backlog``, ``replica_seq``…"""
        found: dict[str, Any] = httpx.get(f"{self.url}/site/status", timeout=2).json()
        return found

    def _online(self) -> bool:
        try:
            return bool(self.status()["mode"] == "online")
        except (httpx.HTTPError, ValueError, KeyError):
            return False

    def processes(self) -> list[subprocess.Popen[bytes]]:
        """Provider first, then Site Server, then link: the order they should stop in."""
        found = (self.print_side.process, self.server, self.link)
        return [process for process in found if process is not None]

    def manifest(self) -> dict[str, Any]:
        """This site's entry in ``demo.json``'s ``sites``."""
        return {
            "url": self.url,
            "status_url": f"{self.url}/site/status",
            "token": self.site_token,
            # What a Site Server keeps: its replica and its own secret (never HQ's).
            "replica_path": str(self.dir / "site" / "replica.db"),
            "secret_path": str(self.dir / "site" / SITE_SECRET_FILE),
            "link": {
                "port": self.link_port,
                "hq_to_site_port": self.back_port,
                "control": str(link_control(self.data_dir, self.name)),
            },
            "provider": self.print_side.manifest()["provider"],
            "queues": sorted(self.layout.queues),
            "smtp": {"host": "127.0.0.1", "port": self.smtp_port, "domain": self.mail_domain},
            "printers": sorted(self.layout.printers),
            "devices": sorted(self.layout.devices),
        }


@dataclass
class DemoSites:
    """Every demo site; :meth:`start` them (in any thread), :meth:`stop` them (in another)."""

    sites: list[DemoSite]
    stopping: threading.Event = field(default_factory=threading.Event)
    starter: threading.Thread | None = None  # the thread that runs :meth:`start`

    @classmethod
    def create(
        cls,
        data_dir: Path,
        port_base: int,
        site_tokens: dict[str, str],
        provider_tokens: dict[str, str],
    ) -> DemoSites:
        stopping = threading.Event()
        sites = [
            DemoSite(
                layout=layout,
                index=index,
                data_dir=data_dir,
                app_port=port_base,  # the App Server listens on the port base itself
                port_base=port_base,
                site_token=site_tokens[layout.name],
                provider_token=provider_tokens[layout.name],
                stopping=stopping,
            )
            for index, layout in enumerate(SITES)
        ]
        return cls(sites, stopping)

    def start(self) -> None:
        """Start every site, one after the other (raises :class:`DemoStopping` if stopped)."""
        for site in self.sites:
            site.start()

    def wait_ready(self, app_url: str, admin_token: str) -> list[str]:
        """Wait until the App Server hears every site online and each site's replica has
        caught up; returns what is still not ready when the wait ends."""
        deadline = time.monotonic() + READY_SECONDS
        missing = [site.name for site in self.sites]
        with httpx.Client(
            base_url=f"{app_url}/api/v1",
            headers={"Authorization": f"Bearer {admin_token}"},
            timeout=2,
        ) as http:
            while missing and time.monotonic() < deadline and not self.stopping.is_set():
                with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                    head = int(http.get("/health").json()["change_seq"])
                    heard = {row["name"]: row["mode"] for row in http.get("/sites").json()}
                    missing = [
                        site.name
                        for site in self.sites
                        if heard.get(site.name) != "online"
                        or int(site.status()["replica_seq"]) < head
                    ]
                if missing:
                    time.sleep(0.2)
        return missing

    def stop(self) -> None:
        """Stop every process of every site (all at once), then the printers."""
        self.stopping.set()
        starter = self.starter
        if starter is not None and starter is not threading.current_thread():
            starter.join(timeout=READY_SECONDS)  # it notices ``stopping`` within a moment
        self.stop_processes()

    def stop_processes(self) -> None:
        """Stop what has been started (a failed start is retried after this)."""
        stop_all([process for site in self.sites for process in site.processes()])
        for site in self.sites:
            site.print_side.stop()
            site.server = site.link = None

    def manifest(self) -> dict[str, Any]:
        """``sites``, ``queues``, ``printers`` and ``provider`` (the first site's) of
        ``demo.json``."""
        queues: dict[str, Any] = {}
        printers: dict[str, Any] = {}
        for site in self.sites:
            part = site.print_side.manifest()
            queues.update(_with_addresses(part["queues"], site.mail_domain))
            printers.update(part["printers"])
        return {
            "sites": {site.name: site.manifest() for site in self.sites},
            "queues": queues,
            "printers": printers,
            "provider": self.sites[0].print_side.manifest()["provider"],
            "mdns": self.sites[0].print_side.manifest()["mdns"] if self.sites else {},
            "tls_ca": str(demo_tls(self.sites[0].data_dir)[0]) if self.sites else "",
        }


def _with_addresses(queues: dict[str, Any], domain: str) -> dict[str, Any]:
    """Each hold and Find-Me queue with the address that prints to it (its site's listener)."""
    return {
        name: {**queue, "email": f"{local_part(name)}@{domain}"}
        if queue["kind"] in ("hold", "findme")
        else queue
        for name, queue in queues.items()
    }


def stop_all(processes: list[subprocess.Popen[bytes]], seconds: float = STOP_SECONDS) -> None:
    """Terminate every process at once; kill those still running after ``seconds``."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + seconds
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
