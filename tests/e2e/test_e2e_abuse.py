"""Abuse over real sockets: bad input gets a clear error and loses nothing,
limits are enforced, and the server never goes down. After every abuse a
fresh pair of clients must still register and chat, and the process must
still be running."""

from __future__ import annotations

import itertools
import select
import socket
import struct
import threading
import time

import pytest

from confchat.core.cloak import cloak_host
from e2e_client import Closed, IRCClient

# An event server closes the side routes to visitors (private messages,
# new channels): these tests are about IRC itself, on a plain IRC server's
# settings.
PLAIN_IRC = {"server": {"visitor_private_messages": True, "visitor_channels": True}}


@pytest.fixture
def server(start_server):
    """A plain IRC server (side routes open) on otherwise default settings."""
    return start_server(PLAIN_IRC)


def own_host(server) -> str:
    """The host a client from 127.0.0.1 is shown as: its cloak under the
    server's key (in its data directory)."""
    key = bytes.fromhex((server.workdir / "data" / "cloak.key").read_text().strip())
    return cloak_host(key, "127.0.0.1")

_fresh = itertools.count(1)


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def assert_healthy(server, **register) -> None:
    """The process runs, and two new clients can register and chat."""
    assert server.proc.poll() is None, "server process died:\n" + server.log
    n = next(_fresh)
    a = server.client(f"fresh{n}a", **register)
    b = server.client(f"fresh{n}b", **register)
    try:
        a.send("JOIN #health")
        a.expect("366")
        b.send("JOIN #health")
        b.expect("366")
        b.send("PRIVMSG #health :still alive")
        msg = a.expect("PRIVMSG")
        assert msg.source.startswith(f"fresh{n}b!") and msg.params == ("#health", "still alive")
    finally:
        a.close()
        b.close()
    assert "Traceback" not in server.log, server.log


def poll(clients, timeout: float = 0.05) -> None:
    """Read whatever has arrived on any of ``clients`` (one recv each)."""
    socks = {c.sock: c for c in clients if not c.closed}
    ready, _, _ = select.select(list(socks), [], [], timeout)
    for sock in ready:
        client = socks[sock]
        try:
            client._read_some(time.monotonic() + 1.0)
        except (TimeoutError, Closed):
            pass  # a closed client is noticed by the caller (client.closed)


def texts(messages, prefix: str) -> list[str]:
    return [m.params[-1] for m in messages if m.command == "PRIVMSG" and m.params[-1].startswith(prefix)]


def in_channel(server, *nicks: str, channel: str = "#town", **register) -> list[IRCClient]:
    clients = []
    for nick in nicks:
        client = server.client(nick, **register)
        client.send(f"JOIN {channel}")
        client.expect("366")
        clients.append(client)
    for client in clients:
        client.roundtrip()
        client.drain(0.05)
    return clients


# --------------------------------------------------------------------------- bad input


def test_garbage_lines_get_errors_and_the_connection_stays_usable(server):
    (watcher,) = in_channel(server, "watcher")
    client = server.client()
    garbage = [
        (b"\x01\x02\x03 \x7f\r\n", "451"),  # an unknown "command", before registration
        (b":only-a-prefix\r\n", "MALFORMED_LINE"),
        (b"@tags-only\r\n", "MALFORMED_LINE"),
        (b"\xff\xfe\xfd\xfc\r\n", "INVALID_UTF8"),
        (b"!!! ??? ***\r\n", "451"),
        (b"FOO\rBAR\r\n", "MALFORMED_LINE"),  # a lone CR would forge a line when relayed
    ]
    for raw, expected in garbage:
        client.send_raw(raw)
        reply = client.expect(lambda m: m.command in ("451", "NOTICE", "FAIL"))
        if expected == "451":
            assert reply.command == "451" and reply.params == ("*", "You have not registered")
        elif expected == "INVALID_UTF8":  # always a FAIL line (IRCv3 UTF8ONLY), with or without standard-replies
            assert reply.command == "FAIL" and reply.params[1] == "INVALID_UTF8", reply
        else:
            assert reply.command == "NOTICE" and f" {expected}: " in reply.params[-1], reply
    client.send_raw(b"   \r\n\r\n\n")  # blank lines are ignored (RFC 1459), no reply
    client.roundtrip()
    assert client.drain(0.1) == []
    # The same connection registers and chats afterwards: nothing was lost.
    client.register("survivor")
    client.send("JOIN #town")
    client.expect("366")
    client.send_raw(b"\x00\x01garbage\xff\r\nPRIVMSG #town :after the garbage\r\n")
    reply = client.expect("NOTICE")
    assert "MALFORMED_LINE: Line contains a NUL byte" in reply.params[-1]
    msg = watcher.expect("PRIVMSG")
    assert msg.source.startswith("survivor!") and msg.params == ("#town", "after the garbage")
    assert_healthy(server)


