"""TLS end to end, against the real ``confchat serve`` with a test CA
(trustme): Python's ssl, ``openssl s_client``, irssi with TLS in tmux, the
websockets library over wss://, and Debian's chromium on https:// trusting
the certificate by its public key; STS as each connection is offered it; a
SIGHUP that swaps the certificate while a client stays connected; stalled
and garbage handshakes that cost only their own connection."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
from pathlib import Path

import pytest
import trustme
from argon2 import PasswordHasher

from conftest import CHROMIUM, CHROMIUM_ARGS, ServerProcess, wait_until
from e2e_client import IRCClient

TLS_ANNOUNCE = re.compile(r"ircs://127\.0\.0\.1:(\d+)")
HTTPS_ANNOUNCE = re.compile(r"https://127\.0\.0\.1:(\d+)/")
WSS_ANNOUNCE = re.compile(r"wss://127\.0\.0\.1:(\d+)/ws")


class Pki:
    """A test CA and the server's certificate files, which can be renewed."""

    def __init__(self, folder: Path) -> None:
        self.ca = trustme.CA()
        self.folder = folder
        self.cert = folder / "server.crt"
        self.key = folder / "server.key"
        self.ca_file = folder / "ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        self.issue()

    def issue(self) -> int:
        """New certificate and key at the same paths (as certbot renews);
        the new serial number."""
        issued = self.ca.issue_cert("localhost", "127.0.0.1")
        self.cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
        self.key.write_bytes(issued.private_key_pem.bytes())
        os.chmod(self.key, 0o600)
        return serial_of_pem(self.cert.read_bytes())

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def spki_hash(self) -> str:
        """base64(SHA-256(SubjectPublicKeyInfo)): what chromium's
        --ignore-certificate-errors-spki-list trusts."""
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        cert = x509.load_pem_x509_certificate(self.cert.read_bytes())
        spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def serial_of_pem(pem: bytes) -> int:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem).serial_number


def serial_of_der(der: bytes) -> int:
    from cryptography import x509

    return x509.load_der_x509_certificate(der).serial_number


HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)


def tls_config(pki: Pki, **tls) -> dict:
    return {
        "server": {"visitor_channels": True},
        "listen": {"tls": ["127.0.0.1:0"], "https": "127.0.0.1:0"},
        "tls": {"cert": str(pki.cert), "key": str(pki.key), "sts_duration": 600, **tls},
        "accounts": [{"name": "moda", "password_hash": HASHER.hash("moda-pw")}],
        "conferences": [{
            "channel": "#townhall", "title": "Ask the mayor", "moderators": ["moda"],
            "state": "live", "mode": "moderated",
        }],
    }


class TlsServer:
    """The TLS ports a started server announced."""

    def __init__(self, server: ServerProcess, pki: Pki) -> None:
        self.server = server
        self.pki = pki
        log = server.log
        self.tls_port = int(TLS_ANNOUNCE.search(log)[1])  # type: ignore[index]
        self.https_port = int(HTTPS_ANNOUNCE.search(log)[1])  # type: ignore[index]
        assert int(WSS_ANNOUNCE.search(log)[1]) == self.https_port  # type: ignore[index]

    def client(self, nick: str | None = None, name: str = "localhost", **kwargs) -> IRCClient:
        """A client over TLS, verifying the certificate for ``name``."""
        client = IRCClient("127.0.0.1", self.tls_port)
        client.sock = self.pki.client_context().wrap_socket(client.sock, server_hostname=name)
        if nick is not None:
            client.register(nick, **kwargs)
        return client


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    folder = tmp_path / "pki"
    folder.mkdir()
    return Pki(folder)


@pytest.fixture
def tls_server(start_server, pki) -> TlsServer:
    return TlsServer(start_server(tls_config(pki)), pki)


def cap_ls(client: IRCClient) -> dict[str, str]:
    client.send("CAP LS 302")
    reply = client.expect(lambda m: m.command == "CAP" and m.params[1] == "LS")
    return dict(token.partition("=")[::2] for token in reply.params[-1].split())


