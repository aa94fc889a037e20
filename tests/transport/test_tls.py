"""transport/tls.py without a server: the certificate checks and their
messages, reloading, and TlsStream over real socket pairs against an
independent TLS client (trio.SSLStream over the standard library's ssl):
data both ways, order under back-pressure across direct writes and sends,
the handshake's bounds (timeout, garbage, per-address cap)."""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest
import trio
import trio.testing
import trustme

from confchat.config import Config, ConfigError, TlsSection, from_dict
from confchat.core.server import Server
from confchat.transport.tls import (
    HANDSHAKES_PER_IP,
    Certificates,
    TlsDirect,
    TlsStream,
    accept_tls,
    make_context,
    sts_policy,
)

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def write_pair(ca: trustme.CA, folder: Path, name: str = "server") -> tuple[Path, Path]:
    issued = ca.issue_cert("localhost", "127.0.0.1")
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
    key.write_bytes(issued.private_key_pem.bytes())
    return cert, key


def section(cert: Path | str, key: Path | str, **changes) -> TlsSection:
    return TlsSection(cert=str(cert), key=str(key), **changes)


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def serial_of(der: bytes) -> int:
    from cryptography import x509

    return x509.load_der_x509_certificate(der).serial_number


# ------------------------------------------------------------ the checks


def test_a_good_pair_loads(ca, tmp_path) -> None:
    cert, key = write_pair(ca, tmp_path)
    context = make_context(section(cert, key))
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2


def test_min_version_13(ca, tmp_path) -> None:
    cert, key = write_pair(ca, tmp_path)
    assert make_context(section(cert, key, min_version="1.3")).minimum_version is ssl.TLSVersion.TLSv1_3


def test_missing_certificate_file_is_named(ca, tmp_path) -> None:
    _, key = write_pair(ca, tmp_path)
    with pytest.raises(ConfigError) as error:
        make_context(section(tmp_path / "nope.crt", key))
    assert str(error.value) == f"tls.cert: cannot read {tmp_path / 'nope.crt'}: No such file or directory"


def test_missing_key_file_is_named(ca, tmp_path) -> None:
    cert, _ = write_pair(ca, tmp_path)
    with pytest.raises(ConfigError) as error:
        make_context(section(cert, tmp_path / "nope.key"))
    assert str(error.value).startswith(f"tls.key: cannot read {tmp_path / 'nope.key'}")


def test_a_key_of_another_certificate_is_refused(ca, tmp_path) -> None:
    cert, _ = write_pair(ca, tmp_path, "one")
    _, other_key = write_pair(ca, tmp_path, "two")
    with pytest.raises(ConfigError) as error:
        make_context(section(cert, other_key))
    assert str(error.value) == (
        f"tls.key: {other_key} does not belong to the certificate in {cert} (key values mismatch)"
    )


def test_a_file_that_is_not_pem(ca, tmp_path) -> None:
    _, key = write_pair(ca, tmp_path)
    junk = tmp_path / "junk.crt"
    junk.write_bytes(b"\x30\x82\x01\x0a not pem at all")
    with pytest.raises(ConfigError) as error:
        make_context(section(junk, key))
    assert str(error.value) == f"tls.cert: {junk} is not a PEM file (-----BEGIN ... expected)"


def test_a_key_swapped_for_the_certificate(ca, tmp_path) -> None:
    cert, key = write_pair(ca, tmp_path)
    with pytest.raises(ConfigError) as error:
        make_context(section(key, cert))  # cert and key given the wrong way round
    assert str(error.value).startswith("tls.")


def test_a_key_with_a_passphrase_is_refused_without_prompting(ca, tmp_path) -> None:
    from cryptography.hazmat.primitives import serialization

    cert, key = write_pair(ca, tmp_path)
    private = serialization.load_pem_private_key(key.read_bytes(), password=None)
    locked = tmp_path / "locked.key"
    locked.write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    ))
    with pytest.raises(ConfigError) as error:
        make_context(section(cert, locked))
    assert "protected by a passphrase" in str(error.value)
    assert str(error.value).startswith("tls.key: ")


