"""A real, throwaway OpenLDAP ``slapd`` for integration tests.

The server runs as the current user on a free 127.0.0.1 port, keeps everything in a
temporary directory and is seeded with ``ldapadd``. Nothing is skipped: a missing binary
is an error that says what to install.
"""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from printwarden.sim.ports import free_port
from printwarden.sim.processes import stop_process

SLAPD = Path("/usr/sbin/slapd")
LDAPADD = Path("/usr/bin/ldapadd")
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
SCHEMAS = ("core", "cosine", "nis", "inetorgperson")
INSTALL_HINT = "apt-get install slapd ldap-utils"

SUFFIX = "dc=example,dc=test"
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "admin-secret"
READER_DN = f"cn=reader,{SUFFIX}"
READER_PASSWORD = "reader-secret"
PEOPLE_BASE = f"ou=people,{SUFFIX}"
GROUPS_BASE = f"ou=groups,{SUFFIX}"

# Plain (non-root) binds, such as the reader's, get slapd's default limit of 500 entries
# per search; only paged searches may go beyond it. That makes paging observable.
_CONFIG = """\
{includes}
pidfile {workdir}/slapd.pid
argsfile {workdir}/slapd.args
modulepath {module_dir}
moduleload back_mdb

database mdb
suffix "{suffix}"
rootdn "{admin_dn}"
rootpw {admin_password}
directory {workdir}/data
maxsize 268435456
dbnosync
index objectClass eq
index uid,cn,memberUid eq
index member eq
access to attrs=userPassword by self write by anonymous auth by * none
access to * by * read
limits dn.exact="{reader_dn}" size.soft=500 size.hard=500 size.prtotal=unlimited
"""


class SlapdError(RuntimeError):
    """The test slapd could not be started or seeded."""


def ldif_entry(dn: str, attrs: Mapping[str, Iterable[str]]) -> str:
    """Render one LDIF record; values that need it are base64-encoded."""
    lines = [_ldif_line("dn", dn)]
    for name, values in attrs.items():
        lines.extend(_ldif_line(name, value) for value in values)
    return "\n".join(lines) + "\n\n"


def _ldif_line(name: str, value: str) -> str:
    unsafe = (
        not value.isascii()
        or value[:1] in (" ", ":", "<")
        or value.endswith(" ")
        or any(ch in value for ch in "\r\n\0")
    )
    if unsafe:
        return f"{name}:: {base64.b64encode(value.encode()).decode()}"
    return f"{name}: {value}"


def escape_rdn(value: str) -> str:
    """Escape an RDN value (RFC 4514) so test names with odd characters stay one RDN."""
    escaped = "".join(f"\\{ch}" if ch in ',+"\\<>;=' else ch for ch in value)
    if escaped[:1] in (" ", "#"):
        escaped = "\\" + escaped
    if escaped.endswith(" ") and not escaped.endswith("\\ "):
        escaped = escaped[:-1] + "\\ "
    return escaped


def _require_binaries() -> None:
    missing = [str(path) for path in (SLAPD, LDAPADD) if not path.exists()]
    if missing:
        raise SlapdError(f"{', '.join(missing)} not found: run `{INSTALL_HINT}`")