def test_a_100kb_line_without_newline_gets_417_at_once_and_is_discarded(server):
    watcher, sender = in_channel(server, "watcher", "sender")
    sender.send_raw(b"PRIVMSG #town :" + b"A" * 100_000)  # no line end, ever... for now
    # 417 comes as soon as the buffer limit is passed, not when the line ends.
    reply = sender.expect("417")
    assert reply.params == ("sender", "Input line was too long")
    sender.send_raw(b"B" * 50_000)  # the rest of the same line is discarded quietly
    sender.send_raw(b"C" * 1000 + b"\r\nPRIVMSG #town :next line\r\n")
    msg = watcher.expect("PRIVMSG")
    assert msg.params == ("#town", "next line")  # nothing of the long line was relayed
    sender.roundtrip()
    assert [m.command for m in sender.drain(0.1)] == []  # exactly one 417 for that line
    assert sender.received.count(reply) == 1 and [m.command for m in sender.received].count("417") == 1
    assert_healthy(server)


def test_a_line_over_512_bytes_gets_417_and_is_not_relayed(server):
    watcher, sender = in_channel(server, "watcher", "sender")
    sender.send("PRIVMSG #town :" + "x" * 600)
    assert sender.expect("417").params == ("sender", "Input line was too long")
    body = "PRIVMSG #town :"
    fits = body + "y" * (510 - len(body))  # 510 bytes + CRLF = 512: the most allowed
    sender.send(fits)
    assert watcher.expect("PRIVMSG").params == ("#town", "y" * (510 - len(body)))
    assert not texts(watcher.received, "x")
    assert_healthy(server)


def test_invalid_utf8_is_rejected_with_invalid_utf8_and_not_relayed(server):
    watcher, plain = in_channel(server, "watcher", "plain")
    (modern,) = in_channel(server, "modern", caps=("standard-replies",))
    plain.send_raw(b"PRIVMSG #town :caf\xe9 au lait\r\n")
    # FAIL whether or not the client has standard-replies (IRCv3 UTF8ONLY:
    # "servers MUST send a FAIL ... INVALID_UTF8").
    fail = plain.expect("FAIL")
    assert fail.params == ("PRIVMSG", "INVALID_UTF8", "Message rejected, your IRC software MUST use UTF-8")
    modern.send_raw(b"PRIVMSG #town :\xc3\x28 broken\r\n")
    fail = modern.expect("FAIL")
    assert fail.params == ("PRIVMSG", "INVALID_UTF8", "Message rejected, your IRC software MUST use UTF-8")
    # Valid UTF-8 right after goes through, intact, even when a character
    # is split across two TCP segments.
    plain.send("PRIVMSG #town :café au lait ☕")
    assert watcher.expect("PRIVMSG").params == ("#town", "café au lait ☕")
    plain.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    plain.send_raw("PRIVMSG #town :caf".encode() + "é".encode()[:1])
    time.sleep(0.1)  # not an assertion: lets the server read the halves apart
    plain.send_raw("é".encode()[1:] + b"!\r\n")
    assert watcher.expect("PRIVMSG").params == ("#town", "café!")
    assert texts(watcher.received, "") == ["café au lait ☕", "café!"]
    assert_healthy(server)


