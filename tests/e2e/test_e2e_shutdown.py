"""Graceful shutdown of the real process: SIGTERM or SIGINT tells every
connected client ``ERROR :Server shutting down``, closes the listening port
and exits 0 within a few seconds."""

from __future__ import annotations

import fcntl
import signal
import socket
import struct
import termios
import time

import pytest


# An event server closes the side routes to visitors (private messages,
# new channels): these tests are about IRC itself, on a plain IRC server's
# settings.
PLAIN_IRC = {"server": {"visitor_private_messages": True, "visitor_channels": True}}


@pytest.fixture
def server(start_server):
    """A plain IRC server (side routes open) on otherwise default settings."""
    return start_server(PLAIN_IRC)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_shuts_down_gracefully(server, signum):
    alice = server.client("alice")
    bob = server.client("bob")
    alice.send("JOIN #town")
    alice.expect("366")
    bob.send("JOIN #town")
    bob.expect("366")
    stranger = server.client()  # connected, not registered
    stranger.send("NICK stranger")
    for client in (alice, bob, stranger):
        client.roundtrip()  # everything sent to it so far has arrived...
        client.drain(0.05)  # ...and is put aside

    start = time.monotonic()
    server.signal(signum)
    for client in (alice, bob, stranger):
        leftovers = client.wait_closed(timeout=5)
        # The last thing each one hears is the ERROR; nobody sees the others
        # QUIT one by one.
        assert [(m.command, m.params) for m in leftovers] == [("ERROR", ("Server shutting down",))]
    assert server.wait(timeout=5) == 0, server.log
    elapsed = time.monotonic() - start
    assert elapsed < 3.0, elapsed  # no waiting out the grace period when all flushed

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), timeout=2).close()
    assert "Traceback" not in server.log, server.log
    assert "server.stopped" in server.log


def test_shutdown_with_no_clients_is_quick(server):
    # A roundtrip first: the server installs its signal handlers only after
    # announcing its port (see the report on that race), and answering a
    # client proves it got past that point.
    probe = server.client("probe")
    probe.send("QUIT")
    probe.wait_closed()
    start = time.monotonic()
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=5) == 0, server.log
    assert time.monotonic() - start < 3.0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), timeout=2).close()


def test_a_client_that_never_reads_cannot_hold_up_shutdown(start_server):
    """A member whose socket is full (it stopped reading) gets the server's
    grace period, not more: the others hear the ERROR at once and the
    process still exits 0."""
    server = start_server({**PLAIN_IRC,
                           "limits": {"max_sendq": 4 * 1024 * 1024, "flood_burst": 100_000, "flood_rate": 100_000.0}})
    observer = server.client("observer")
    chatter = server.client("chatter")
    sleeper = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sleeper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sleeper.settimeout(10)
    sleeper.connect((server.host, server.port))
    sleeper.sendall(b"NICK sleeper\r\nUSER sleeper 0 * :sleeper\r\nJOIN #town\r\n")
    for client in (observer, chatter):
        client.send("JOIN #town")
        client.expect("366")
    observer.send("NAMES #town")
    names = observer.expect("353")
    # The sleeper is in (an operator if its JOIN came first: the channel was new).
    assert "sleeper" in [n.lstrip("@") for n in names.params[-1].split()]

    # About 1 MB to the channel: the observer reads it all, the sleeper nothing.
    lines = 2500
    chatter.send_raw(b"".join(f"PRIVMSG #town :{n:05d} {'z' * 400}\r\n".encode() for n in range(lines)))
    for n in range(lines):
        assert observer.expect("PRIVMSG").params[-1].startswith(f"{n:05d} ")
    queued = struct.unpack("i", fcntl.ioctl(sleeper.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]
    assert queued < lines * 400  # the rest is stuck on the server's side

    for client in (observer, chatter):
        client.roundtrip()
        client.drain(0.05)

    start = time.monotonic()
    server.signal(signal.SIGTERM)
    for client in (observer, chatter):
        assert [(m.command, m.params) for m in client.wait_closed(timeout=3)] == [
            ("ERROR", ("Server shutting down",))
        ]
    assert time.monotonic() - start < 2.0
    assert server.wait(timeout=10) == 0, server.log
    assert time.monotonic() - start < 9.0  # the grace period (5 s) and a little
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((server.host, server.port), timeout=2).close()
    sleeper.close()
