"""The provider's TLS material for ``ipps://``: a configured certificate and key, or a
self-signed certificate it makes (and keeps, 0600, in ``<data_dir>/tls``).

The self-signed certificate is its own CA (``CA:TRUE``), so clients can trust exactly it
(``demo.json``'s ``tls_ca``, a CUPS client's trust store) or pin its SHA-256 fingerprint,
which the provider logs at start-up. It names ``localhost``, the loopback addresses, the
configured and advertised host, this machine's names and ``[tls] hostnames``; it is made
again when one of those names is missing from it or it has less than 30 days left.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from printwarden.files import private_dir, write_private
from printwarden.provider.config import ProviderConfig, TlsConfig

log = logging.getLogger("printwarden.provider")

CERTIFICATE_NAME = "certificate.pem"
KEY_NAME = "key.pem"
VALID_DAYS = 397
RENEW_DAYS = 30
WILDCARD_HOSTS = ("", "0.0.0.0", "::")  # noqa: S104 (listening everywhere names no host)


class TlsError(Exception):
    """The configured certificate or key cannot be used."""


@dataclass(frozen=True, slots=True)
class TlsMaterial:
    """A certificate and its key on disk, and what clients can check it by."""

    certificate: Path
    key: Path
    fingerprint: str  # SHA-256 of the certificate (DER), colon-separated hex
    self_signed: bool

    def server_context(self) -> ssl.SSLContext:
        """A server-side context: TLS 1.2 or later, this certificate."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.certificate, self.key)
        return context


def prepare(config: ProviderConfig) -> TlsMaterial | None:
    """The provider's TLS material (None when ``[tls]`` is not configured)."""
    if config.tls is None:
        return None
    if config.tls.certificate is not None and config.tls.key is not None:
        return _configured(config.tls.certificate, config.tls.key)
    return self_signed(config.data_dir / "tls", hostnames(config, config.tls))


def _configured(certificate: Path, key: Path) -> TlsMaterial:
    try:
        loaded = x509.load_pem_x509_certificates(certificate.read_bytes())[0]
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(certificate, key)
    except (OSError, ValueError, IndexError, ssl.SSLError) as exc:
        raise TlsError(f"tls: cannot use {certificate} with {key}: {exc}") from None
    return TlsMaterial(certificate, key, fingerprint(loaded), self_signed=False)


def hostnames(config: ProviderConfig, tls: TlsConfig) -> list[str]:
    """The names and addresses a self-signed certificate is made for."""
    names = ["localhost", "127.0.0.1", "::1", config.host, config.advertised_host]
    if config.host in WILDCARD_HOSTS:
        names += [socket.getfqdn(), socket.gethostname()]
    names += tls.hostnames
    unique: list[str] = []
    for name in names:
        if name and name not in WILDCARD_HOSTS and name not in unique:
            unique.append(name)
    return unique


def self_signed(folder: Path, names: list[str]) -> TlsMaterial:
    """The self-signed certificate in ``folder``, made (again) when missing, expiring or
    not naming every one of ``names``."""
    private_dir(folder)
    certificate_path, key_path = folder / CERTIFICATE_NAME, folder / KEY_NAME
    existing = _existing(certificate_path, key_path)
    if existing is None or not _fits(existing, names):
        existing = _make(certificate_path, key_path, names)
        log.info("made a self-signed TLS certificate in %s for %s", folder, ", ".join(names))
    return TlsMaterial(certificate_path, key_path, fingerprint(existing), self_signed=True)


def _existing(certificate: Path, key: Path) -> x509.Certificate | None:
    if not certificate.exists() or not key.exists():
        return None
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(certificate, key)  # a pair
        return x509.load_pem_x509_certificate(certificate.read_bytes())
    except (ValueError, ssl.SSLError):
        return None


def _fits(certificate: x509.Certificate, names: list[str]) -> bool:
    left = certificate.not_valid_after_utc - dt.datetime.now(dt.UTC)
    if left < dt.timedelta(days=RENEW_DAYS):
        return False
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    present = {str(v) for v in san.get_values_for_type(x509.DNSName)}
    present |= {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    return all(str(_general(name).value) in present for name in names)


def _general(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _make(certificate_path: Path, key_path: Path, names: list[str]) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64])])
    now = dt.datetime.now(dt.UTC)
    identifier = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    usage = x509.KeyUsage(
        digital_signature=True, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName([_general(n) for n in names]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(identifier, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(identifier),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_private(key_path, pem_key.decode())
    write_private(certificate_path, certificate.public_bytes(serialization.Encoding.PEM).decode())
    return certificate


def fingerprint(certificate: x509.Certificate) -> str:
    """``AB:CD:…``: the SHA-256 of the certificate, as browsers and ``openssl x509
    -fingerprint -sha256`` show it."""
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()
