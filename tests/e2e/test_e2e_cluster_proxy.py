"""A cluster as docs/deploy.md builds it: two confchat nodes behind HAProxy
with the shipped deploy/haproxy/haproxy-cluster.cfg, sharing one real
redis-server configured with the shipped deploy/redis/confchat.conf (on
top of Debian's redis.conf: a "private" address, no anonymous access,
confchat's own ACL user), and one cloak key copied from the first node to
the second before its first start.

The config's third node is left down (its ports refuse): HAProxy checks
/readyz and sends nobody there. Visitors come in through HAProxy over IRC
(send-proxy-v2) and over WebSocket (option forwardfor), each from its own
loopback address, and land on both nodes; a moderator approves a question
and every visitor gets the publication; the per-node metrics add up the way
the dashboard adds them (connections summed over nodes, queue items the
same on every node). A ban by a visitor's cloak holds on both nodes. Then
a node is killed: its clients reconnect through HAProxy to the other and
fetch what they missed with CHATHISTORY.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from confchat.core.passwords import hash_password
from confchat.proto.codec import parse_line
from confchat.proto.message import Message
from conftest import wait_until
from programs import binary, fill, free_port, stop
from e2e_client import TIMEOUT, IRCClient
from redis_server import RedisError, _Reader, encode, redis_binary

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CHAN = "#townhall"
REDIS_HOST = "127.0.0.2"  # the snippet's "private address"
PASSWORDS = {"confchat": "nodes-secret", "admin": "admin-secret"}
PROXY_LINE = re.compile(r"IRC via TCP proxy:\s+irc://127\.0\.0\.1:(\d+)")
VISITOR_CAPS = ("message-tags", "server-time", "batch", "draft/chathistory", "standard-replies")
TCP_VISITORS = 10
WS_VISITORS = 10










# ---------------------------------------------------------------- Redis, as shipped


def redis_call(port: int, user: str, *args: str) -> object:
    with socket.create_connection((REDIS_HOST, port), timeout=5) as sock:
        reader = _Reader(sock)
        sock.sendall(encode("AUTH", user, PASSWORDS[user]) + encode(*args))
        reader.reply()
        return reader.reply()


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[int]:
    """redis-server with Debian's redis.conf and deploy/redis/confchat.conf
    included at its end; its port."""
    exe = redis_binary()
    directory = tmp_path / "redis"
    directory.mkdir()
    sha = {user: hashlib.sha256(password.encode()).hexdigest() for user, password in PASSWORDS.items()}
    snippet = directory / "confchat.conf"
    snippet.write_text(fill(DEPLOY / "redis" / "confchat.conf", {
        "REDIS_BIND": REDIS_HOST, "CONFCHAT_PASSWORD_SHA256": sha["confchat"], "ADMIN_PASSWORD_SHA256": sha["admin"],
    }))
    debian = Path("/etc/redis/redis.conf")
    (directory / "redis.conf").write_text((debian.read_text() if debian.exists() else "") + f"\ninclude {snippet}\n")
    port = free_port()
    process = subprocess.Popen(
        [exe, str(directory / "redis.conf"), "--port", str(port), "--dir", str(directory), "--daemonize", "no",
         "--supervised", "no", "--pidfile", str(directory / "redis.pid"), "--logfile", str(directory / "redis.log")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            assert redis_call(port, "admin", "PING") == "PONG"
            break
        except (OSError, RedisError):
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                raise AssertionError("redis-server did not start:\n" + (directory / "redis.log").read_text()) from None
            time.sleep(0.05)
    yield port
    stop(process)


# ---------------------------------------------------------------- clients


class Visitor(IRCClient):
    """IRC over TCP from a chosen source address (through HAProxy, or
    straight to a node)."""

    def __init__(self, port: int, source: str) -> None:
        super().__init__("127.0.0.1", port)
        self.sock.close()
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=self.timeout, source_address=(source, 0))
        self.source = source

    def join(self, nick: str, caps: tuple[str, ...] = VISITOR_CAPS) -> Message:
        """Registered and in the conference: the reply to JOIN (366 or 474)."""
        self.register(nick, caps=caps)
        self.send(f"JOIN {CHAN}")
        return self.expect(lambda m: m.command in ("366", "474"))


class WsVisitor:
    """IRC over WebSocket from a chosen source address, with the same
    expect() as the TCP client."""

    def __init__(self, port: int, source: str) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT, source_address=(source, 0))
        self.ws = connect(f"ws://127.0.0.1:{port}/ws", sock=sock, subprotocols=["text.ircv3.net"],
                          open_timeout=TIMEOUT).__enter__()
        self.closed = False

    def send(self, line: str) -> None:
        self.ws.send(line)

    def expect(self, predicate: Callable[[Message], bool] | str) -> Message:
        if isinstance(predicate, str):
            command = predicate
            predicate = lambda m: m.command == command  # noqa: E731
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                raw = self.ws.recv(timeout=max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                raise AssertionError("nothing matching arrived") from None
            message = parse_line(str(raw).rstrip("\r\n"))
            if message.command == "PING":
                self.send("PONG :" + message.params[-1])
            if predicate(message):
                return message

    def join(self, nick: str) -> Message:
        self.send("CAP REQ :" + " ".join(VISITOR_CAPS))
        for line in (f"NICK {nick}", f"USER {nick} 0 * :{nick}", "CAP END", f"JOIN {CHAN}"):
            self.send(line)
        return self.expect(lambda m: m.command in ("366", "474"))

    def close(self) -> None:
        self.ws.close()


def published(client, text: str) -> Message:
    return client.expect(lambda m: m.command == "PRIVMSG" and tuple(m.params) == (CHAN, text))


def open_or_closed(client: Visitor | WsVisitor) -> bool:
    """Whether the connection is still open (a PING answered), after its
    node was killed."""
    token = f"alive{time.monotonic_ns()}"
    try:
        client.send(f"PING {token}")
        client.expect(lambda m: m.command == "PONG" and m.params[-1] == token)
        return True
    except Exception:  # Closed, OSError, websockets' ConnectionClosed, a timeout
        return False


# ---------------------------------------------------------------- metrics


def scrape(node) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{node.http_port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(samples: dict, name: str, **labels: str) -> float:
    return sum(value for (n, ls), value in samples.items()
               if n == name and all(dict(ls).get(k) == v for k, v in labels.items()))


# ---------------------------------------------------------------- the cluster


def node_config(redis_port: int, name: str) -> dict:
    return {
        "server": {"name": "chat.example"},
        "listen": {"trusted_proxies": ["127.0.0.1"], "proxy_protocol": ["127.0.0.1:0"]},
        "limits": {"max_connections_per_ip": 3, "flood_burst": 1000},
        "cluster": {"redis_url": f"redis://confchat:{PASSWORDS['confchat']}@{REDIS_HOST}:{redis_port}/0", "node": name},
        "accounts": [{"name": "mod", "password_hash": hash_password("mod-secret")}],
        "conferences": [{"channel": CHAN, "title": "Ask the mayor", "moderators": ["mod"], "state": "live",
                         "mode": "moderated"}],
    }


@pytest.fixture
def cluster(start_server, redis, tmp_path):
    """Two nodes and HAProxy in front: (nodes, HAProxy's IRC port, web port)."""
    exe = binary("haproxy", "haproxy")
    first, second = tmp_path / "node1", tmp_path / "node2"
    node1 = start_server(node_config(redis, "web1"), "--data-dir", str(first))
    # The cloak key of the first node, on the second before its first start.
    second.mkdir()
    shutil.copy2(first / "cloak.key", second / "cloak.key")
    node2 = start_server(node_config(redis, "web2"), "--data-dir", str(second))
    irc, web = free_port(), free_port()
    values = {"IRC_LISTEN": f"127.0.0.1:{irc}", "WEB_LISTEN": f"127.0.0.1:{web}"}
    for number, node in ((1, node1), (2, node2)):
        values[f"NODE{number}_PROXY"] = f"127.0.0.1:{PROXY_LINE.search(node.log)[1]}"
        values[f"NODE{number}_HTTP"] = f"127.0.0.1:{node.http_port}"
    # The third node of the shipped config is down: nothing listens there.
    values["NODE3_PROXY"], values["NODE3_HTTP"] = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    config = tmp_path / "haproxy.cfg"
    config.write_text(fill(DEPLOY / "haproxy" / "haproxy-cluster.cfg", values))
    log = tmp_path / "haproxy.log"
    with log.open("w") as sink:
        process = subprocess.Popen([exe, "-f", str(config), "-db"], stdout=sink, stderr=subprocess.STDOUT)
    try:
        for port in (irc, web):
            wait_until(lambda: _listening(port) or process.poll() is not None)
            assert process.poll() is None, log.read_text()
        # Its health checks (every 2 s, down after 2 failures) have found node 3 down.
        wait_until(lambda: "node3 is DOWN" in log.read_text(), timeout=15)
        yield (node1, node2), irc, web
    finally:
        stop(process)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def address(block: int, i: int) -> str:
    return f"127.{block}.{1 + i // 250}.{1 + i % 250}"


def test_a_cluster_behind_haproxy_serves_one_audience_from_both_nodes(cluster) -> None:
    (node1, node2), irc, web = cluster
    mod = Visitor(irc, "127.0.9.250")
    mod.register("mod", caps=("standard-replies", "message-tags", "server-time"), sasl=("mod", "mod-secret"))
    mod.send(f"JOIN {CHAN}")
    mod.expect("366")
    tcp = [Visitor(irc, address(7, i)) for i in range(TCP_VISITORS)]
    for i, visitor in enumerate(tcp):
        assert visitor.join(f"t{i}").command == "366"
    ws = [WsVisitor(web, address(8, i)) for i in range(WS_VISITORS)]
    for i, visitor in enumerate(ws):
        assert visitor.join(f"w{i}").command == "366"
    everyone = [*tcp, *ws]

    # HAProxy (balance leastconn) spread them over both nodes, both transports.
    def spread() -> tuple[dict, dict]:
        return scrape(node1), scrape(node2)

    wait_until(lambda: all(total(s, "confchat_cluster_nodes") == 2 for s in spread()), timeout=15)
    one, two = spread()
    for samples in (one, two):
        assert total(samples, "confchat_connections", transport="tcp", role="visitor") > 0
        assert total(samples, "confchat_connections", transport="websocket", role="visitor") > 0
    # The dashboard sums connections over nodes: that is the audience.
    assert sum(total(s, "confchat_connections", role="visitor") for s in (one, two)) == len(everyone)
    assert {dict(labels)["node"] for s in (one, two) for (name, labels) in s if name == "confchat_node_info"} == {
        "web1", "web2"}

    # A question from a TCP visitor, approved by the moderator: everyone gets it.
    asker = tcp[3]
    asker.send(f"PRIVMSG {CHAN} :When will the tram come?")
    asker.expect(lambda m: m.command == "NOTE" and m.params[1] == "HELD")
    item = mod.expect(lambda m: m.command == "QUEUE" and m.params[1] == "ITEM" and m.params[-1] == "When will the tram come?")
    # Before the decision every node holds the same pending item: the
    # dashboard takes the max over nodes, never the sum.
    wait_until(lambda: all(total(s, "confchat_queue_items", conference=CHAN, state="pending") == 1 for s in spread()))
    mod.send(f"QUEUE {CHAN} APPROVE {item.params[2]}")
    lines = [published(visitor, "When will the tram come?") for visitor in everyone]
    assert len({line.tags["msgid"] for line in lines}) == 1
    assert len({line.source for line in lines}) == 1  # one prefix, whichever node shows it
    one, two = spread()
    assert [total(s, "confchat_queue_items", conference=CHAN, state="pending") for s in (one, two)] == [0, 0]
    # Messages are counted where their request came in: once in the cluster.
    assert sum(total(s, "confchat_messages_total", conference=CHAN, outcome="submitted") for s in (one, two)) == 1
    assert sum(total(s, "confchat_messages_total", conference=CHAN, outcome="published") for s in (one, two)) == 1

    # A ban of the asker's cloak holds on both nodes: they share the cloak
    # key, so a new connection from its address gets the same cloak on each.
    cloak = lines[0].source.split("@", 1)[1]
    mod.send(f"CONF {CHAN} BAN *!*@{cloak} :trolling")
    mod.expect(lambda m: m.command == "NOTE" and m.params[:3] == ("CONF", "BAN", CHAN))
    asker.expect(lambda m: m.command == "KICK" and m.params[1] == "t3")
    for node in (node1, node2):
        again = Visitor(node.port, asker.source)
        assert again.join(f"again{node.port}").command == "474"
        again.close()

    # Node 2 dies. Its clients are cut off; the rest go on.
    node2.kill()
    alive = [client for client in everyone if client is not asker and open_or_closed(client)]
    lost = [client for client in everyone if client is not asker and client not in alive]
    assert alive and lost
    if not open_or_closed(mod):
        mod = Visitor(irc, "127.0.9.250")
        mod.register("mod", caps=("standard-replies", "message-tags", "server-time"), sasl=("mod", "mod-secret"))
        mod.send(f"JOIN {CHAN}")
        mod.expect("366")
    # Meanwhile on node 1: a question, approved.
    speaker = next(c for c in alive if isinstance(c, Visitor))
    speaker.send(f"PRIVMSG {CHAN} :And the buses?")
    item = mod.expect(lambda m: m.command == "QUEUE" and m.params[1] == "ITEM" and m.params[-1] == "And the buses?")
    mod.send(f"QUEUE {CHAN} APPROVE {item.params[2]}")
    for client in alive:
        published(client, "And the buses?")
    # The lost ones reconnect through HAProxy (it finds node 2 down: /readyz
    # no longer answers) and fetch what they missed.
    wait_until(lambda: total(scrape(node1), "confchat_cluster_nodes") == 1, timeout=30)
    for i, client in enumerate(lost):
        source = client.source if isinstance(client, Visitor) else address(9, i)
        back = Visitor(irc, source)
        assert back.join(f"back{i}").command == "366"
        back.send(f"CHATHISTORY LATEST {CHAN} * 10")
        missed = back.expect(lambda m: m.command == "PRIVMSG" and m.params[-1] == "And the buses?")
        assert missed.tags["msgid"]
        back.close()
    samples = scrape(node1)
    assert total(samples, "confchat_cluster_link_up") == 1
    for client in [*everyone, mod]:
        client.close()