def test_a_nul_byte_is_rejected_and_not_relayed(server):
    watcher, sender = in_channel(server, "watcher", "sender")
    sender.send_raw(b"PRIVMSG #town :before\x00after\r\n")
    notice = sender.expect("NOTICE")
    assert notice.params == ("sender", "PRIVMSG MALFORMED_LINE: Line contains a NUL byte")
    sender.send("PRIVMSG #town :clean")
    assert watcher.expect("PRIVMSG").params == ("#town", "clean")
    assert texts(watcher.received, "") == ["clean"]
    assert_healthy(server)


# --------------------------------------------------------------------------- floods


def test_flood_at_default_rate_is_delayed_not_dropped(server):
    """Defaults: a burst of 20 lines, then 5 a second. 30 lines take about 2 s
    to get through, all of them, in order."""
    watcher, flooder = in_channel(server, "watcher", "flooder")
    start = time.monotonic()
    flooder.send_raw(b"".join(f"PRIVMSG #town :flood {n}\r\n".encode() for n in range(30)))
    arrivals = []
    for n in range(30):
        msg = watcher.expect("PRIVMSG")
        assert msg.params == ("#town", f"flood {n}")
        arrivals.append(time.monotonic() - start)
    assert arrivals[15] < 1.5  # the burst (less the tokens registering took) is not delayed
    assert arrivals[-1] >= (30 - 20 - 1) / 5.0 * 0.9  # the rest is: about 5 a second
    notice = flooder.expect("NOTICE")
    assert "RATE_LIMITED" in notice.params[-1]
    assert_healthy(server)


def test_10000_line_flood_is_delayed_while_others_chat_promptly(start_server):
    """A 10,000-line flood (with a faster bucket, so the test ends): the
    flooder is slowed to the bucket's rate, none of its lines is lost or
    reordered, and another member's messages get through meanwhile."""
    rate, burst, count = 4000.0, 20, 10_000
    server = start_server({**PLAIN_IRC, "limits": {"flood_rate": rate, "flood_burst": burst}})
    observer, chatter, flooder = in_channel(server, "observer", "chatter", "flooder")
    flooder.send("CAP REQ :standard-replies")
    flooder.expect("CAP")
    payload = b"".join(f"PRIVMSG #town :flood {n:05d}\r\n".encode() for n in range(count))
    flooder.sock.settimeout(60)
    sent = threading.Event()
    thread = threading.Thread(target=lambda: (flooder.sock.sendall(payload), sent.set()), daemon=True)

    start = time.monotonic()
    thread.start()
    chats: dict[str, float] = {}  # text -> when sent
    latencies: list[float] = []
    last_chat = 0.0
    deadline = start + 30
    while True:
        now = time.monotonic()
        assert now < deadline, f"observer got {len(texts(observer.received, 'flood '))} flood lines"
        flood_seen = len(texts(observer.received, "flood "))
        if flood_seen == count:
            break
        if now - last_chat > 0.1 and flood_seen > burst:
            text = f"chat {len(chats)}"
            chatter.send(f"PRIVMSG #town :{text}")
            chats[text] = last_chat = now
        poll([observer, chatter], 0.02)  # not the flooder: its socket is busy sending
        for msg in observer.unread:
            if msg.command == "PRIVMSG" and msg.params[-1] in chats:
                latencies.append(time.monotonic() - chats[msg.params[-1]])
        observer.unread.clear()
        chatter.unread.clear()
    elapsed = time.monotonic() - start
    thread.join(10)
    assert sent.is_set()
    # The flood is over; a chat line sent at its very end may still be on its way.
    while len(latencies) < len(chats):
        msg = observer.expect(lambda m: m.command == "PRIVMSG" and m.params[-1] in chats)
        latencies.append(time.monotonic() - chats[msg.params[-1]])

    expected = [f"flood {n:05d}" for n in range(count)]
    assert texts(observer.received, "flood ") == expected  # all of them, in order
    assert texts(chatter.received, "flood ") == expected
    # Delayed: the bucket lets ``burst`` through, then ``rate`` a second.
    assert elapsed >= (count - burst) / rate * 0.9, elapsed
    # Meanwhile the chatter was not held up behind the flood.
    assert len(latencies) >= 5 and len(latencies) == len(chats)
    assert texts(observer.received, "chat ") == list(chats)  # in order, none lost
    # Interleaved with the flood, not queued behind it: the first chats
    # reached the observer long before the flood's last line...
    stream = texts(observer.received, "")
    assert stream.index("chat 2") < stream.index(expected[-1]) - rate * 0.5
    # ...and promptly (queued behind the flood, the first would take ~2.5 s).
    assert max(latencies) < 1.5, latencies
    note = flooder.expect("NOTE")
    assert note.params[:2] == ("*", "RATE_LIMITED")
    flooder.roundtrip()  # still connected: flooding is slowed, not punished
    assert_healthy(server)