# ------------------------------------------------------------ Python's ssl


def test_tls_and_plain_clients_chat_side_by_side(tls_server) -> None:
    alice = tls_server.client("alice")
    assert alice.sock.version() in ("TLSv1.2", "TLSv1.3")
    bob = tls_server.server.client("bob")  # plain TCP, same server
    alice.send("JOIN #square")
    alice.expect("366")
    bob.send("JOIN #square")
    bob.expect("366")
    alice.send("PRIVMSG #square :over TLS")
    assert bob.expect("PRIVMSG").params == ("#square", "over TLS")
    bob.send("PRIVMSG #square :over plain TCP")
    assert alice.expect("PRIVMSG").params == ("#square", "over plain TCP")
    # A big burst crosses TLS whole and in order.
    lines = [f"line {i} " + "y" * 300 for i in range(200)]
    for line in lines:
        bob.send(f"PRIVMSG #square :{line}")
    got = [alice.expect("PRIVMSG").params[1] for _ in lines]
    assert got == lines


def test_sts_upgrade_on_plain_and_persistence_on_tls(tls_server) -> None:
    plain = tls_server.server.client()
    assert cap_ls(plain)["sts"] == f"port={tls_server.tls_port}"
    named = tls_server.client()  # SNI: localhost
    assert cap_ls(named)["sts"] == "duration=600"
    by_address = tls_server.client(name="127.0.0.1")  # no SNI for an address
    assert "sts" not in cap_ls(by_address)
    named.send("CAP REQ :sts")
    assert named.expect("CAP").params[1:] == ("NAK", "sts")


def test_sts_off(start_server, pki) -> None:
    server = TlsServer(start_server(tls_config(pki, sts=False)), pki)
    assert "sts" not in cap_ls(server.server.client())
    assert "sts" not in cap_ls(server.client())


def test_a_client_that_does_not_trust_the_certificate_is_refused(tls_server) -> None:
    raw = socket.create_connection(("127.0.0.1", tls_server.tls_port), timeout=10)
    with pytest.raises(ssl.SSLCertVerificationError):
        ssl.create_default_context().wrap_socket(raw, server_hostname="localhost")  # system CAs only
    # ... and the server goes on serving the next one.
    tls_server.client("carol").send("PING :x")


def test_https_pages_and_headers(tls_server) -> None:
    context = tls_server.pki.client_context()
    with context.wrap_socket(socket.create_connection(("127.0.0.1", tls_server.https_port), timeout=10),
                             server_hostname="localhost") as sock:
        assert sock.selected_alpn_protocol() in (None, "http/1.1")
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert body == b"ok\n"


# ------------------------------------------------------------ openssl s_client


def s_client(port: int, ca: Path, *extra: str, stdin: str = "") -> subprocess.CompletedProcess:
    if shutil.which("openssl") is None:
        if os.environ.get("CI"):
            pytest.fail("openssl is missing (scripts/install-test-deps installs it)")
        pytest.skip("openssl not installed")
    return subprocess.run(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", str(ca), "-verify_return_error",
         "-ign_eof", *extra],
        input=stdin, capture_output=True, text=True, timeout=30,
    )


def test_openssl_s_client_verifies_and_registers(tls_server) -> None:
    result = s_client(
        tls_server.tls_port, tls_server.pki.ca_file, "-servername", "localhost",
        stdin="CAP LS 302\r\nNICK osc\r\nUSER osc 0 * :osc\r\nCAP END\r\nQUIT :bye\r\n",
    )
    assert "Verify return code: 0 (ok)" in result.stdout, result.stdout + result.stderr
    assert " 001 osc " in result.stdout
    assert "sts=duration=600" in result.stdout
    assert "ERROR :Closing Link" in result.stdout or "ERROR :" in result.stdout


