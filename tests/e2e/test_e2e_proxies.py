"""End to end behind real proxies: Debian's nginx (IRC over WebSocket with
X-Forwarded-For) and HAProxy (IRC over TCP with send-proxy-v2, the web port
with option forwardfor), run unprivileged on free loopback ports with the
very files in deploy/ (their placeholders filled in), in front of the real
server.

Hundreds of visitors come from different loopback addresses (the whole
127/8 is loopback on Linux, so each is a real source address the proxy
sees): with ``limits.max_connections_per_ip = 2`` a third connection from
one address is refused while the others are served; banning one address
(``CONF #townhall BAN *!*@<address>``) removes that visitor and leaves every
other; an ``X-Forwarded-For`` written by a visitor, through the proxy or
straight to the server, changes nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from confchat.core.passwords import hash_password
from confchat.proto.codec import parse_line
from confchat.proto.message import Message
from conftest import wait_until
from programs import binary, fill, free_port, stop
from e2e_client import TIMEOUT, IRCClient

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CHAN = "#townhall"
VISITORS = 300
PROXY_LINE = re.compile(r"IRC via TCP proxy:\s+irc://127\.0\.0\.1:(\d+)")
MOD_ADDRESS = "127.0.0.250"  # the moderator connects straight to the server, from its own address


def config() -> dict:
    return {
        "listen": {"trusted_proxies": ["127.0.0.1"], "proxy_protocol": ["127.0.0.1:0"]},
        "limits": {"max_connections_per_ip": 2, "flood_burst": 1000},
        "accounts": [{"name": "mod", "password_hash": hash_password("mod-secret")}],
        "conferences": [
            {"channel": CHAN, "title": "Ask the mayor", "moderators": ["mod"], "state": "live", "mode": "moderated"}
        ],
    }


def visitor_address(block: int, i: int) -> str:
    """The i-th visitor's address in 127.<block>.x.y (x.y never .0 or .255)."""
    return f"127.{block}.{1 + i // 250}.{1 + i % 250}"