def test_bad_min_version_in_the_config_file() -> None:
    with pytest.raises(ConfigError) as error:
        from_dict({"tls": {"min_version": "1.0"}})
    assert str(error.value) == 'tls.min_version: expected one of "1.2", "1.3", got "1.0"'


def test_a_tls_listener_without_certificate() -> None:
    with pytest.raises(ConfigError) as error:
        from_dict({"listen": {"tls": ["0.0.0.0:6697"]}})
    assert str(error.value) == "tls.cert: listen.tls is a TLS listener and needs [tls] cert and key (PEM files)"
    with pytest.raises(ConfigError) as error:
        from_dict({"listen": {"https": "0.0.0.0:8443"}, "tls": {"cert": "/etc/c.pem"}})
    assert str(error.value) == "tls.key: listen.https is a TLS listener and needs [tls] cert and key (PEM files)"


def test_bad_tls_values_in_the_config_file() -> None:
    for data, text in (
        ({"listen": {"tls": ["6697"]}}, r'^listen\.tls\[0\]: expected "host:port"'),
        ({"listen": {"https": "nowhere"}}, r'^listen\.https: expected "host:port"'),
        ({"tls": {"handshake_timeout": 0}}, r"^tls\.handshake_timeout: expected a positive number of seconds, got 0$"),
        ({"tls": {"sts_port": 70000}}, r"^tls\.sts_port: expected a port from 1 to 65535"),
        ({"tls": {"sts_duration": -1}}, r"^tls\.sts_duration: expected a number of seconds"),
        ({"tls": {"sts_hosts": ["bad host"]}}, r"^tls\.sts_hosts: expected an array of host names"),
    ):
        with pytest.raises(ConfigError, match=text):
            from_dict(data)


def test_tls_only_listeners_are_something_to_listen_on() -> None:
    config = from_dict({
        "listen": {"tcp": [], "http": "", "tls": ["127.0.0.1:6697"]},
        "tls": {"cert": "/c.pem", "key": "/k.pem"},
    })
    assert config.listen.tls == ("127.0.0.1:6697",)


def test_sts_policy_needs_a_tls_port() -> None:
    assert sts_policy(TlsSection(), []) is None  # HTTPS only: no IRC port to send anyone to
    assert sts_policy(TlsSection(sts=False), [6697]) is None
    policy = sts_policy(TlsSection(sts_duration=60), [7000, 7001])
    assert policy is not None and policy.value(None) == "port=7000"
    policy = sts_policy(TlsSection(sts_port=6697), [40000])  # behind a port forward
    assert policy is not None and policy.value(None) == "port=6697"


# ------------------------------------------------------------ the stream


def server_and_client(context: ssl.SSLContext, client_ctx: ssl.SSLContext, name: str | None = "localhost",
                      buffer: int | None = None) -> tuple[TlsStream, trio.SSLStream]:
    ours, theirs = socket.socketpair()
    if buffer:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer)
        theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
    server = TlsStream(trio.SocketStream(trio.socket.from_stdlib_socket(ours)), context)
    client = trio.SSLStream(trio.SocketStream(trio.socket.from_stdlib_socket(theirs)), client_ctx, server_hostname=name)
    return server, client


async def handshake(server: TlsStream, client: trio.SSLStream) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.do_handshake)
        nursery.start_soon(client.do_handshake)