def test_min_version_13_refuses_tls_12(start_server, pki) -> None:
    server = TlsServer(start_server(tls_config(pki, min_version="1.3")), pki)
    old = s_client(server.tls_port, pki.ca_file, "-servername", "localhost", "-tls1_2", stdin="QUIT\r\n")
    assert old.returncode != 0
    assert "protocol version" in old.stderr, old.stderr  # the server's alert
    assert "Cipher is (NONE)" in old.stdout
    new = s_client(server.tls_port, pki.ca_file, "-servername", "localhost", "-tls1_3",
                   stdin="NICK n13\r\nUSER n 0 * :n\r\nQUIT\r\n")
    assert "Protocol  : TLSv1.3" in new.stdout or "TLSv1.3" in new.stdout
    assert " 001 n13 " in new.stdout


# ------------------------------------------------------------ handshakes that go wrong


def test_stalled_and_garbage_handshakes_cost_only_themselves(start_server, pki) -> None:
    server = TlsServer(start_server(tls_config(pki, handshake_timeout=1.0)), pki)
    silent = [socket.create_connection(("127.0.0.1", server.tls_port), timeout=15) for _ in range(5)]
    garbage = socket.create_connection(("127.0.0.1", server.tls_port), timeout=15)
    garbage.sendall(b"NICK plain\r\nUSER plain 0 * :plain\r\n")  # plain IRC on the TLS port
    # Meanwhile a real client connects, registers and talks at once.
    dave = server.client("dave")
    dave.send("JOIN #square")
    dave.expect("366")
    # The garbage one is closed, the silent ones after the timeout.
    assert closed_by_server(garbage)
    for sock in silent:
        assert closed_by_server(sock)
    dave.send("PING :still here")
    assert dave.expect("PONG").params[-1] == "still here"
    metrics = metrics_text(server)
    assert re.search(r'reason="tls_handshake"\} ([0-9.]+)', metrics), metrics[:2000]


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closes ``sock`` (after an alert, perhaps) before
    the socket's timeout."""
    try:
        while sock.recv(65536):
            pass
    except socket.timeout:
        return False
    except ConnectionResetError:
        pass
    return True


def metrics_text(server: TlsServer) -> str:
    with server.pki.client_context().wrap_socket(
        socket.create_connection(("127.0.0.1", server.https_port), timeout=10), server_hostname="localhost"
    ) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data.decode()


# ------------------------------------------------------------ SIGHUP


def test_sighup_swaps_the_certificate_without_dropping_anyone(tls_server) -> None:
    old_serial = serial_of_pem(tls_server.pki.cert.read_bytes())
    erin = tls_server.client("erin")
    assert serial_of_der(erin.sock.getpeercert(binary_form=True)) == old_serial
    erin.send("JOIN #square")
    erin.expect("366")

    new_serial = tls_server.pki.issue()
    assert new_serial != old_serial
    tls_server.server.signal(signal.SIGHUP)
    wait_until(lambda: "tls.reloaded" in tls_server.server.log)

    frank = tls_server.client("frank")
    assert serial_of_der(frank.sock.getpeercert(binary_form=True)) == new_serial
    frank.send("JOIN #square")
    frank.expect("366")
    # The old connection is still there, on the old certificate, both ways.
    frank.send("PRIVMSG #square :hello erin")
    assert erin.expect("PRIVMSG").params == ("#square", "hello erin")
    erin.send("PRIVMSG #square :hello frank")
    assert frank.expect("PRIVMSG").params == ("#square", "hello frank")
    assert serial_of_der(erin.sock.getpeercert(binary_form=True)) == old_serial

    # A renewal gone wrong (the key of another certificate) is refused and
    # the server keeps the certificate it has.
    other = trustme.CA().issue_cert("localhost")
    tls_server.pki.key.write_bytes(other.private_key_pem.bytes())
    tls_server.server.signal(signal.SIGHUP)
    wait_until(lambda: "tls.reload_failed" in tls_server.server.log)
    assert "does not belong to the certificate" in tls_server.server.log
    grace = tls_server.client("grace")
    assert serial_of_der(grace.sock.getpeercert(binary_form=True)) == new_serial
    assert tls_server.server.proc.poll() is None


