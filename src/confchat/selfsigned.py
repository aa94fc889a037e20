"""A self-signed certificate for trying TLS (``confchat init --self-signed``).

Browsers and IRC clients do not trust it: each visitor has to accept it
once, which is fine for a rehearsal and wrong for an event. A real
deployment takes its certificate from the city's CA or from Let's Encrypt
(docs/deploy.md, "TLS directly"). Needs the ``cryptography`` package.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket

#: Days the trial certificate is valid.
VALID_DAYS = 90


def default_names() -> list[str]:
    """Names a trial certificate covers: this machine's and the loopback ones."""
    names = ["localhost", "127.0.0.1", "::1"]
    host = socket.gethostname()
    if host and host not in names:
        names.insert(0, host)
    return names


def write_self_signed(cert_path: str, key_path: str, names: list[str]) -> str:
    """Write a new key (EC P-256, mode 0600) and a certificate for ``names``
    (host names or addresses) in PEM; return the certificate's SHA-256
    fingerprint, as browsers show it. Refuses to overwrite either file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    alternatives: list[x509.GeneralName] = []
    for name in names:
        try:
            alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternatives.append(x509.DNSName(name))
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "confchat trial certificate"),
    ])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_new(key_path, key_pem, 0o600)
    try:
        _write_new(cert_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    except OSError:
        os.unlink(key_path)
        raise
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def _write_new(path: str, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
