"""The HTTP port over real sockets: health endpoints, IRC over WebSocket
beside TCP, the Origin guard, and a real Prometheus scrape."""

from __future__ import annotations

import http.client
import shutil
import subprocess

import pytest
import trio
from trio_websocket import HandshakeError, open_websocket_url

from e2e_client import IRCClient


# An event server closes the side routes to visitors (private messages,
# new channels): these tests are about IRC itself, on a plain IRC server's
# settings.
PLAIN_IRC = {"server": {"visitor_private_messages": True, "visitor_channels": True}}


@pytest.fixture
def server(start_server):
    """A plain IRC server (side routes open) on otherwise default settings."""
    return start_server(PLAIN_IRC)

pytestmark = pytest.mark.anyio


def get(server, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


async def ws_expect(ws, predicate, limit: float = 10.0) -> str:
    with trio.fail_after(limit):
        while True:
            message = await ws.get_message()
            text = message if isinstance(message, str) else message.decode()
            if predicate(text):
                return text


def test_health_endpoints_and_headers(server):
    status, headers, body = get(server, "/healthz")
    assert (status, body) == (200, b"ok\n")
    assert headers["x-content-type-options"] == "nosniff"
    status, _, body = get(server, "/readyz")
    assert (status, body) == (200, b"ready\n")
    status, _, _ = get(server, "/nothing-here")
    assert status == 404


async def test_websocket_and_tcp_clients_share_a_channel(server):
    url = f"ws://127.0.0.1:{server.http_port}/ws"
    async with open_websocket_url(url, subprotocols=["text.ircv3.net"]) as ws:
        assert ws.subprotocol == "text.ircv3.net"
        await ws.send_message("NICK webby")
        await ws.send_message("USER webby 0 * :Web Visitor\r\n")  # a trailing CRLF is tolerated
        welcome = await ws_expect(ws, lambda t: " 001 " in t)
        assert not welcome.endswith("\r\n") and "\n" not in welcome
        await ws.send_message("JOIN #town")
        await ws_expect(ws, lambda t: " 366 " in t)
        tcp = IRCClient(server.host, server.port)
        tcp.register("tcpuser")
        tcp.send("JOIN #town")
        tcp.expect("366")
        await ws_expect(ws, lambda t: t.startswith(":tcpuser!") and " JOIN " in t)
        tcp.send("PRIVMSG #town :hello from tcp")
        line = await ws_expect(ws, lambda t: "PRIVMSG" in t)
        assert line.endswith("PRIVMSG #town :hello from tcp")
        await ws.send_message("PRIVMSG #town :hello from the web")
        got = tcp.expect("PRIVMSG")
        assert got.source.startswith("webby!") and got.params == ("#town", "hello from the web")
        tcp.close()


async def test_binary_subprotocol_gets_binary_frames(server):
    url = f"ws://127.0.0.1:{server.http_port}/ws"
    async with open_websocket_url(url, subprotocols=["binary.ircv3.net"]) as ws:
        assert ws.subprotocol == "binary.ircv3.net"
        await ws.send_message(b"NICK bin\r\nUSER bin 0 * :b")  # two lines in one message: both handled
        with trio.fail_after(10):
            while True:
                message = await ws.get_message()
                assert isinstance(message, bytes)
                if b" 001 " in message:
                    break


async def test_a_foreign_origin_cannot_open_the_websocket(start_server):
    server = start_server({"listen": {"websocket_origins": ["https://www.city.example"]}})
    url = f"ws://127.0.0.1:{server.http_port}/ws"
    with pytest.raises(HandshakeError):
        async with open_websocket_url(url, extra_headers=[("Origin", "https://evil.example")]):
            pass
    async with open_websocket_url(url, extra_headers=[("Origin", "https://www.city.example")]) as ws:
        await ws.send_message("PING :allowed")
        assert "PONG" in await ws_expect(ws, lambda t: "PONG" in t)
    same = f"http://127.0.0.1:{server.http_port}"
    async with open_websocket_url(url, extra_headers=[("Origin", same)]) as ws:
        await ws.send_message("PING :same-origin")
        assert "same-origin" in await ws_expect(ws, lambda t: "PONG" in t)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in an exposition, or 0 when absent."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))  # the exposition sorts labels
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        sample, _, value = line.rpartition(" ")
        if sample == (f"{name}{{{want}}}" if want else name):
            return float(value)
    return 0.0


PASSWORD = "metrics-pw"


def test_metrics_count_exactly_what_happened_and_pass_promtool(start_server):
    from argon2 import PasswordHasher

    hash_ = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PASSWORD)
    server = start_server({
        "accounts": [{"name": "moda", "password_hash": hash_}],
        "conferences": [{"channel": "#q", "title": "Q", "moderators": ["moda"], "state": "live"}],
    })
    caps = ("standard-replies",)
    moda = server.client("moda", caps=caps, sasl=("moda", PASSWORD))
    moda.send("JOIN #q")
    moda.expect("366")
    visitor = server.client("visitor", caps=caps)
    visitor.send("JOIN #q")
    visitor.expect("366")
    for text in ("one", "two", "three"):
        visitor.send(f"PRIVMSG #q :{text}")
        visitor.expect(lambda m: m.command == "NOTE" and m.params[1] == "HELD")
    moda.send("QUEUE #q APPROVE 1")
    moda.send("QUEUE #q DROP 2 :no")
    moda.send("CONF #q MUTE visitor 60")
    moda.expect(lambda m: m.command == "NOTE" and m.params[1] == "MUTE")
    visitor.send("QUIT :bye")
    visitor.wait_closed()
    moda.roundtrip()

    status, headers, body = get(server, "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    text = body.decode()
    assert metric(text, "confchat_messages_total", conference="#q", outcome="submitted", decider="none") == 3
    assert metric(text, "confchat_messages_total", conference="#q", outcome="held", decider="none") == 3
    assert metric(text, "confchat_messages_total", conference="#q", outcome="published", decider="human") == 1
    assert metric(text, "confchat_messages_total", conference="#q", outcome="dropped", decider="human") == 1
    assert metric(text, "confchat_queue_items", conference="#q", state="pending") == 1
    assert metric(text, "confchat_moderation_wait_seconds_count", conference="#q") == 2
    assert metric(text, "confchat_restrictions_total", conference="#q", kind="mute") == 1
    assert metric(text, "confchat_connections_accepted_total", transport="tcp") == 2
    assert metric(text, "confchat_connections_closed_total", reason="quit") == 1
    assert metric(text, "confchat_connections", transport="tcp", role="moderator") == 1
    assert metric(text, "confchat_connections", transport="tcp", role="visitor") == 0
    assert metric(text, "confchat_conference_state", conference="#q", state="live") == 1
    assert metric(text, "confchat_storage_commits_total") >= 1
    assert metric(text, "confchat_storage_errors_total") == 0
    assert metric(text, "confchat_build_info", version=__import__("confchat").__version__) == 1
    # Nicknames and addresses never become label values.
    assert "visitor\"" not in text.replace('role="visitor"', "") and "127.0.0.1" not in text

    promtool = shutil.which("promtool")
    if promtool is None:
        if __import__("os").environ.get("CI"):
            pytest.fail("promtool is missing (scripts/install-test-deps installs it)")
        pytest.skip("promtool not installed")
    check = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()