def wait_listening(port: int, process: subprocess.Popen, log: Callable[[], str]) -> None:
    deadline = time.monotonic() + 10
    while True:
        if process.poll() is not None:
            raise AssertionError(f"the proxy exited ({process.returncode}):\n{log()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"the proxy does not listen on {port}:\n{log()}") from None
            time.sleep(0.05)




@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Callable[[int], int]]:
    """``nginx(confchat_http_port)``: nginx on a free port with
    deploy/nginx/confchat.conf; its port."""
    exe = binary("nginx", "nginx-light")
    started: list[subprocess.Popen] = []

    def start(upstream: int) -> int:
        port = free_port()
        root = tmp_path / "nginx"
        root.mkdir()
        site = root / "confchat.conf"
        site.write_text(fill(DEPLOY / "nginx" / "confchat.conf", {"LISTEN": f"127.0.0.1:{port}", "CONFCHAT_HTTP": f"127.0.0.1:{upstream}"}))
        # What Debian's /etc/nginx/nginx.conf does around a site, in the temp dir.
        (root / "nginx.conf").write_text(
            ("user root;\n" if os.getuid() == 0 else "")
            + f"worker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\n"
            "events { worker_connections 4096; }\n"
            "http {\n    access_log off;\n"
            + "".join(f"    {kind}_temp_path {root}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
            + f"    include {site};\n}}\n"
        )
        process = subprocess.Popen(
            [exe, "-p", str(root), "-c", str(root / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        started.append(process)
        error_log = root / "error.log"
        wait_listening(port, process, lambda: error_log.read_text() if error_log.exists() else "")
        return port

    yield start
    for process in started:
        stop(process)


@pytest.fixture
def haproxy(tmp_path: Path) -> Iterator[Callable[[int, int], tuple[int, int]]]:
    """``haproxy(confchat_proxy_port, confchat_http_port)``: HAProxy with
    deploy/haproxy/haproxy.cfg; its (IRC port, web port)."""
    exe = binary("haproxy", "haproxy")
    started: list[subprocess.Popen] = []

    def start(proxy_port: int, http_port: int) -> tuple[int, int]:
        irc, web = free_port(), free_port()
        path = tmp_path / "haproxy.cfg"
        path.write_text(fill(DEPLOY / "haproxy" / "haproxy.cfg", {
            "IRC_LISTEN": f"127.0.0.1:{irc}", "WEB_LISTEN": f"127.0.0.1:{web}",
            "CONFCHAT_PROXY": f"127.0.0.1:{proxy_port}", "CONFCHAT_HTTP": f"127.0.0.1:{http_port}",
        }))
        output = tmp_path / "haproxy.log"
        with output.open("w") as sink:
            process = subprocess.Popen([exe, "-f", str(path), "-db"], stdout=sink, stderr=subprocess.STDOUT)
        started.append(process)
        for port in (irc, web):
            wait_listening(port, process, output.read_text)
        return irc, web

    yield start
    for process in started:
        stop(process)


# ---------------------------------------------------------------- clients


class WsVisitor:
    """IRC over WebSocket (the websockets library) from a chosen source address."""

    def __init__(self, port: int, source: str, headers: dict[str, str] | None = None) -> None:
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT, source_address=(source, 0))
        # connect() is a context manager: entered here, left by close().
        self.ws = connect(
            f"ws://127.0.0.1:{port}/ws", sock=sock, subprotocols=["text.ircv3.net"],
            additional_headers=headers, open_timeout=TIMEOUT,
        ).__enter__()
        self.unread: list[Message] = []

    def send(self, line: str) -> None:
        self.ws.send(line)

    def _next(self, deadline: float) -> Message:
        message = parse_line(str(self.ws.recv(timeout=max(0.01, deadline - time.monotonic()))).rstrip("\r\n"))
        if message.command == "PING":
            self.send("PONG :" + message.params[-1])
        return message

    def expect(self, predicate: Callable[[Message], bool] | str) -> Message:
        if isinstance(predicate, str):
            command = predicate
            predicate = lambda m: m.command == command  # noqa: E731
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                message = self._next(deadline)
            except TimeoutError:
                raise AssertionError("nothing matching arrived") from None
            if predicate(message):
                return message

    def closing_lines(self) -> list[Message]:
        """Everything until the server closes the connection."""
        seen: list[Message] = []
        deadline = time.monotonic() + TIMEOUT
        try:
            while True:
                seen.append(self._next(deadline))
        except ConnectionClosed:
            return seen

    def join(self, nick: str) -> Message:
        """Registered as ``nick`` and in the conference: its reply to JOIN
        (366 end of NAMES, or a refusal)."""
        for line in (f"NICK {nick}", f"USER {nick} 0 * :{nick}", f"JOIN {CHAN}"):
            self.send(line)
        return self.expect(lambda m: m.command in ("366", "474", "ERROR"))

    def close(self) -> None:
        self.ws.close()


class SourcedClient(IRCClient):
    """The end-to-end IRC client over TCP, from a chosen source address."""

    def __init__(self, host: str, port: int, source: str) -> None:
        super().__init__(host, port)
        self.sock.close()
        self.sock = socket.create_connection((host, port), timeout=self.timeout, source_address=(source, 0))


def moderator(server) -> SourcedClient:
    mod = SourcedClient(server.host, server.port, MOD_ADDRESS)
    mod.register("mod", caps=("standard-replies",), sasl=("mod", "mod-secret"))
    mod.send(f"JOIN {CHAN}")
    mod.expect("366")
    return mod


def refused(lines: list[Message]) -> bool:
    return any(m.command == "ERROR" and "Too many connections" in m.params[-1] for m in lines)


def ban(mod: IRCClient, address: str) -> None:
    mod.send(f"CONF {CHAN} BAN *!*@{address} :trolling")
    mod.expect(lambda m: m.command == "NOTE" and m.params[:3] == ("CONF", "BAN", CHAN))


def proxy_port(server) -> int:
    match = PROXY_LINE.search(server.log)
    assert match, server.log
    return int(match[1])


# ---------------------------------------------------------------- nginx


def test_behind_nginx_each_visitor_is_limited_and_banned_by_its_own_address(start_server, nginx):
    server = start_server(config())
    port = nginx(server.http_port)
    mod = moderator(server)
    visitors = [WsVisitor(port, visitor_address(1, i)) for i in range(VISITORS)]
    for i, visitor in enumerate(visitors):
        assert visitor.join(f"v{i}").command == "366"

    # A second connection from the first visitor's address is fine, a third refused.
    second = WsVisitor(port, visitor_address(1, 0))
    assert second.join("v0b").command == "366"
    third = WsVisitor(port, visitor_address(1, 0))
    assert refused(third.closing_lines())
    # ...and a visitor of another address still gets in.
    other = WsVisitor(port, visitor_address(1, VISITORS))
    assert other.join("other").command == "366"

    # Banning one visitor's address leaves the other 299.
    victim = visitors[6]
    ban(mod, visitor_address(1, 6))
    victim.expect(lambda m: m.command == "KICK" and m.params[:2] == (CHAN, "v6"))
    mod.send(f"PRIVMSG {CHAN} :Still with us?")
    for i, visitor in enumerate(visitors):
        if visitor is not victim:
            visitor.expect(lambda m: m.command == "PRIVMSG" and m.params == (CHAN, "Still with us?"))
    assert victim.join("v6again").command == "474"

    # What a visitor writes in X-Forwarded-For through nginx changes nothing:
    # claiming the banned address does not ban a newcomer...
    claimer = WsVisitor(port, visitor_address(2, 1), {"X-Forwarded-For": visitor_address(1, 6)})
    assert claimer.join("claimer").command == "366"
    # ...and the banned visitor cannot come back claiming another one.
    disguised = WsVisitor(port, visitor_address(1, 6), {"X-Forwarded-For": visitor_address(2, 2)})
    assert disguised.join("disguised").command == "474"
    # Nor does one of the full address get a third place by claiming another.
    again = WsVisitor(port, visitor_address(1, 0), {"X-Forwarded-For": visitor_address(2, 3)})
    assert refused(again.closing_lines())

    for client in (*visitors, second, other, claimer, disguised):
        client.close()


def test_a_forged_x_forwarded_for_straight_to_the_server_changes_nothing(start_server):
    # 127.0.0.3 is no trusted proxy: its header is ignored, every connection
    # counts for 127.0.0.3 itself.
    server = start_server(config())
    first = WsVisitor(server.http_port, "127.0.0.3", {"X-Forwarded-For": "127.0.9.1"})
    second = WsVisitor(server.http_port, "127.0.0.3", {"X-Forwarded-For": "127.0.9.2"})
    assert first.join("first").command == "366" and second.join("second").command == "366"
    third = WsVisitor(server.http_port, "127.0.0.3", {"X-Forwarded-For": "127.0.9.3"})
    assert refused(third.closing_lines())
    # A ban of the claimed address does not touch them; a ban of the real one does.
    mod = moderator(server)
    ban(mod, "127.0.9.1")
    mod.send(f"PRIVMSG {CHAN} :hello")
    first.expect(lambda m: m.command == "PRIVMSG" and m.params == (CHAN, "hello"))
    ban(mod, "127.0.0.3")
    first.expect(lambda m: m.command == "KICK" and m.params[:2] == (CHAN, "first"))
    second.expect(lambda m: m.command == "KICK" and m.params[:2] == (CHAN, "second"))
    first.close()
    second.close()


# ---------------------------------------------------------------- HAProxy


def test_behind_haproxy_send_proxy_v2_gives_each_tcp_visitor_its_address(start_server, haproxy):
    server = start_server(config())
    irc_port, web_port = haproxy(proxy_port(server), server.http_port)
    mod = moderator(server)
    visitors = []
    for i in range(VISITORS):
        visitor = SourcedClient("127.0.0.1", irc_port, visitor_address(3, i))
        for line in (f"NICK t{i}", f"USER t{i} 0 * :t{i}", f"JOIN {CHAN}"):
            visitor.send(line)
        visitors.append(visitor)
    for visitor in visitors:
        visitor.expect("366")

    # The first address: a second connection is fine, a third refused.
    second = SourcedClient("127.0.0.1", irc_port, visitor_address(3, 0))
    second.register("t0b")
    third = SourcedClient("127.0.0.1", irc_port, visitor_address(3, 0))
    assert refused(third.wait_closed())

    # One ban, one visitor gone, 299 still served.
    victim = visitors[41]
    ban(mod, visitor_address(3, 41))
    victim.expect(lambda m: m.command == "KICK" and m.params[:2] == (CHAN, "t41"))
    mod.send(f"PRIVMSG {CHAN} :Next question")
    for visitor in visitors:
        if visitor is not victim:
            visitor.expect(lambda m: m.command == "PRIVMSG" and m.params == (CHAN, "Next question"))
    victim.send(f"JOIN {CHAN}")
    victim.expect("474")

    # The web port through HAProxy's option forwardfor: per address too,
    # whatever a visitor writes in its own X-Forwarded-For.
    web = [WsVisitor(web_port, "127.0.6.1", {"X-Forwarded-For": f"127.0.9.{i}"}) for i in range(3)]
    assert [w.join(f"w{i}").command for i, w in enumerate(web[:2])] == ["366", "366"]
    assert refused(web[2].closing_lines())

    # A peer that is not a trusted proxy may not use the PROXY listener:
    # closed at once, with a log line.
    stranger = SourcedClient("127.0.0.1", proxy_port(server), "127.0.0.3")
    assert stranger.wait_closed() == []
    wait_until(lambda: "proxy.untrusted_peer" in server.log)
    # Nor may a trusted peer without a valid header.
    garbage = SourcedClient("127.0.0.1", proxy_port(server), "127.0.0.1")
    garbage.send("NICK sneaky")
    assert garbage.wait_closed() == []
    wait_until(lambda: "proxy.header_refused" in server.log)
    assert "sneaky" not in server.log

    for client in (*visitors, second, *web[:2]):
        client.close()


# ---------------------------------------------------------------- the service unit


def test_the_systemd_unit_verifies_and_runs_what_the_cli_accepts(tmp_path):
    """deploy/systemd/confchat.service passes systemd-analyze verify (with its
    ExecStart pointed at this checkout's confchat), and its command line is
    one that ``confchat serve`` accepts."""
    exe = binary("systemd-analyze", "systemd")
    unit = (DEPLOY / "systemd" / "confchat.service").read_text()
    [exec_start] = re.findall(r"^ExecStart=(\S+) (.*)$", unit, re.M)
    program, arguments = exec_start
    assert program == "/opt/confchat/bin/confchat"
    assert arguments == "serve --config /etc/confchat/config.toml"
    local = shutil.which("confchat", path=str(Path(sys.executable).parent))
    assert local is not None
    copy = tmp_path / "confchat.service"
    copy.write_text(unit.replace(program, local))
    result = subprocess.run([exe, "verify", str(copy)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "confchat.service" not in result.stderr, result.stderr  # no warning about the unit itself
    # The same options, against a config file that exists, get as far as the config.
    config_file = tmp_path / "config.toml"
    config_file.write_text('[listen]\ntcp = ["127.0.0.1:notaport"]\n')
    check = subprocess.run([local, *arguments.split()[:2], str(config_file)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 2 and "listen.tcp[0]" in check.stderr
