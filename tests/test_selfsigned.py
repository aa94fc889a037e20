"""confchat init --self-signed: a trial certificate and key beside the
config file, TLS listeners on, STS off; the server loads what it wrote and
a client that trusts the certificate verifies it by name."""

from __future__ import annotations

import ipaddress
import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509

from confchat.cli import main
from confchat.config import load
from confchat.transport.tls import make_context


def test_init_self_signed_writes_a_usable_pair(tmp_path: Path, capsys) -> None:
    path = tmp_path / "config.toml"
    assert main(["init", "--self-signed", "--path", str(path), "--tls-name", "chat.test", "--tls-name", "127.0.0.1"]) == 0
    out = capsys.readouterr().out
    cert, key = tmp_path / "confchat-cert.pem", tmp_path / "confchat-key.pem"
    assert "Wrote a self-signed certificate for chat.test, 127.0.0.1" in out
    assert "SHA-256 fingerprint: " in out
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    config = load(path)
    assert config.listen.tls == ("127.0.0.1:6697",)
    assert config.listen.https == "127.0.0.1:8443"
    assert (config.tls.cert, config.tls.key) == (str(cert), str(key))
    assert config.tls.sts is False  # nobody trusts this certificate: no policy to obey
    make_context(config.tls)  # the server accepts the pair

    certificate = x509.load_pem_x509_certificate(cert.read_bytes())
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["chat.test"]
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    fingerprint = certificate.fingerprint(certificate.signature_hash_algorithm).hex(":").upper()
    assert fingerprint in out


def test_a_client_trusting_the_certificate_verifies_the_name(tmp_path: Path) -> None:
    import socket
    import ssl

    path = tmp_path / "config.toml"
    assert main(["init", "--self-signed", "--path", str(path), "--tls-name", "localhost"]) == 0
    config = load(path)
    server_context = make_context(config.tls)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        with server_context.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(b"hello\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client_context = ssl.create_default_context(cafile=config.tls.cert)
    with client_context.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                                    server_hostname="localhost") as tls:
        assert tls.recv(100) == b"hello\r\n"
    thread.join(10)
    listener.close()
    with pytest.raises(ssl.SSLCertVerificationError):
        listener2 = socket.create_server(("127.0.0.1", 0))
        port2 = listener2.getsockname()[1]

        def serve2() -> None:
            conn, _ = listener2.accept()
            try:
                server_context.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                pass

        threading.Thread(target=serve2, daemon=True).start()
        try:
            client_context.wrap_socket(socket.create_connection(("127.0.0.1", port2), timeout=10),
                                       server_hostname="elsewhere.test")
        finally:
            listener2.close()


def test_init_self_signed_refuses_to_overwrite(tmp_path: Path, capsys) -> None:
    path = tmp_path / "config.toml"
    assert main(["init", "--self-signed", "--path", str(path)]) == 0
    before = (tmp_path / "confchat-key.pem").read_bytes()
    assert main(["init", "--self-signed", "--path", str(path)]) == 1
    assert "already exists" in capsys.readouterr().err
    # --force rewrites the config, but never an existing key or certificate.
    assert main(["init", "--self-signed", "--force", "--path", str(path)]) == 1
    assert "cannot write the trial certificate: File exists" in capsys.readouterr().err
    assert (tmp_path / "confchat-key.pem").read_bytes() == before