class Slapd:
    """One slapd process with an ``mdb`` database for ``dc=example,dc=test``."""

    suffix = SUFFIX
    admin_dn = ADMIN_DN
    admin_password = ADMIN_PASSWORD
    reader_dn = READER_DN
    reader_password = READER_PASSWORD
    people_base = PEOPLE_BASE
    groups_base = GROUPS_BASE

    def __init__(self, startup_timeout: float = 10.0) -> None:
        self.startup_timeout = startup_timeout
        self.port = 0
        self._workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        """``ldap://127.0.0.1:PORT`` of the running server."""
        if self._process is None:
            raise SlapdError("slapd is not running")
        return f"ldap://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Write the config, start slapd, wait until it listens, add the base entries."""
        _require_binaries()
        if self._process is not None:
            raise SlapdError("slapd is already running")
        self._workdir = Path(tempfile.mkdtemp(prefix="printwarden-slapd-"))
        (self._workdir / "data").mkdir()
        (self._workdir / "admin.pw").write_text(ADMIN_PASSWORD)
        config = self._workdir / "slapd.conf"
        config.write_text(self._config())
        self.port = free_port()
        self._log = (self._workdir / "slapd.log").open("wb")
        try:
            self._process = subprocess.Popen(
                [
                    str(SLAPD),
                    "-d",
                    "none",
                    "-h",
                    f"ldap://127.0.0.1:{self.port}/",
                    "-f",
                    str(config),
                ],
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            self._wait_until_listening()
            self.add_ldif(self._base_ldif())
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Terminate slapd, wait for it and remove its directory."""
        process, self._process = self._process, None
        stop_process(process)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log_text(self) -> str:
        """Everything slapd wrote so far (errors only: it runs with ``-d none``)."""
        if self._workdir is None:
            return ""
        path = self._workdir / "slapd.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def add_ldif(self, ldif: str) -> None:
        """Add the entries of an LDIF document with one ``ldapadd`` run as the admin."""
        if self._workdir is None:
            raise SlapdError("slapd is not running")
        path = self._workdir / "seed.ldif"
        path.write_text(ldif, encoding="utf-8")
        password_file = self._workdir / "admin.pw"
        command = [str(LDAPADD), "-x", "-H", self.url, "-D", ADMIN_DN, "-y", str(password_file)]
        result = subprocess.run(
            [*command, "-f", str(path)], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise SlapdError(f"ldapadd failed ({result.returncode}): {result.stderr.strip()}")

    def delete(self, dn: str) -> None:
        """Delete one entry with ``ldapdelete`` as the admin."""
        if self._workdir is None:
            raise SlapdError("slapd is not running")
        password_file = self._workdir / "admin.pw"
        command = ["ldapdelete", "-x", "-H", self.url, "-D", ADMIN_DN, "-y", str(password_file), dn]
        result = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        if result.returncode != 0:
            raise SlapdError(f"ldapdelete failed ({result.returncode}): {result.stderr.strip()}")

    def add_entries(self, entries: Iterable[tuple[str, Mapping[str, Iterable[str]]]]) -> None:
        """Add ``(dn, attributes)`` pairs in one ``ldapadd`` run."""
        self.add_ldif("".join(ldif_entry(dn, attrs) for dn, attrs in entries))

    def add_user(
        self,
        uid: str,
        cn: str,
        mail: str = "",
        cards: Sequence[str] = (),
        password: str = "",
        *,
        card_attr: str = "carLicense",
        extra: Mapping[str, Sequence[str]] | None = None,
        base: str = PEOPLE_BASE,
    ) -> str:
        """Add an inetOrgPerson and return its DN; cards go into ``card_attr``."""
        dn = f"uid={escape_rdn(uid)},{base}"
        self.add_entries([(dn, user_attrs(uid, cn, mail, cards, password, card_attr, extra))])
        return dn

    def add_group(self, cn: str, member_dns: Sequence[str], *, base: str = GROUPS_BASE) -> str:
        """Add a groupOfNames (``member`` holds DNs; at least one is required)."""
        dn = f"cn={escape_rdn(cn)},{base}"
        self.add_entries(
            [(dn, {"objectClass": ["groupOfNames"], "cn": [cn], "member": member_dns})]
        )
        return dn

    def add_posix_group(
        self, cn: str, gid_number: int, member_uids: Sequence[str], *, base: str = GROUPS_BASE
    ) -> str:
        """Add a posixGroup (``memberUid`` holds usernames; may be empty)."""
        dn = f"cn={escape_rdn(cn)},{base}"
        attrs = {
            "objectClass": ["posixGroup"],
            "cn": [cn],
            "gidNumber": [str(gid_number)],
            "memberUid": member_uids,
        }
        self.add_entries([(dn, attrs)])
        return dn

    def _config(self) -> str:
        includes = "\n".join(f"include {SCHEMA_DIR / name}.schema" for name in SCHEMAS)
        return _CONFIG.format(
            includes=includes,
            workdir=self._workdir,
            module_dir=MODULE_DIR,
            suffix=SUFFIX,
            admin_dn=ADMIN_DN,
            admin_password=ADMIN_PASSWORD,
            reader_dn=READER_DN,
        )

    def _base_ldif(self) -> str:
        return "".join(
            [
                ldif_entry(
                    SUFFIX,
                    {
                        "objectClass": ["dcObject", "organization"],
                        "dc": ["example"],
                        "o": ["Example"],
                    },
                ),
                ldif_entry(
                    READER_DN,
                    {
                        "objectClass": ["organizationalRole", "simpleSecurityObject"],
                        "cn": ["reader"],
                        "userPassword": [READER_PASSWORD],
                    },
                ),
                ldif_entry(PEOPLE_BASE, {"objectClass": ["organizationalUnit"], "ou": ["people"]}),
                ldif_entry(GROUPS_BASE, {"objectClass": ["organizationalUnit"], "ou": ["groups"]}),
            ]
        )

    def _wait_until_listening(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                code = self._process.returncode
                raise SlapdError(f"slapd exited with {code} during startup:\n{self.log_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        raise SlapdError(
            f"slapd did not listen on port {self.port} within {self.startup_timeout} s:\n"
            f"{self.log_text()}"
        )


def user_attrs(
    uid: str,
    cn: str,
    mail: str = "",
    cards: Sequence[str] = (),
    password: str = "",
    card_attr: str = "carLicense",
    extra: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Sequence[str]]:
    """Attributes of an inetOrgPerson; empty ``mail``/``password`` are left out."""
    attrs: dict[str, Sequence[str]] = {
        "objectClass": ["inetOrgPerson"],
        "uid": [uid],
        "cn": [cn],
        "sn": [cn.split()[-1] if cn.split() else cn],
    }
    if mail:
        attrs["mail"] = [mail]
    if cards:
        attrs[card_attr] = list(cards)
    if password:
        attrs["userPassword"] = [password]
    attrs.update(extra or {})
    return attrs
