"""The HTTP port under abuse, over real sockets against ``confchat serve``:
one address holding hundreds of half-sent requests, a download link
probed with HEAD, and a large internal export while visitors ask."""

from __future__ import annotations

import http.client
import resource
import selectors
import socket
import threading
import time

from argon2 import PasswordHasher

from confchat.config import ConferenceConfig
from confchat.moderation.conference import Conference
from confchat.storage.rows import take_rows
from confchat.storage.sqlite import Store

PASSWORD = "pw-for-tests"
HASH = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PASSWORD)
CAPS = ("message-tags", "server-time", "standard-replies", "batch", "echo-message")
CHAN = "#townhall"
CONFIG = {
    "moderation": {"max_pending_per_visitor": 0, "max_pending_per_address": 0},
    "accounts": [{"name": "moda", "password_hash": HASH}],
    "conferences": [{"channel": CHAN, "title": "Ask the mayor", "moderators": ["moda"], "state": "live"}],
}
ATTACKER = "127.0.0.2"  # the whole of 127.0.0.0/8 is loopback
HALF_SENT = 300
PER_IP = 64  # limits.http_connections_per_ip's default
# Below what HALF_SENT connections need: the file descriptors the server
# would run out of if it held them all (production's usual soft limit, 1024,
# fell to ~1,100 such connections).
SERVER_FD_LIMIT = 256
GUARD = 60.0  # seconds: only a hung server gets near it


def held(msg) -> bool:
    return msg.command == "NOTE" and msg.params[1] == "HELD"


def healthz(port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=GUARD)
    conn.request("GET", "/healthz")
    status = conn.getresponse().status
    conn.close()
    return status


def start_with_fd_limit(start_server, limit: int, *args):
    """A server whose file descriptor limit is ``limit`` (inherited at fork;
    this process gets its own limit back at once)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        return start_server(*args)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_one_address_with_hundreds_of_half_sent_requests_does_not_take_the_port(start_server):
    server = start_with_fd_limit(start_server, SERVER_FD_LIMIT, None)
    attackers = []
    for _ in range(HALF_SENT):
        sock = socket.create_connection(("127.0.0.1", server.http_port), timeout=GUARD, source_address=(ATTACKER, 0))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: confchat\r\nX-Slow: ")  # and never the rest
        attackers.append(sock)
    try:
        # Every connection past the limit is answered 503 and closed at once.
        answers: dict[socket.socket, bytes] = {sock: b"" for sock in attackers}
        ended: list[socket.socket] = []
        events: list[str] = []

        def read_until(done) -> None:
            with selectors.DefaultSelector() as selector:
                for sock in attackers:
                    if sock not in ended:
                        selector.register(sock, selectors.EVENT_READ)
                deadline = time.monotonic() + GUARD
                while not done():
                    assert time.monotonic() < deadline, f"{len(ended)} of {HALF_SENT} answered"
                    for key, _ in selector.select(1.0):
                        sock = key.fileobj
                        try:
                            data = sock.recv(65536)
                        except ConnectionResetError:  # closed with our request unread, after its answer
                            data = b""
                        answers[sock] += data
                        if not data:
                            selector.unregister(sock)
                            ended.append(sock)
                            events.append(answers[sock].split(b" ", 2)[1].decode() if answers[sock] else "closed")

        read_until(lambda: len(ended) >= HALF_SENT - PER_IP)
        assert events == ["503"] * (HALF_SENT - PER_IP)
        assert all(b"Connection: close" in answers[sock] for sock in ended)
        # The address's 64 others are still open, and /healthz answers
        # another address meanwhile.
        assert healthz(server.http_port) == 200
        events.append("healthz")
        # Then the headers that never came time out (408) and the port is free.
        read_until(lambda: len(ended) == HALF_SENT)
        assert events == ["503"] * (HALF_SENT - PER_IP) + ["healthz"] + ["408"] * PER_IP
        assert healthz(server.http_port) == 200
        # Counted in the metrics.
        conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=GUARD)
        conn.request("GET", "/metrics")
        metrics = conn.getresponse().read().decode()
        conn.close()
        assert f'confchat_connections_refused_total{{reason="http_per_ip_limit"}} {HALF_SENT - PER_IP}.0' in metrics
    finally:
        for sock in attackers:
            sock.close()


def request(port: int, method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=GUARD)
    conn.request(method, path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def test_head_does_not_use_up_a_download_link(start_server):
    server = start_server(CONFIG)
    moda = server.client("moda", caps=CAPS, sasl=("moda", PASSWORD))
    moda.send(f"JOIN {CHAN}")
    moda.send(f"CONF {CHAN} EXPORT txt")
    link = moda.expect(lambda m: m.command == "CONF" and m.params[1] == "EXPORT").params[4]
    for method in ("HEAD", "POST"):  # a link checker, a preview, a form
        status, headers, _ = request(server.http_port, method, link)
        assert (status, headers.get("allow")) == (405, "GET")
    status, _, body = request(server.http_port, "GET", link)
    assert status == 200 and b"Ask the mayor" in body
    assert request(server.http_port, "GET", link)[0] == 404  # still single use


def store_many_items(data_dir, count: int) -> None:
    """A conference with ``count`` decided questions, written straight into
    the server's database before it starts."""
    conference = Conference(
        ConferenceConfig(channel=CHAN, title="Ask the mayor", moderators=("moda",), state="live")
    )
    t0 = time.time() - 3600
    for n in range(1, count + 1):
        item = conference.queue.submit(f"v{n}", f"v{n}!~v@198.51.100.7", f"Question {n} about the tram line?", t0 + n)
        conference.record(t0 + n, f"v{n}", "submit", item.id, text=item.text)
        conference.queue.drop(item.id, "moda", t0 + n, "answered before")
        conference.record(t0 + n, "moda", "drop", item.id, reason="answered before")
    data_dir.mkdir(parents=True)
    store = Store(str(data_dir / "confchat.sqlite3"))
    store.open()
    store.write([take_rows(conference)])
    store.close()


