"""TLS for the LAN listeners: the operator's certificate, or a self-signed one
made at first start (``tls`` setting).  Browsers then use wss:// and https://,
and LAN devices mqtts://; the services' loopback listener stays plain."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

from edgechat.settings import Settings


class TlsError(Exception):
    """No usable certificate: the message says what to fix."""


@dataclass(frozen=True, slots=True)
class CertificatePair:
    cert: Path
    key: Path


def certificate(settings: Settings) -> CertificatePair:
    """The certificate to serve: the operator's files, or a self-signed pair in
    DATA_DIR/tls/, made once and kept (clients can pin it)."""
    if settings.tls_cert_file and settings.tls_key_file:
        pair = CertificatePair(Path(settings.tls_cert_file), Path(settings.tls_key_file))
        for path in (pair.cert, pair.key):
            if not path.is_file():
                raise TlsError(f"{path}: no such certificate file")
        return pair
    folder = settings.paths.root / "tls"
    pair = CertificatePair(folder / "cert.pem", folder / "key.pem")
    if not (pair.cert.exists() and pair.key.exists()):
        _self_signed(pair, _names(settings))
    return pair


def _names(settings: Settings) -> list[str]:
    hosts = {"localhost", socket.gethostname(), "127.0.0.1"}
    if settings.public_host:
        hosts.add(settings.public_host)
    if settings.host not in ("0.0.0.0", "::", ""):
        hosts.add(settings.host)
    return sorted(hosts)


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


def _self_signed(pair: CertificatePair, hosts: list[str]) -> None:
    pair.cert.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    san = ",".join(f"IP:{h}" if _is_ip(h) else f"DNS:{h}" for h in hosts)
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(pair.key), "-out", str(pair.cert), "-days", "825",
             "-subj", "/CN=edgechat", "-addext", f"subjectAltName={san}"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        raise TlsError(f"could not make a self-signed certificate with openssl: {exc}") from exc
    os.chmod(pair.key, 0o600)


def server_context(pair: CertificatePair) -> ssl.SSLContext:
    """For the Web service's HTTPS listener."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pair.cert, pair.key)
    return context


def client_context(pair: CertificatePair) -> ssl.SSLContext:
    """For edgechat's own probes of its LAN listeners: trust exactly our certificate."""
    context = ssl.create_default_context(cafile=str(pair.cert))
    context.check_hostname = False
    return context