async def read_exactly(stream: trio.abc.ReceiveStream, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = await stream.receive_some(65536)
        assert chunk, f"end of stream after {len(data)} of {size} bytes"
        data += chunk
    return bytes(data)


async def test_data_both_ways_and_the_sni_name(ca, tmp_path) -> None:
    cert, key = write_pair(ca, tmp_path)
    server, client = server_and_client(make_context(section(cert, key)), client_context(ca))
    await handshake(server, client)
    assert server.server_name == "localhost"
    await client.send_all(b"NICK alice\r\n")
    assert await server.receive_some() == b"NICK alice\r\n"
    await server.send_all(b":confchat.local 001 alice :Welcome\r\n")
    assert await client.receive_some() == b":confchat.local 001 alice :Welcome\r\n"
    await client.aclose()
    assert await server.receive_some() == b""  # close_notify: end of file
    await server.aclose()


async def test_no_sni_when_the_client_connects_by_address(ca, tmp_path) -> None:
    cert, key = write_pair(ca, tmp_path)
    server, client = server_and_client(make_context(section(cert, key)), client_context(ca), name="127.0.0.1")
    await handshake(server, client)
    assert server.server_name == ""  # an address is not sent as SNI
    await server.aclose()
    await client.aclose()


async def test_direct_writes_and_sends_keep_their_order_under_backpressure(ca, tmp_path) -> None:
    """Small socket buffers, so the direct writes fill the socket and the
    rest waits in the queue; sends made meanwhile go behind it. The client
    reads everything back in the order it was written."""
    cert, key = write_pair(ca, tmp_path)
    server, client = server_and_client(make_context(section(cert, key)), client_context(ca), buffer=4096)
    await handshake(server, client)
    direct = TlsDirect(server)
    expected = bytearray()
    for i in range(300):
        line = f"line {i:04d} {'x' * 400}\r\n".encode()
        expected += line
        assert direct.write([line]) == len(line)
    assert direct.pending and not direct.ready()  # the socket did not take it all
    late = b"after the direct writes\r\n"
    expected += late
    async with trio.open_nursery() as nursery:
        nursery.start_soon(server.send_all, late)  # queued behind, not written ahead
        nursery.start_soon(direct.flush)
        received = await read_exactly(client, len(expected))
    assert received == bytes(expected)
    assert not direct.pending and direct.ready()
    await server.aclose()
    await client.aclose()


async def test_a_write_to_a_closed_peer_breaks_the_stream(ca, tmp_path) -> None:
    cert, key = write_pair(ca, tmp_path)
    server, client = server_and_client(make_context(section(cert, key)), client_context(ca))
    await handshake(server, client)
    await client.transport_stream.aclose()
    with pytest.raises(trio.BrokenResourceError):
        for _ in range(100):  # the first writes may still land in the socket's buffer
            await server.send_all(b"x" * 65536)
    await server.aclose()


def make_core(**limits) -> Server:
    import attrs

    config = Config()
    return Server(attrs.evolve(config, limits=attrs.evolve(config.limits, **limits)))


async def test_a_stalled_handshake_times_out_and_costs_only_itself(ca, tmp_path) -> None:
    cert, key = write_pair(ca, tmp_path)
    certs = Certificates(section(cert, key, handshake_timeout=0.2))
    core = make_core()
    silent_ours, silent_theirs = socket.socketpair()  # connects, says nothing
    good_ours, good_theirs = socket.socketpair()
    results: dict[str, object] = {}

    async def accept(name: str, sock: socket.socket) -> None:
        results[name] = await accept_tls(core, certs, trio.SocketStream(trio.socket.from_stdlib_socket(sock)), "192.0.2.9")

    client = trio.SSLStream(
        trio.SocketStream(trio.socket.from_stdlib_socket(good_theirs)), client_context(ca), server_hostname="localhost"
    )
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(accept, "silent", silent_ours)
            nursery.start_soon(accept, "good", good_ours)
            await client.do_handshake()  # completes while the silent one still waits
            await trio.testing.wait_all_tasks_blocked()
            assert isinstance(results.get("good"), TlsStream)
            assert "silent" not in results
    assert results["silent"] is None
    assert core.stats.connections_refused["tls_handshake"] == 1
    assert certs.handshaking == {}  # nothing left counted
    assert silent_theirs.recv(10) == b""  # closed
    await results["good"].aclose()  # type: ignore[union-attr]
    await client.aclose()


async def test_garbage_instead_of_a_handshake(ca, tmp_path) -> None:
    cert, key = write_pair(ca, tmp_path)
    certs = Certificates(section(cert, key))
    core = make_core()
    ours, theirs = socket.socketpair()
    theirs.sendall(b"NICK plaintext\r\nUSER a 0 * :a\r\n")  # plain IRC on the TLS port
    with trio.fail_after(5):
        result = await accept_tls(core, certs, trio.SocketStream(trio.socket.from_stdlib_socket(ours)), "192.0.2.9")
    assert result is None
    assert core.stats.connections_refused["tls_handshake"] == 1
    theirs.close()


async def test_handshakes_in_progress_are_capped_per_address(ca, tmp_path) -> None:
    cert, key = write_pair(ca, tmp_path)
    certs = Certificates(section(cert, key, handshake_timeout=30))
    core = make_core()
    pairs = [socket.socketpair() for _ in range(HANDSHAKES_PER_IP + 1)]
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            for ours, _ in pairs[:-1]:
                nursery.start_soon(accept_tls, core, certs, trio.SocketStream(trio.socket.from_stdlib_socket(ours)), "192.0.2.9")
            await trio.testing.wait_all_tasks_blocked()
            assert certs.handshaking["192.0.2.9"] == HANDSHAKES_PER_IP
            last = await accept_tls(core, certs, trio.SocketStream(trio.socket.from_stdlib_socket(pairs[-1][0])), "192.0.2.9")
            assert last is None
            assert core.stats.connections_refused["tls_handshakes_per_ip"] == 1
            # another address is not held up
            assert certs.handshaking["192.0.2.10"] == 0
            nursery.cancel_scope.cancel()
    for _, theirs in pairs:
        theirs.close()


async def test_exempt_addresses_have_no_handshake_cap(ca, tmp_path) -> None:
    cert, key = write_pair(ca, tmp_path)
    certs = Certificates(section(cert, key, handshake_timeout=30))
    core = make_core(connection_limit_exempt=("192.0.2.9",))
    pairs = [socket.socketpair() for _ in range(HANDSHAKES_PER_IP + 5)]
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            for ours, _ in pairs:
                nursery.start_soon(accept_tls, core, certs, trio.SocketStream(trio.socket.from_stdlib_socket(ours)), "192.0.2.9")
            await trio.testing.wait_all_tasks_blocked()
            assert certs.handshaking["192.0.2.9"] == len(pairs)
            nursery.cancel_scope.cancel()
    assert core.stats.connections_refused["tls_handshakes_per_ip"] == 0
    for _, theirs in pairs:
        theirs.close()


# ------------------------------------------------------------ reloading


async def test_reload_serves_the_new_certificate_to_new_handshakes_only(ca, tmp_path) -> None:
    cert, key = write_pair(ca, tmp_path)
    certs = Certificates(section(cert, key))
    first_serial = serial_of(ssl.PEM_cert_to_DER_cert(cert.read_text()))
    old_server, old_client = server_and_client(certs.context, client_context(ca))
    await handshake(old_server, old_client)
    assert serial_of(old_client.getpeercert(binary_form=True)) == first_serial

    write_pair(ca, tmp_path)  # new files at the same paths (as certbot renews)
    assert certs.reload() is None
    new_server, new_client = server_and_client(certs.context, client_context(ca))
    await handshake(new_server, new_client)
    new_serial = serial_of(new_client.getpeercert(binary_form=True))
    assert new_serial != first_serial

    # The old connection still works both ways.
    await old_client.send_all(b"PING :still\r\n")
    assert await old_server.receive_some() == b"PING :still\r\n"
    await old_server.send_all(b"PONG :still\r\n")
    assert await old_client.receive_some() == b"PONG :still\r\n"
    for stream in (old_server, old_client, new_server, new_client):
        await stream.aclose()


def test_a_failed_reload_keeps_the_old_certificate(ca, tmp_path) -> None:
    cert, key = write_pair(ca, tmp_path)
    certs = Certificates(section(cert, key))
    before = certs.context
    _, other_key = write_pair(ca, tmp_path, "other")
    key.write_bytes(other_key.read_bytes())  # a renewal gone wrong: a key of another certificate
    problem = certs.reload()
    assert problem is not None and "does not belong to the certificate" in problem
    assert certs.context is before
    key.unlink()
    problem = certs.reload()
    assert problem is not None and problem.startswith("tls.key: cannot read")
    assert certs.context is before
