"""IRC over WebSocket on ``/`` as well as ``/ws``, end to end with a
third-party client library (``websockets``, not the trio-websocket the
server is built on): the IRCv3 WebSocket spec names no path, and some
clients and test tools connect to the root. A plain GET of ``/`` is still
the home page."""

from __future__ import annotations

import urllib.request

from websockets.sync.client import connect

TIMEOUT = 10.0


def lines_until(ws, command: str) -> list[str]:
    """Every line received until one whose command is ``command``."""
    seen: list[str] = []
    while True:
        message = ws.recv(timeout=TIMEOUT)
        for line in (message.decode() if isinstance(message, bytes) else message).split("\r\n"):
            if not line:
                continue
            seen.append(line)
            words = line.split(" ")
            if (words[1] if words[0].startswith((":", "@")) else words[0]) == command:
                return seen


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