# ------------------------------------------------------------ irssi


def test_irssi_over_tls(tmux, tls_server, tmp_path: Path) -> None:
    from test_e2e_irssi import IRSSI_CONFIG, IRSSI_NICK
    from test_e2e_irssi import wait_until as wait_pane

    home = tmp_path / "irssi-home"
    home.mkdir()
    (home / "config").write_text(IRSSI_CONFIG)
    watcher = tls_server.client("watcher")
    watcher.send("JOIN #town")
    watcher.expect("366")
    watcher.send(f"MONITOR + {IRSSI_NICK}")
    watcher.expect("731")
    tmux.run(
        "new-session", "-d", "-s", "irssi", "-x", "200", "-y", "50",
        f"irssi --home={home} -n {IRSSI_NICK}",
    )
    wait_pane(lambda: "Irssi" in tmux.pane() or "irssi" in tmux.pane(), describe=tmux.pane)
    # irssi verifies the certificate against the test CA (and its name:
    # irssi matches DNS names only, so localhost, over IPv4 where the server is).
    tmux.type(f"/connect -4 -tls -tls_verify -tls_cafile {tls_server.pki.ca_file} localhost {tls_server.tls_port}")
    online = watcher.expect("730", timeout=20)
    assert online.params[-1].startswith(f"{IRSSI_NICK}!")
    tmux.type("/join #town")
    watcher.expect(lambda m: m.command == "JOIN" and m.source.startswith(f"{IRSSI_NICK}!"))
    tmux.type("hello over tls")
    msg = watcher.expect("PRIVMSG")
    assert msg.source.startswith(f"{IRSSI_NICK}!") and msg.params == ("#town", "hello over tls")
    watcher.send("PRIVMSG #town :irssi, you are encrypted")
    wait_pane(lambda: "irssi, you are encrypted" in tmux.pane(), describe=tmux.pane)


def test_irssi_refuses_a_certificate_it_cannot_verify(tmux, tls_server, tmp_path: Path) -> None:
    from test_e2e_irssi import IRSSI_CONFIG, IRSSI_NICK
    from test_e2e_irssi import wait_until as wait_pane

    home = tmp_path / "irssi-home"
    home.mkdir()
    (home / "config").write_text(IRSSI_CONFIG)
    tmux.run("new-session", "-d", "-s", "irssi", "-x", "200", "-y", "50", f"irssi --home={home} -n {IRSSI_NICK}")
    wait_pane(lambda: "Irssi" in tmux.pane() or "irssi" in tmux.pane(), describe=tmux.pane)
    # Verifying, without the test CA: the certificate is unknown to it.
    tmux.type(f"/connect -4 -tls -tls_verify localhost {tls_server.tls_port}")
    wait_pane(lambda: "Could not verify TLS servers certificate" in tmux.pane(), timeout=20, describe=tmux.pane)
    wait_pane(lambda: "Connection lost" in tmux.pane(), timeout=20, describe=tmux.pane)
    watcher = tls_server.client("watcher")
    watcher.send(f"MONITOR + {IRSSI_NICK}")
    assert watcher.expect(lambda m: m.command in ("730", "731")).command == "731"  # never registered


@pytest.fixture
def tmux():
    from test_e2e_irssi import Tmux

    missing = [tool for tool in ("irssi", "tmux") if shutil.which(tool) is None]
    if missing:
        message = f"{' and '.join(missing)} not installed"
        if os.environ.get("CI"):
            pytest.fail(message + " (required when CI is set)")
        pytest.skip(message)
    session = Tmux()
    try:
        yield session
    finally:
        session.kill()


# ------------------------------------------------------------ wss:// with the websockets library


