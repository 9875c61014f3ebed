"""A private Dovecot IMAP server for the tests of the IMAP source (Debian's ``dovecot-imapd``).

It runs in a temporary directory of its own, on 127.0.0.1 and a free port, over IMAPS with a
certificate of a throwaway CA (``ca_file``) or over plain IMAP, and authenticates with OAuth2
bearer tokens only (``auth_mechanisms = xoauth2 oauthbearer``): Dovecot's ``oauth2`` passdb
asks a local RFC 7662 introspection endpoint (an ``http.server`` in a thread) whether a
token is active; ``tokens`` (token → username) is what that endpoint knows, and tests may
change it while the server runs. One mail user, ``username``, whose Maildir messages are
delivered into by writing files into ``new/``.

Run as root, the mail processes run as the ``dovecot`` system user (Dovecot refuses mail
access as uid 0) and the login processes as ``dovenull``; otherwise everything runs as the
current user.
"""

from __future__ import annotations

import datetime
import grp
import imaplib
import ipaddress
import json
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from printwarden.sim.ports import free_port
from printwarden.testing.processes import log_tail, stop, wait_ready

DOVECOT = "/usr/sbin/dovecot"


def available() -> bool:
    """Whether Dovecot is installed (Debian: ``dovecot-imapd``)."""
    return Path(DOVECOT).exists() and Path("/usr/lib/dovecot/imap").exists()