def test_a_large_export_does_not_hold_up_acknowledgements(start_server, tmp_path):
    data = tmp_path / "data"
    store_many_items(data, 10_000)
    server = start_server(CONFIG, "--data-dir", str(data))
    moda = server.client("moda", caps=CAPS, sasl=("moda", PASSWORD))
    moda.send(f"JOIN {CHAN}")
    moda.send(f"CONF {CHAN} EXPORT json internal")
    link = moda.expect(lambda m: m.command == "CONF" and m.params[1] == "EXPORT").params[4]
    citizen = server.client("citizen", caps=CAPS)
    citizen.send(f"JOIN {CHAN}")
    citizen.expect("366")

    events: list[str] = []
    asked = threading.Event()
    body = bytearray()

    def download() -> None:
        sock = socket.create_connection(("127.0.0.1", server.http_port), timeout=GUARD)
        sock.sendall(f"GET {link} HTTP/1.1\r\nHost: confchat\r\nConnection: close\r\n\r\n".encode())
        asked.set()
        while data := sock.recv(1 << 20):
            if not body:
                events.append("export")  # rendered: it starts to arrive
            body.extend(data)
        sock.close()

    thread = threading.Thread(target=download)
    thread.start()
    asked.wait(GUARD)
    # The export's reading and rendering take a while (about a second);
    # each HELD note waits for its question's commit.
    for n in range(1, 4):
        citizen.send(f"PRIVMSG {CHAN} :question {n} while exporting")
        citizen.expect(held)
        events.append(f"held {n}")
    thread.join(GUARD)
    assert body.startswith(b"HTTP/1.1 200 ") and body.count(b"answered before") >= 10_000
    assert events == ["held 1", "held 2", "held 3", "export"]


def test_many_addresses_of_half_sent_requests_do_not_shut_the_port_for_everyone(start_server):
    """bench/attacks.py: 32 addresses x 64 half-sent requests filled the
    whole port (limits.http_connections), and every other visitor got 503
    until the header timeout. Now a newcomer on a full port takes the place
    of the connection that has waited longest for its request's head (at
    least a second): the visitor is served, the oldest stalled request is
    closed unanswered."""
    total = 40
    server = start_server({**CONFIG, "limits": {"http_connections": total, "http_connections_per_ip": 8}})
    attackers = []
    for n in range(total):  # five addresses fill the port
        source = (f"127.0.0.{10 + n // 8}", 0)
        sock = socket.create_connection(("127.0.0.1", server.http_port), timeout=GUARD, source_address=source)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: confchat\r\nX-Slow: ")  # and never the rest
        attackers.append(sock)
    time.sleep(1.2)  # not an assertion: the stalled requests are now older than a second
    visitors = []
    for _ in range(5):  # five visitors, each keeping its connection open after its answer
        conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=GUARD)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
        visitors.append(conn)
    closed = []
    for n, sock in enumerate(attackers):
        sock.settimeout(0.2)
        try:
            if sock.recv(65536) == b"":
                closed.append(n)
        except (TimeoutError, socket.timeout):
            pass
        except ConnectionResetError:
            closed.append(n)
    assert closed == [0, 1, 2, 3, 4]  # one stalled request let go per visitor served, the oldest first
    status, _, body = request(server.http_port, "GET", "/metrics")
    # Counted: the five visitors' and this very request's (the port is still full).
    assert 'confchat_connections_refused_total{reason="http_evicted"} 6.0' in body.decode()
    for conn in visitors:
        conn.close()
    for sock in attackers:
        sock.close()