def test_websocket_over_tls_with_the_websockets_library(tls_server) -> None:
    from websockets.sync.client import connect

    url = f"wss://localhost:{tls_server.https_port}/ws"
    with connect(url, ssl=tls_server.pki.client_context(), subprotocols=["text.ircv3.net"],
                 open_timeout=10) as ws:
        ws.send("CAP LS 302")
        ws.send("NICK wendy")
        ws.send("USER wendy 0 * :wendy")
        ws.send("CAP END")
        lines = []
        while not any(" 001 wendy " in line for line in lines):
            lines.append(ws.recv(timeout=10))
        ls = next(line for line in lines if " CAP * LS " in line)
        assert "sts=" not in ls  # no STS over WebSocket: browsers have HSTS
        ws.send("JOIN #square")
        plain = tls_server.server.client("peter")
        plain.send("JOIN #square")
        plain.expect("366")
        ws.send("PRIVMSG #square :from wss")
        assert plain.expect("PRIVMSG").params == ("#square", "from wss")
        plain.send("PRIVMSG #square :to wss")
        while True:
            line = ws.recv(timeout=10)
            if "PRIVMSG #square :to wss" in line:
                break


# ------------------------------------------------------------ chromium on https://


@pytest.fixture
def trusting_browser(pki):
    """Debian's chromium trusting the server's key (and nothing else
    unknown): --ignore-certificate-errors-spki-list with its hash."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("chromium is missing (scripts/install-test-deps installs it)")
        pytest.skip("chromium not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={pki.spki_hash()}"],
        )
        yield browser
        browser.close()


def test_chromium_visitor_on_https_chats_over_wss(trusting_browser, tls_server) -> None:
    from playwright.sync_api import expect

    moda = tls_server.server.client("moda", caps=("message-tags", "standard-replies"), sasl=("moda", "moda-pw"))
    moda.send("JOIN #townhall")
    moda.expect(lambda m: m.command == "NOTE" and m.params[:2] == ("JOIN", "CONFERENCE"))

    context = trusting_browser.new_context(locale="en-GB")
    page = context.new_page()
    errors: list[str] = []
    sockets: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("websocket", lambda ws: sockets.append(ws.url))
    page.set_default_timeout(15_000)
    try:
        response = page.goto(f"https://127.0.0.1:{tls_server.https_port}/")
        assert response is not None and response.ok
        box = page.get_by_role("textbox", name=re.compile("nickname", re.I))
        box.fill("carol")
        box.press("Enter")
        expect(page.locator(".connection")).to_have_text("Connected as carol")
        # The page opened wss:// on its own, from location.protocol.
        assert sockets and all(url.startswith(f"wss://127.0.0.1:{tls_server.https_port}/") for url in sockets), sockets
        composer = page.locator("#question")
        composer.fill("Is the chat encrypted?")
        composer.press("Enter")
        item = moda.expect(lambda m: m.command == "QUEUE" and m.params[1] == "ITEM"
                           and m.params[-1] == "Is the chat encrypted?")
        moda.send(f"QUEUE #townhall APPROVE {item.params[2]}")
        published = page.get_by_role("log").locator("li.question").filter(has_text="Is the chat encrypted?")
        expect(published).to_have_count(1)
        moda.send("PRIVMSG #townhall :Yes, end to end over TLS.")
        expect(page.get_by_role("log")).to_contain_text("Yes, end to end over TLS.")
        assert errors == []
    finally:
        context.close()


def test_chromium_refuses_an_untrusted_https_page(browser, tls_server) -> None:
    """Without the key's hash, the same browser refuses the page: the
    test above trusts it for that reason, not because errors are ignored."""
    from playwright.sync_api import Error

    context = browser.new_context()
    page = context.new_page()
    try:
        with pytest.raises(Error, match="ERR_CERT"):
            page.goto(f"https://127.0.0.1:{tls_server.https_port}/")
    finally:
        context.close()


def test_the_banner_names_every_tls_address(tls_server) -> None:
    log = tls_server.server.log
    assert f"ircs://127.0.0.1:{tls_server.tls_port}" in log
    assert f"https://127.0.0.1:{tls_server.https_port}/" in log
    assert f"wss://127.0.0.1:{tls_server.https_port}/ws" in log
    assert f"/connect -tls 127.0.0.1 {tls_server.tls_port}" in log