def xoauth2(username: str, token: str) -> bytes:
    """The SASL XOAUTH2 initial response."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01".encode()


Form = dict[str, list[str]]


class FormEndpoint:
    """A JSON endpoint on 127.0.0.1 (a thread) that answers each form POSTed to ``path``
    with ``answer(form)`` → (status, JSON object); it keeps the forms it got."""

    def __init__(self, path: str, answer: Callable[[Form], tuple[int, dict[str, Any]]]) -> None:
        self.calls: list[Form] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                outer.calls.append(form)
                status, body = answer(form)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class Introspection(FormEndpoint):
    """OAuth2 token introspection (RFC 7662) for Dovecot: ``tokens`` maps a token to its
    user (changeable while it runs)."""

    def __init__(self, tokens: dict[str, str]) -> None:
        self.tokens = tokens
        super().__init__("/introspect", self._introspect)

    def _introspect(self, form: Form) -> tuple[int, dict[str, Any]]:
        user = self.tokens.get((form.get("token") or [""])[0])
        if user is None:
            return 200, {"active": False}
        return 200, {"active": True, "username": user, "scope": "imap"}


def test_ca(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA (``ca.pem``) and a server certificate for ``localhost``/127.0.0.1
    signed by it (``cert.pem``, ``key.pem``)."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "printwarden test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = (
        directory / "ca.pem",
        directory / "cert.pem",
        directory / "key.pem",
    )
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return ca_path, cert_path, key_path


class Dovecot:
    """A private Dovecot; ``start()``, then ``port``, ``ca_file``, ``deliver()``, ``client()``;
    ``stop()`` ends it and every process it started and removes its directory."""

    def __init__(self, username: str, tokens: dict[str, str], tls: bool = True) -> None:
        self.username = username
        self.tokens = tokens
        self.tls = tls
        self.port = 0
        self.directory = Path(tempfile.mkdtemp(prefix="pw-dovecot-"))
        self.directory.chmod(0o755)  # the mail and login processes run as other users
        self.maildir = self.directory / "home" / "Maildir"
        self.log = self.directory / "dovecot.log"
        self.ca_file, self._cert, self._key = test_ca(self.directory)
        self._process: subprocess.Popen[bytes] | None = None
        self._introspection: Introspection | None = None
        self._delivered = 0
        if os.geteuid() == 0:
            self._mail_user = "dovecot"
            self._login_user, self._internal_user = "dovenull", "dovecot"
        else:
            me = pwd.getpwuid(os.geteuid()).pw_name
            self._mail_user = self._login_user = self._internal_user = me
        entry = pwd.getpwnam(self._mail_user)
        self._uid, self._gid = entry.pw_uid, entry.pw_gid

    def start(self) -> None:
        self._introspection = Introspection(self.tokens)
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)
        for path in (self.directory / "home", self.maildir, *self.maildir.iterdir()):
            os.chown(path, self._uid, self._gid)
        self._key.chmod(0o600)
        self.port = free_port()
        config = self.directory / "dovecot.conf"
        config.write_text(self._config())
        oauth2 = self.directory / "oauth2.conf.ext"
        oauth2.write_text(
            "introspection_mode = post\n"
            f"introspection_url = {self._introspection.url}\n"
            "force_introspection = yes\n"
            "username_attribute = username\n"
            "active_attribute = active\n"
            "active_value = true\n"
        )
        with self.log.open("ab") as stderr:
            self._process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        try:
            wait_ready(self._process, self._listening, "dovecot", self.log, seconds=20)
        except BaseException:
            self.stop()
            raise

    def _config(self) -> str:
        d = self.directory
        group = grp.getgrgid(self._gid).gr_name
        listeners = (
            "  inet_listener imap {\n    port = 0\n  }\n"
            f"  inet_listener imaps {{\n    port = {self.port}\n    ssl = yes\n  }}\n"
            if self.tls
            else f"  inet_listener imap {{\n    port = {self.port}\n  }}\n"
            "  inet_listener imaps {\n    port = 0\n  }\n"
        )
        ssl_lines = (
            f"ssl = required\nssl_cert = <{self._cert}\nssl_key = <{self._key}\n"
            if self.tls
            else "ssl = no\n"
        )
        return (
            f"base_dir = {d}/run\n"
            f"state_dir = {d}/state\n"
            f"log_path = {self.log}\n"
            f"info_log_path = {self.log}\n"
            "protocols = imap\n"
            "listen = 127.0.0.1\n"
            "shutdown_clients = yes\n"
            f"default_login_user = {self._login_user}\n"
            f"default_internal_user = {self._internal_user}\n"
            f"default_internal_group = {group}\n"
            "first_valid_uid = 1\n"
            "disable_plaintext_auth = no\n"
            "auth_mechanisms = xoauth2 oauthbearer\n"
            "auth_cache_size = 0\n"
            "auth_failure_delay = 0\n"
            "auth_verbose = yes\n"
            f"mail_location = maildir:{self.maildir}\n"
            + ssl_lines
            + "passdb {\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n"
            f"  args = {d}/oauth2.conf.ext\n}}\n"
            "userdb {\n  driver = static\n"
            f"  args = uid={self._uid} gid={self._gid} home={d}/home allow_all_users=yes\n}}\n"
            "service imap-login {\n  chroot =\n" + listeners + "}\n"
            # No auth penalty (a growing delay after failed logins from one IP, up to 15 s):
            # the auth process cannot reach anvil's penalty socket, so it does without.
            "service anvil {\n  chroot =\n"
            "  unix_listener anvil-auth-penalty {\n    mode = 0\n  }\n}\n"
            "service stats {\n  unix_listener stats-reader {\n    mode = 0666\n  }\n"
            "  unix_listener stats-writer {\n    mode = 0666\n  }\n}\n"
        )

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def deliver(self, raw: bytes) -> None:
        """Put a message into the Maildir (as a local delivery agent would)."""
        self._delivered += 1
        name = f"{time.time_ns()}.P{os.getpid()}Q{self._delivered}.printwarden-test"
        tmp = self.maildir / "tmp" / name
        tmp.write_bytes(raw)
        os.chown(tmp, self._uid, self._gid)
        tmp.chmod(0o600)
        os.replace(tmp, self.maildir / "new" / name)

    def client(self, token: str) -> imaplib.IMAP4:
        """An authenticated IMAP connection (XOAUTH2 with ``token``); close with logout()."""
        imap: imaplib.IMAP4
        if self.tls:
            context = ssl.create_default_context(cafile=str(self.ca_file))
            imap = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context, timeout=10)
        else:
            imap = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        try:
            imap.authenticate("XOAUTH2", lambda _challenge: xoauth2(self.username, token))
        except BaseException:
            imap.shutdown()
            raise
        return imap

    def flags(self, token: str, mailbox: str = "INBOX") -> list[tuple[int, set[str]]]:
        """(UID, flags) of every message in ``mailbox``."""
        imap = self.client(token)
        try:
            imap.select(mailbox)
            _typ, data = imap.uid("FETCH", "1:*", "(FLAGS)")
        finally:
            imap.logout()
        found: list[tuple[int, set[str]]] = []
        for item in data:
            if not isinstance(item, bytes):
                continue
            parsed = imaplib.ParseFlags(item)
            uid = int(item.split(b"UID ", 1)[1].split()[0].rstrip(b")"))
            found.append((uid, {flag.decode() for flag in parsed}))
        return sorted(found)

    def empty(self, token: str, mailbox: str = "INBOX") -> None:
        """Delete every message of ``mailbox``."""
        imap = self.client(token)
        try:
            imap.select(mailbox)
            imap.uid("STORE", "1:*", "+FLAGS.SILENT", r"(\Deleted)")
            imap.expunge()
        finally:
            imap.logout()

    def log_tail(self, size: int = 4000) -> str:
        return log_tail(self.log, size)

    def stop(self) -> None:
        """Stop Dovecot (its master ends its children), the endpoint, remove the directory."""
        if self._process is not None:
            stop(self._process)
            self._process = None
        if self._introspection is not None:
            self._introspection.close()
            self._introspection = None
        shutil.rmtree(self.directory, ignore_errors=True)