class SmallWindowClient(IRCClient):
    """An IRCClient whose socket has a tiny receive buffer, so that the
    server's writes to it block soon when it stops reading."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(timeout)
        sock.connect((host, port))
        self.sock = sock
        self.timeout = timeout
        self.buffer = b""
        self.received = []
        self.unread = []
        self.closed = False
        self.nick = ""


def test_a_client_that_never_reads_is_dropped_with_sendq_exceeded(start_server):
    # The sendq must hold what a few reads of the chatter's socket (16 KiB of
    # lines each) fan out to a member before its writer runs: 128 KiB does.
    # The sleeper is dropped once the kernel's buffers (the server's send
    # buffer may grow to a few MiB) and then its sendq are full.
    server = start_server({**PLAIN_IRC, "limits": {"max_sendq": 128 * 1024, "flood_burst": 100_000, "flood_rate": 100_000.0}})
    observer, chatter = in_channel(server, "observer", "chatter")
    sleeper = SmallWindowClient(server.host, server.port)
    sleeper.register("sleeper")
    sleeper.send("JOIN #town")
    sleeper.expect("366")
    observer.expect(lambda m: m.command == "JOIN" and m.source.startswith("sleeper!"))
    # From now on the sleeper reads nothing.
    filler = "z" * 400
    sent = 0
    while not any(m.command == "QUIT" for m in observer.received):
        assert sent < 50_000, "the sleeper was never dropped"
        assert not observer.closed and not chatter.closed, (observer.received[-3:], chatter.received[-3:])
        chatter.send_raw(b"".join(f"PRIVMSG #town :{sent + i:06d} {filler}\r\n".encode() for i in range(50)))
        sent += 50
        poll([observer, chatter], 0.01)
    quit = next(m for m in observer.received if m.command == "QUIT")
    assert quit.source.startswith("sleeper!") and quit.params == ("SendQ exceeded",)
    assert chatter.expect("QUIT").source.startswith("sleeper!")

    # The sleeper wakes up: what it gets is an unbroken prefix of the
    # channel, then the ERROR, then the end of the connection.
    leftovers = sleeper.wait_closed(timeout=4)
    lines = [m for m in leftovers if m.command == "PRIVMSG"]
    numbers = [int(m.params[-1].split()[0]) for m in lines]
    assert numbers == list(range(len(numbers)))
    assert leftovers[-1].command == "ERROR" and leftovers[-1].params == ("SendQ exceeded",)

    # Others lost nothing: the observer gets every line, in order.
    wait_until(lambda: (poll([observer], 0.02), len(texts(observer.received, "")) >= sent)[1])
    got = [int(t.split()[0]) for t in texts(observer.received, "")]
    assert got == list(range(sent))
    assert [m for m in observer.received if m.command == "QUIT"] == [quit]
    assert_healthy(server)


# --------------------------------------------------------------------------- limits


def test_a_fourth_connection_from_one_ip_is_refused(start_server):
    server = start_server({**PLAIN_IRC, "limits": {"max_connections_per_ip": 3}})
    first, second = in_channel(server, "first", "second")
    third = server.client()  # unregistered connections count too
    fourth = server.client()
    leftovers = fourth.wait_closed(timeout=5)
    assert [(m.command, m.params) for m in leftovers] == [
        ("ERROR", ("Closing Link: Too many connections from your IP address",))
    ]
    # The three are unaffected.
    first.roundtrip()
    second.roundtrip()
    third.send("NICK third")
    third.send("USER third 0 * :third")
    third.expect("001")
    # One quits: a slot opens, and only one.
    first.send("QUIT :bye")
    first.wait_closed()
    again = server.client("again")
    again.send("JOIN #town")
    again.expect("366")
    assert server.client().wait_closed(timeout=5)[0].command == "ERROR"
    # One vanishes without QUIT: once the server noticed (its peers saw the
    # QUIT), its slot is free too.
    second.close()
    assert again.expect("QUIT").source.startswith("second!")
    latecomer = server.client("latecomer")
    latecomer.roundtrip()
    for client in (third, again, latecomer):
        client.send("QUIT")
        client.wait_closed()
    assert_healthy(server)


def test_a_silent_connection_is_closed_after_the_registration_timeout(start_server):
    server = start_server({**PLAIN_IRC, "limits": {"registration_timeout": 1.0}})
    member = server.client("member")
    start = time.monotonic()
    silent = server.client()
    half = server.client()
    half.send("NICK halfway")  # NICK without USER is not registered either
    leftovers = silent.wait_closed(timeout=5)
    elapsed = time.monotonic() - start
    assert [(m.command, m.params) for m in leftovers] == [
        ("ERROR", (f"Closing Link: {own_host(server)} (Registration timed out)",))
    ]
    assert 0.9 <= elapsed < 4.0, elapsed
    assert half.wait_closed(timeout=5)[-1].params == (f"Closing Link: {own_host(server)} (Registration timed out)",)
    member.roundtrip()  # a registered client is not subject to it
    assert_healthy(server)


def test_server_password(start_server):
    server = start_server({"server": {**PLAIN_IRC["server"], "password": "letmein"}})
    wrong = server.client()
    wrong.send("PASS opensesame")
    wrong.send("NICK wrong")
    wrong.send("USER wrong 0 * :wrong")
    reply = wrong.expect("464")
    assert reply.params == ("wrong", "Password incorrect")
    rest = wrong.wait_closed()
    assert [(m.command, m.params) for m in rest] == [("ERROR", (f"Closing Link: {own_host(server)} (Bad password)",))]
    assert not any(m.command == "001" for m in wrong.received)

    missing = server.client()
    missing.send("NICK missing")
    missing.send("USER missing 0 * :missing")
    assert missing.expect("464").params[-1] == "Password incorrect"
    missing.wait_closed()

    right = server.client("right", password="letmein")
    assert any(m.command == "001" for m in right.received)
    right.roundtrip()
    # The nicks of refused connections were freed.
    late = server.client("wrong", password="letmein")
    late.roundtrip()
    assert_healthy(server, password="letmein")


# --------------------------------------------------------------------------- disconnects


@pytest.mark.parametrize("abort", ["fin", "rst"])
def test_abrupt_disconnect_mid_line(server, abort):
    watcher, leaver = in_channel(server, "watcher", "leaver")
    for client in (watcher, leaver):  # a second shared channel: still one QUIT
        client.send("JOIN #other")
        client.expect("366")
    if abort == "rst":
        # A reset may discard what the server has not read yet: sync first.
        leaver.send("PRIVMSG #town :last words")
        leaver.roundtrip()
        leaver.send_raw(b"PRIVMSG #town :half a li")
        leaver.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    else:
        # A clean close: the complete line before it must not be lost.
        leaver.send_raw(b"PRIVMSG #town :last words\r\nPRIVMSG #town :half a li")
    leaver.sock.close()
    quit = watcher.expect("QUIT")
    assert quit.source.startswith("leaver!")
    assert quit.params == (("Connection closed",) if abort == "fin" else ("Read error",))
    # The complete line arrived; the unfinished one was never run.
    assert texts(watcher.received, "") == ["last words"]
    watcher.roundtrip()
    assert [m.command for m in watcher.received].count("QUIT") == 1
    watcher.send("NAMES #town")
    assert watcher.expect("353").params[-1].split() == ["@watcher"]
    assert_healthy(server)
