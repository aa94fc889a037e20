"""IRC over WebSocket on ``/`` as well as ``/ws``, end to end with a
third-party client library (``websockets``, not the trio-websocket the
server is built on): the IRCv3 WebSocket spec names no path, and some
clients and test tools connect to the root. A plain GET of ``/`` is still
the home page."""

from __future__ import annotations

import urllib.request
import weakref
from contextlib import ExitStack

from websockets.sync.client import connect
import pytest


# An event server closes the side routes to visitors (private messages,
# new channels): these tests are about IRC itself, on a plain IRC server's
# settings.
PLAIN_IRC = {"server": {"visitor_private_messages": True, "visitor_channels": True}}


@pytest.fixture
def server(start_server):
    """A plain IRC server (side routes open) on otherwise default settings."""
    return start_server(PLAIN_IRC)

TIMEOUT = 10.0


# Lines received but not read yet, per connection.
_pending: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def lines_until(ws, command: str) -> list[str]:
    """Every line received until one whose command is ``command`` (lines
    after it in the same WebSocket message wait for the next call)."""
    pending = _pending.setdefault(ws, [])
    seen: list[str] = []
    while True:
        while pending:
            line = pending.pop(0)
            seen.append(line)
            words = line.split(" ")
            if words[0].startswith("@"):
                words = words[1:]
            if (words[1] if words[0].startswith(":") else words[0]) == command:
                return seen
        message = ws.recv(timeout=TIMEOUT)
        text = message.decode() if isinstance(message, bytes) else message
        pending.extend(line for line in text.split("\r\n") if line)


def test_irc_over_websocket_on_the_root_with_the_websockets_library(server):
    url = f"ws://127.0.0.1:{server.http_port}/"
    with connect(url, subprotocols=["text.ircv3.net"], open_timeout=TIMEOUT) as ws:
        assert ws.subprotocol == "text.ircv3.net"
        ws.send("NICK rootws")
        ws.send("USER rootws 0 * :Root WebSocket")
        welcome = lines_until(ws, "001")
        assert welcome[-1].split(" ")[2] == "rootws"
        ws.send("JOIN #roots")
        lines_until(ws, "366")
        tcp = server.client("tcpuser")
        tcp.send("JOIN #roots")
        tcp.expect(lambda m: m.command == "366")
        tcp.send("PRIVMSG #roots :hello from TCP")
        got = lines_until(ws, "PRIVMSG")
        assert got[-1].endswith("PRIVMSG #roots :hello from TCP")
        ws.send("PRIVMSG #roots :hello from the root")
        heard = tcp.expect(lambda m: m.command == "PRIVMSG")
        assert heard.params[-1] == "hello from the root"
        tcp.close()
    with connect(url, subprotocols=["binary.ircv3.net"], open_timeout=TIMEOUT) as ws:
        assert ws.subprotocol == "binary.ircv3.net"
        ws.send("PING :binary")
        pong = ws.recv(timeout=TIMEOUT)
        assert isinstance(pong, bytes) and b"PONG" in pong


def test_a_plain_get_of_the_root_is_still_the_home_page(server):
    with urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/", timeout=TIMEOUT) as response:
        assert response.status == 200
        assert "text/html" in response.headers["Content-Type"]


def parse(line: str) -> tuple[dict[str, str], str, list[str]]:
    """(tags, command, params) of one line: enough for these checks."""
    tags: dict[str, str] = {}
    if line.startswith("@"):
        section, line = line[1:].split(" ", 1)
        tags = dict(item.partition("=")[::2] for item in section.split(";"))
    if line.startswith(":"):
        line = line.split(" ", 1)[1]
    head, _, trailing = line.partition(" :")
    words = head.split(" ")
    return tags, words[0], words[1:] + ([trailing] if _ else [])


def registered(stack: ExitStack, url: str, nick: str, caps: str):
    ws = stack.enter_context(connect(url, subprotocols=["text.ircv3.net"], open_timeout=TIMEOUT))
    ws.send("CAP LS 302")
    ws.send(f"CAP REQ :{caps}")
    ws.send(f"NICK {nick}")
    ws.send(f"USER {nick} 0 * :{nick}")
    ws.send("CAP END")
    lines_until(ws, "001")
    return ws


def test_conformance_features_over_the_root_websocket(server):
    """What the conformance work added, over real sockets: a labeled message
    to oneself comes back twice with one label, a bot's messages carry the
    bot tag, a channel operator deletes another's message with REDACT, and
    WHO * lists both users."""
    url = f"ws://127.0.0.1:{server.http_port}/"
    caps = "message-tags echo-message batch labeled-response draft/message-redaction"
    with ExitStack() as stack:
        op, bot = registered(stack, url, "chanop", caps), registered(stack, url, "robot", caps)
        op.send("@label=L1 PRIVMSG chanop :note to self")
        got = [parse(line) for line in lines_until(op, "PRIVMSG") + lines_until(op, "PRIVMSG")]
        got = [g for g in got if g[1] == "PRIVMSG"]
        assert [c for _, c, _ in got] == ["PRIVMSG", "PRIVMSG"]
        assert sorted(t.get("label", "") for t, _, _ in got) == ["", "L1"]
        op.send("JOIN #bots")
        lines_until(op, "366")
        bot.send("MODE robot +B")
        bot.send("JOIN #bots")
        lines_until(bot, "366")
        bot.send("PRIVMSG #bots :beep")
        tags, _, params = parse(lines_until(op, "PRIVMSG")[-1])
        assert "bot" in tags and params == ["#bots", "beep"]
        op.send(f"REDACT #bots {tags['msgid']} :noise")
        _, command, params = parse(lines_until(bot, "REDACT")[-1])
        assert params == ["#bots", tags["msgid"], "noise"]
        op.send("WHO *")
        rows = [parse(line) for line in lines_until(op, "315")]
        assert {p[5] for _, c, p in rows if c == "352"} == {"chanop", "robot"}
