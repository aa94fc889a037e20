"""Hostile audience: each row of the "large or hostile audience" table, run
again as an attack against a real server, with the figure it gives now.

For each attack it starts ``confchat serve`` (a subprocess, a temporary data
directory, a config file written here: a live moderated conference ``#hall``,
the moderator account ``moda`` and staff accounts ``staff0``… with argon2id
hashes made with ``confchat passwd``'s defaults, the other limits at their
defaults), runs the attack from loopback addresses only (127.0.0.0/8: the
visitors of one attack are spread over many 127.x.y.z source addresses, at
most 50 a source, under the per-address limit of 100), measures, and stops
the server. Every loop is bounded in count and in time.

The attacks (``--only`` takes their names):

* ``names``: a moderator's console (``userhost-in-names``) joins a
  conference of N visitors: bytes and time of its join reply up to 366, and
  whether it is evicted; then it pages through ``CONF AUDIENCE``.
* ``queue``: N pending questions of 400 characters: ``QUEUE LIST`` and
  ``CONF AUDIT``, first page time, pages and bytes, evicted or not.
* ``oneaddress``: one address, 100 connections x 5 questions: how many got
  in, how fast, what the others got; then the same 100 reconnect and try
  again (the per-visitor cap is per connection).
* ``who``: 100 connections from one address send ``WHO *zzz*`` every 0.2 s
  (flood control delays them) while N visitors sit in the conference:
  another user's PING round trip, median and p95, before and during.
* ``nick``: an unregistered connection sends ``CAP LS 302``, ``NICK moda``,
  ``USER`` and never ``CAP END`` (alone, then two alternating): whether the
  moderator's SASL sign-in gets the nick, and how fast.
* ``passwords``: a check's time for a known account with a wrong password
  and for an unknown name (from fresh addresses); then one address guesses
  moda's password from 20 connections for a while: guesses answered and
  actually checked (the server's own counters), other users' PING, and what
  the real moderator's sign-in gets meanwhile.
* ``http``: one address opens as many half-sent HTTP requests as it can,
  reopening each one the server closes; another address's ``/healthz``
  latency before and during. Then the same from 40 addresses.
* ``export``: a visitor's question acknowledgement (PRIVMSG to NOTE HELD)
  p50/p99 without and during internal exports of 10,000 items.
* ``smuggle``: ``Content-Length`` with ``Transfer-Encoding: chunked``:
  status, and whether the connection is closed (RFC 9112 6.1).
* ``head``: a ``HEAD`` on an export link, then a ``GET`` on the same link.

Usage (from the project root; PYTHONPATH chooses which tree's server runs):

    .venv/bin/python bench/attacks.py [--quick] [--only names,who] [--json FILE]

Prints a Markdown table row per attack as it ends, then the whole table and,
with ``--json``, every figure to FILE. The machine is shared: compare the
"before" and "during" figures of one run, not figures across runs.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import errno
import json
import os
import platform
import re
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from typing import Callable

import trio

from confchat.core.passwords import hash_password
from confchat.proto.codec import parse_line
from confchat.proto.message import Message

CHAN = "#hall"
PASSWORD = "correct horse battery staple"
STAFF_ACCOUNTS = 10  # staff0 … staff9, for the timing of known accounts

CONFIG = """
[logging]
format = "json"

[[accounts]]
name = "moda"
password_hash = "{hash}"
{staff}
[[conferences]]
channel = "{chan}"
title = "Hostile audience"
state = "live"
mode = "moderated"
moderators = ["moda"{staff_names}]
{slow_mode}"""

# The attacks that meet the conference's own slow mode (10 s, the default);
# the others set it to 0, to build their crowd of questions quickly.
DEFAULT_SLOW_MODE = {"oneaddress"}

EARLIER = {
    "names": "NAMES exceeds the 256 KiB send queue: `ERROR :SendQ exceeded`, the console reconnects in a loop",
    "queue": "`QUEUE LIST` (and `CONF AUDIT`) exceed the send queue: the moderator is evicted",
    "oneaddress": "reaches 500 pending questions in about a second (no cap per visitor)",
    "who": "another user's PING 2.8 s median at 1,000 users, 24 s at 3,000, 54 s at 5,000",
    "nick": "holds the moderator's nick until the registration timeout; the sign-in fails",
    "passwords": "150–200 ms on the event loop: 500 guesses a minute from one address, everyone's PING ~1 s; "
                 "unknown account 0.3 ms, known 154 ms",
    "http": "~1,100 half-sent requests from one address keep `/healthz` timing out",
    "export": "an internal export of 10,000 items delays every acknowledgement by ~0.5 s",
    "smuggle": "processed as chunked, the connection kept open",
    "head": "a `HEAD` uses up the export link",
}
WHAT = {
    "names": "moderator's console joins a conference of {n} visitors (`userhost-in-names`)",
    "queue": "{n} pending questions of 400 characters",
    "oneaddress": "one address, 100 connections × 5 questions",
    "who": "100 connections send `WHO *zzz*` every 0.2 s",
    "nick": "unregistered `CAP LS 302`, `NICK moda`, `USER`, never `CAP END`",
    "passwords": "password guesses from one address; check timing",
    "http": "half-sent HTTP requests from one address (and from 40)",
    "export": "internal export of {n} items",
    "smuggle": "`Content-Length` with `Transfer-Encoding: chunked`",
    "head": "`HEAD` on an export link",
}


def source(block: int, i: int) -> str:
    """The i-th loopback source address of a block: 127.<block>.x.y."""
    return f"127.{block}.{i // 250}.{i % 250 + 1}"


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered))) - 1))]


def ms(seconds: float) -> str:
    value = seconds * 1000
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def plain_blob(account: str, password: str) -> str:
    return base64.b64encode(f"\0{account}\0{password}".encode()).decode()


# ---------------------------------------------------------------- the server


class ServerProc:
    """``confchat serve`` in a subprocess, on free loopback ports."""

    def __init__(self, tmp: str, staff_hash: str, extra: str = "", slow_mode: bool = False) -> None:
        self.tmp = tmp
        staff = "".join(f'\n[[accounts]]\nname = "staff{i}"\npassword_hash = "{staff_hash}"\n'
                        for i in range(STAFF_ACCOUNTS))
        names = "".join(f', "staff{i}"' for i in range(STAFF_ACCOUNTS))
        cfg = os.path.join(tmp, "config.toml")
        with open(cfg, "w") as f:
            f.write(extra + CONFIG.format(hash=staff_hash, staff=staff, staff_names=names, chan=CHAN,
                                          slow_mode="" if slow_mode else "slow_mode = 0\n"))
        self.out_path, self.log_path = os.path.join(tmp, "stdout.txt"), os.path.join(tmp, "server.log")
        # Files, not pipes: a pipe nobody reads would fill and stall the server.
        with open(self.out_path, "w") as out, open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "confchat", "serve", "--config", cfg, "--tcp", "127.0.0.1:0",
                 "--http", "127.0.0.1:0", "--data-dir", os.path.join(tmp, "data"), "--no-demo"],
                stdout=out, stderr=log, stdin=subprocess.DEVNULL,
            )
        self.port = self.http_port = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open(self.out_path) as f:
                text = f.read()
            irc, ws = re.search(r"irc://127\.0\.0\.1:(\d+)", text), re.search(r"ws://127\.0\.0\.1:(\d+)/ws", text)
            if irc and ws and "Stop with Ctrl-C" in text:
                self.port, self.http_port = int(irc.group(1)), int(ws.group(1))
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.proc.kill()
        raise RuntimeError("the server did not start: " + open(self.log_path).read()[-2000:])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def errors(self) -> int:
        """Error-level events in the server's JSON log (command.crashed, ...)."""
        count = 0
        with open(self.log_path, errors="replace") as f:
            for line in f:
                try:
                    if json.loads(line).get("level") in ("error", "critical"):
                        count += 1
                except ValueError:
                    continue
        return count

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


# ---------------------------------------------------------------- one IRC connection (trio)


class Closed(Exception):
    """The server closed the connection (the ERROR line, if any, is the message)."""


async def open_stream(port: int, src: str) -> trio.SocketStream:
    sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_STREAM)
    try:
        await sock.bind((src, 0))
        await sock.connect(("127.0.0.1", port))
    except BaseException:
        sock.close()
        raise
    return trio.SocketStream(sock)


class Irc:
    """Send lines, read parsed messages (PINGs answered), count bytes."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buf = b""
        self.pending: list[tuple[Message, int]] = []
        self.bytes_in = 0
        self.error = ""
        self.closed = False
        self.sending = trio.Lock()

    @classmethod
    async def open(cls, port: int, src: str) -> "Irc":
        return cls(await open_stream(port, src))

    async def send(self, *lines: str) -> None:
        async with self.sending:
            await self.stream.send_all("".join(line + "\r\n" for line in lines).encode())

    async def next(self) -> Message:
        """The next message (raises Closed at the end)."""
        while not self.pending:
            if self.closed:
                raise Closed(self.error)
            try:
                data = await self.stream.receive_some(1 << 16)
            except (trio.BrokenResourceError, OSError):
                data = b""
            if not data:
                self.closed = True
                raise Closed(self.error)
            *lines, self.buf = (self.buf + data).split(b"\r\n")
            pongs = []
            for raw in lines:
                if raw:
                    msg = parse_line(raw.decode("utf-8", "replace"))
                    self.pending.append((msg, len(raw) + 2))
                    if msg.command == "PING":
                        pongs.append(f"PONG :{msg.param(0)}")
                    elif msg.command == "ERROR":
                        self.error = msg.param(0)
            if pongs:
                with trio.CancelScope(shield=True):  # every line read is kept, every PING answered
                    await self.send(*pongs)
        msg, size = self.pending.pop(0)
        self.bytes_in += size
        return msg

    async def until(self, pred: Callable[[Message], bool], timeout: float) -> Message:
        with trio.fail_after(timeout):
            while True:
                msg = await self.next()
                if pred(msg):
                    return msg

    async def drain(self, seconds: float) -> None:
        """Read (and drop) what comes for ``seconds``."""
        with trio.move_on_after(seconds):
            while True:
                await self.next()

    async def ping(self, token: str, timeout: float = 60.0) -> float:
        started = trio.current_time()
        await self.send(f"PING :{token}")
        await self.until(lambda m: m.command == "PONG" and m.params[-1:] == (token,), timeout)
        return trio.current_time() - started

    async def aclose(self) -> None:
        with trio.move_on_after(1) as scope:
            scope.shield = True
            await self.stream.aclose()


async def visitor(port: int, src: str, nick: str, join: bool = True) -> Irc:
    conn = await Irc.open(port, src)
    await conn.send("CAP REQ :standard-replies message-tags", f"NICK {nick}", f"USER {nick} 0 * :{nick}", "CAP END")
    await conn.until(lambda m: m.command == "001", 30)
    if join:
        await conn.send(f"JOIN {CHAN}")
        await conn.until(lambda m: m.command == "366", 30)
    return conn


async def staff_login(port: int, src: str, account: str = "moda", nick: str | None = None,
                      caps: str = "sasl standard-replies message-tags server-time") -> tuple[Irc, str, float]:
    """A SASL sign-in: the connection, the nick its 001 names, the seconds to 001."""
    started = trio.current_time()
    conn = await Irc.open(port, src)
    nick = nick or account
    await conn.send("CAP LS 302", f"NICK {nick}", f"USER {nick} 0 * :{nick}", f"CAP REQ :{caps}",
                    "AUTHENTICATE PLAIN", f"AUTHENTICATE {plain_blob(account, PASSWORD)}")
    msg = await conn.until(lambda m: m.command in ("903", "904"), 60)
    if msg.command == "904":
        raise Closed("SASL failed")
    await conn.send("CAP END")
    got = await conn.until(lambda m: m.command in ("001", "433"), 60)
    if got.command == "433":  # the nick is not free: take another, as a client would
        await conn.send(f"NICK {nick}_")
        got = await conn.until(lambda m: m.command == "001", 60)
    return conn, got.param(0), trio.current_time() - started


class Prober:
    """A user who PINGs every ``every`` seconds and keeps the round trips."""

    def __init__(self, conn: Irc, every: float = 0.2) -> None:
        self.conn = conn
        self.every = every
        self.rtts: list[float] = []
        self.lost = 0

    async def run(self, seconds: float) -> list[float]:
        self.rtts = []
        deadline = trio.current_time() + seconds
        n = 0
        while trio.current_time() < deadline:
            n += 1
            started = trio.current_time()
            try:
                self.rtts.append(await self.conn.ping(f"p{n}", timeout=max(1.0, deadline - started + 30)))
            except trio.TooSlowError:
                self.lost += 1
            await trio.sleep_until(started + self.every)
        return self.rtts


def rtt_summary(rtts: list[float]) -> dict:
    return {"n": len(rtts), "p50_ms": round(percentile(rtts, 50) * 1000, 2),
            "p95_ms": round(percentile(rtts, 95) * 1000, 2), "max_ms": round(max(rtts, default=0) * 1000, 2)}


# ---------------------------------------------------------------- a crowd (selector, in a thread)


class Member:
    __slots__ = ("sock", "nick", "out", "tail", "connected", "registered", "joined", "held", "wanted", "fails",
                 "closed", "error")

    def __init__(self, sock: socket.socket, nick: str) -> None:
        self.sock, self.nick = sock, nick
        self.out = bytearray()
        self.tail = b""
        self.connected = self.registered = self.joined = self.closed = False
        self.held = 0
        self.wanted = 0
        self.fails: Counter[str] = Counter()
        self.error = ""


class Crowd:
    """Many visitors over plain non-blocking sockets, one selector. Its
    phases block (run them in a thread); between phases ``start()`` keeps
    answering the server's PINGs in a thread until ``stop()``."""

    def __init__(self, port: int, block: int, per_source: int = 50, prefix: str = "v") -> None:
        self.address = ("127.0.0.1", port)
        self.block, self.per_source, self.prefix = block, per_source, prefix
        self.sel = selectors.DefaultSelector()
        self.members: list[Member] = []
        self.joined = 0
        self._running = False
        self._thread: threading.Thread | None = None

    def join(self, count: int, timeout: float = 300.0, window: int = 400) -> float:
        started = time.monotonic()
        deadline = started + timeout
        target = len(self.members) + count
        while self.joined < target:
            while len(self.members) < target and len(self.members) - self.joined < window:
                self._open(len(self.members))
            self._step(deadline)
            closed = sum(m.closed for m in self.members)
            if closed:
                first = next(m for m in self.members if m.closed)
                raise RuntimeError(f"{closed} visitors closed while joining: {first.nick}: {first.error}")
        return time.monotonic() - started

    def ask(self, members: list[Member], each: int, text: str, timeout: float = 300.0) -> float:
        """Each member sends ``each`` questions at once; back when every one
        has its answer (HELD or FAIL)."""
        started = time.monotonic()
        deadline = started + timeout
        for m in members:
            m.out += b"".join(f"PRIVMSG {CHAN} :{text} ({m.nick} {n})\r\n".encode() for n in range(each))
            m.wanted += each
            self.sel.modify(m.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, m)
        while any(m.wanted > 0 and not m.closed for m in members):
            self._step(deadline)
        return time.monotonic() - started

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def close(self) -> None:
        self.stop()
        for m in self.members:
            try:
                self.sel.unregister(m.sock)
            except (KeyError, ValueError):
                pass
            m.sock.close()
        self.members.clear()
        self.sel.close()

    def _pump(self) -> None:
        deadline = time.monotonic() + 3600
        while self._running:
            self._step(deadline)

    def _open(self, n: int) -> None:
        nick = f"{self.prefix}{n}"
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.bind((source(self.block, n // self.per_source), 0))
        code = sock.connect_ex(self.address)
        if code not in (0, errno.EINPROGRESS):
            sock.close()
            raise RuntimeError(f"{nick}: connect failed: {errno.errorcode.get(code, code)}")
        m = Member(sock, nick)
        m.out += (f"CAP REQ :standard-replies\r\nNICK {nick}\r\nUSER {nick} 0 * :{nick}\r\nCAP END\r\n"
                  f"JOIN {CHAN}\r\n").encode()
        self.members.append(m)
        self.sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, m)

    def _step(self, deadline: float) -> None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"crowd out of time: {self.joined} of {len(self.members)} joined")
        for key, events in self.sel.select(0.2):
            m = key.data
            if events & selectors.EVENT_WRITE:
                self._write(m)
            if events & selectors.EVENT_READ:
                self._read(m)

    def _write(self, m: Member) -> None:
        if not m.connected:
            code = m.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                m.closed, m.error = True, errno.errorcode.get(code, str(code))
                self.sel.unregister(m.sock)
                return
            m.connected = True
        try:
            sent = m.sock.send(m.out) if m.out else 0
        except BlockingIOError:
            return
        except OSError as exc:
            m.closed, m.error = True, str(exc)
            self.sel.unregister(m.sock)
            return
        del m.out[:sent]
        if not m.out:
            self.sel.modify(m.sock, selectors.EVENT_READ, m)

    def _read(self, m: Member) -> None:
        try:
            data = m.sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            m.closed = True
            self.sel.unregister(m.sock)
            return
        *lines, m.tail = (m.tail + data).split(b"\r\n")
        replies = []
        for line in lines:
            words = line.split(b" ", 6)
            command = words[1] if line.startswith(b":") and len(words) > 1 else words[0]
            if command == b"PING":
                replies.append(b"PONG" + line[4:] + b"\r\n")
            elif command == b"NOTE" and words[2:4] == [b"PRIVMSG", b"HELD"]:
                m.held += 1
                m.wanted -= 1
            elif command == b"FAIL":
                m.fails[words[3].decode() if len(words) > 3 else "?"] += 1
                if words[2:3] == [b"PRIVMSG"]:
                    m.wanted -= 1
            elif command == b"366" and not m.joined:
                m.joined = True
                self.joined += 1
            elif command == b"ERROR":
                m.error = line.decode(errors="replace")
        if replies:
            m.out += b"".join(replies)
            self.sel.modify(m.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, m)


async def reading(conn: Irc, fn: Callable, *args):
    """Run the blocking ``fn(*args)`` in a thread while reading (and
    dropping) what ``conn`` receives, as a console would; its result."""
    result = []

    async def work(cancel: trio.CancelScope) -> None:
        result.append(await trio.to_thread.run_sync(fn, *args))
        cancel.cancel()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(work, nursery.cancel_scope)
        await conn.drain(3600)
    return result[0]


def text_of(length: int) -> str:
    base = "When will the tram reach the north district, and what will it cost the city? "
    return (base * (length // len(base) + 1))[:length]


# ---------------------------------------------------------------- HTTP


async def http_request(port: int, request: bytes, src: str = "127.0.0.1", timeout: float = 10.0
                       ) -> tuple[int, bytes, float]:
    """Send one request (with ``Connection: close``), read to the end: the
    status (0 if none came in time), the bytes and the seconds taken."""
    started = trio.current_time()
    data = b""
    with trio.move_on_after(timeout):
        stream = await open_stream(port, src)
        try:
            await stream.send_all(request)
            while True:
                chunk = await stream.receive_some(1 << 16)
                if not chunk:
                    break
                data += chunk
        except (trio.BrokenResourceError, OSError):
            pass
        finally:
            await stream.aclose()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/1.1 ") else 0
    return status, data, trio.current_time() - started


def get(path: str, method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()


async def metric(port: int, name: str) -> dict[str, float]:
    """One counter's samples from /metrics, by their labels."""
    _, data, _ = await http_request(port, get("/metrics"))
    found = {}
    for line in data.decode(errors="replace").splitlines():
        if line.startswith(name):
            key, _, value = line.rpartition(" ")
            found[key[len(name):]] = float(value)
    return found


async def export_link(mod: Irc, internal: bool = True) -> str:
    await mod.send(f"CONF {CHAN} EXPORT json" + (" internal" if internal else ""))
    msg = await mod.until(lambda m: m.command in ("CONF", "FAIL") and "EXPORT" in m.params, 30)
    if msg.command == "FAIL":
        raise RuntimeError(f"CONF EXPORT: {msg.params}")
    return next(p for p in msg.params if p.startswith("/export/"))


# ---------------------------------------------------------------- the attacks


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.quick = args.quick
        started = time.monotonic()
        self.hash = hash_password(PASSWORD)  # confchat passwd's defaults
        self.hash_seconds = time.monotonic() - started
        self.results: dict[str, dict] = {}  # attack -> row -> figures
        self.seconds: dict[str, float] = {}
        self.rows: list[tuple[str, str, str]] = []

    def server(self, tmp: str, extra: str = "", slow_mode: bool = False) -> ServerProc:
        return ServerProc(tmp, self.hash, extra, slow_mode)

    def row(self, key: str, what: str, now: str, figures: dict, server: ServerProc) -> None:
        figures["server_alive"] = server.alive()
        figures["server_error_events"] = server.errors()
        if not figures["server_alive"] or figures["server_error_events"]:
            now += f" (server alive: {figures['server_alive']}, error events: {figures['server_error_events']})"
        self.results.setdefault(key, {})[what] = figures
        self.rows.append((what, EARLIER[key], now))
        print(f"| {what} | {EARLIER[key]} | {now} |", flush=True)

    def run(self, name: str) -> None:
        with tempfile.TemporaryDirectory(prefix=f"attack-{name}-") as tmp:
            server = self.server(tmp, getattr(self, f"config_{name}", ""), name in DEFAULT_SLOW_MODE)
            try:
                trio.run(getattr(self, f"attack_{name}"), server)
            finally:
                server.stop()

    # ------------------------------------------------------------ names

    async def attack_names(self, server: ServerProc) -> None:
        n = 2_000 if self.quick else 9_000
        crowd = Crowd(server.port, block=10)
        try:
            joined_in = await trio.to_thread.run_sync(crowd.join, n)
            crowd.start()
            mod, _, _ = await staff_login(server.port, "127.0.1.1",
                                          caps="sasl userhost-in-names multi-prefix message-tags server-time "
                                               "standard-replies")
            before = mod.bytes_in
            started = trio.current_time()
            await mod.send(f"JOIN {CHAN}")
            count_line = ""
            while True:
                msg = await mod.until(lambda m: True, 60)
                if msg.command == "NOTE" and msg.param(1) == "AUDIENCE":
                    count_line = msg.param(3)
                if msg.command == "366":
                    break
            join_s, join_bytes = trio.current_time() - started, mod.bytes_in - before
            await mod.drain(1.0)
            evicted_join = mod.closed
            # The audience, a page at a time, as the console reads it.
            pages, rows, page_bytes = 0, 0, 0
            started = trio.current_time()
            first_page = 0.0
            start = ""
            for _ in range(n // 200 + 5):
                before = mod.bytes_in
                await mod.send(f"CONF {CHAN} AUDIENCE {start}".rstrip())
                nxt = ""
                while True:
                    msg = await mod.until(lambda m: m.command == "CONF", 60)
                    if msg.param(1) == "MEMBER":
                        rows += 1
                    elif msg.param(1) == "MORE":
                        nxt = msg.param(2)
                    elif msg.param(1) == "END":
                        break
                pages += 1
                page_bytes = max(page_bytes, mod.bytes_in - before)
                if pages == 1:
                    first_page = trio.current_time() - started
                if not nxt:
                    break
                start = nxt
            audience_s = trio.current_time() - started
            alive = not mod.closed and await mod.ping("after") < 30
            await mod.aclose()
        finally:
            crowd.close()
        figures = {"visitors": n, "crowd_join_s": round(joined_in, 1), "join_reply_bytes": join_bytes,
                   "join_reply_ms": round(join_s * 1000, 1), "audience_count_line": count_line,
                   "evicted": evicted_join or not alive, "audience_pages": pages, "audience_rows": rows,
                   "audience_first_page_ms": round(first_page * 1000, 1), "audience_all_s": round(audience_s, 2),
                   "largest_page_bytes": page_bytes}
        self.row("names", WHAT["names"].format(n=f"{n:,}"),
                 f"join reply {join_bytes:,} bytes in {ms(join_s)} (audience as a count: {count_line or '–'}), "
                 f"{'**evicted**' if figures['evicted'] else 'not evicted'}; `CONF AUDIENCE`: first page "
                 f"{ms(first_page)}, all {rows:,} in {pages} pages in {ms(audience_s)} "
                 f"(largest page {page_bytes / 1024:.0f} KiB)", figures, server)

    # ------------------------------------------------------------ queue

    async def attack_queue(self, server: ServerProc) -> None:
        sizes = [500] if self.quick else [500, 5_000]
        crowd = Crowd(server.port, block=11, per_source=10)  # 10 visitors x 5 = 50 questions per address
        mod, _, _ = await staff_login(server.port, "127.0.1.1")
        await mod.send(f"JOIN {CHAN}")
        await mod.until(lambda m: m.command == "366", 30)
        try:
            have = 0
            for n in sizes:
                crowd.stop()
                askers = (n - have) // 5
                await reading(mod, crowd.join, askers)
                members = crowd.members[-askers:]
                asked_s = await reading(mod, crowd.ask, members, 5, text_of(400))
                crowd.start()
                held = sum(m.held for m in crowd.members)
                have = held
                await mod.drain(2.0)  # the QUEUE ITEM events of the questions
                figures: dict = {"pending": held, "asked_s": round(asked_s, 2)}
                for command, word in (("QUEUE", "LIST"), ("CONF", "AUDIT")):
                    pages = rows = 0
                    total_bytes = first_bytes = 0
                    start = ""
                    started = trio.current_time()
                    first = 0.0
                    for _ in range(n * 4 // 200 + 10):
                        before = mod.bytes_in
                        await mod.send(f"{command} {CHAN} {word} {start}".rstrip())
                        nxt = ""
                        while True:
                            msg = await mod.until(lambda m: m.command == command and m.param(0) == CHAN, 60)
                            if msg.param(1) in ("ITEM", "AUDIT") and "msgid" not in msg.tags:
                                rows += 1
                            elif msg.param(1) == "MORE":
                                nxt = msg.param(2)
                            elif msg.param(1) == "END":
                                break
                        pages += 1
                        total_bytes += mod.bytes_in - before
                        if pages == 1:
                            first, first_bytes = trio.current_time() - started, mod.bytes_in - before
                        if not nxt:
                            break
                        start = nxt
                    key = word.lower()
                    figures.update({f"{key}_first_page_ms": round(first * 1000, 1), f"{key}_first_page_bytes":
                                    first_bytes, f"{key}_pages": pages, f"{key}_rows": rows,
                                    f"{key}_all_s": round(trio.current_time() - started, 2),
                                    f"{key}_bytes": total_bytes})
                alive = not mod.closed and await mod.ping(f"q{n}") < 30
                figures["evicted"] = not alive
                self.row("queue", WHAT["queue"].format(n=f"{held:,}"),
                         f"`QUEUE LIST`: first page {ms(figures['list_first_page_ms'] / 1000)} "
                         f"({figures['list_first_page_bytes'] / 1024:.0f} KiB), {figures['list_rows']:,} items in "
                         f"{figures['list_pages']} pages in {ms(figures['list_all_s'])}; `CONF AUDIT`: first page "
                         f"{ms(figures['audit_first_page_ms'] / 1000)}, {figures['audit_rows']:,} entries in "
                         f"{figures['audit_pages']} pages in {ms(figures['audit_all_s'])}; "
                         f"{'**evicted**' if figures['evicted'] else 'not evicted'}", figures, server)
        finally:
            crowd.close()
            await mod.aclose()

    # ------------------------------------------------------------ one address

    async def attack_oneaddress(self, server: ServerProc) -> None:
        figures: dict = {}
        parts = []
        for attempt in ("first", "reconnected"):
            crowd = Crowd(server.port, block=12, per_source=100, prefix="a" if attempt == "first" else "b")
            try:
                await trio.to_thread.run_sync(crowd.join, 100)
                asked_s = await trio.to_thread.run_sync(crowd.ask, crowd.members, 5, "Spam, spam, spam")
                held = sum(m.held for m in crowd.members)
                fails: Counter[str] = Counter()
                for m in crowd.members:
                    fails.update(m.fails)
                figures[attempt] = {"held": held, "fails": dict(fails), "seconds": round(asked_s, 2)}
                fail_text = ", ".join(f"{v} {k}" for k, v in sorted(fails.items())) or "no refusal"
                parts.append(f"{attempt}: {held} of 500 held in {asked_s:.2f} s ({fail_text})")
                if attempt == "first":
                    # The 101st connection from the same address.
                    extra = await Irc.open(server.port, source(12, 0))
                    await extra.send("NICK extra", "USER extra 0 * :extra")
                    try:
                        await extra.until(lambda m: m.command == "001", 10)
                    except (Closed, trio.TooSlowError):
                        pass
                    figures["connection_101"] = f"`ERROR :{extra.error}`" if extra.error else (
                        "closed" if extra.closed else "registered")
                    await extra.aclose()
            finally:
                crowd.close()
            await trio.sleep(1.0)  # the server sees the 100 quits
        total = figures["first"]["held"] + figures["reconnected"]["held"]
        self.row("oneaddress", WHAT["oneaddress"],
                 "; ".join(parts) + f"; {total} pending in all; a 101st connection: {figures['connection_101']}",
                 figures, server)

    # ------------------------------------------------------------ who

    async def attack_who(self, server: ServerProc) -> None:
        sizes = [1_000] if self.quick else [1_000, 3_000, 5_000]
        seconds = 10.0 if self.quick else 20.0
        crowd = Crowd(server.port, block=13)
        probe = Prober(await visitor(server.port, "127.0.1.2", "probe"))
        attackers: list[Irc] = []
        replies: Counter[str] = Counter()
        try:
            for index, n in enumerate(sizes):
                # Fresh attackers for each size (from a new address): the WHO
                # lines flood control still holds from the last size go with
                # the old connections.
                for conn in attackers:
                    await conn.aclose()
                attackers = [await visitor(server.port, source(14, index), f"w{index}x{i}") for i in range(100)]
                crowd.stop()
                await trio.to_thread.run_sync(crowd.join, n - len(crowd.members))
                crowd.start()
                await trio.sleep(1.0)
                before = rtt_summary(await probe.run(5.0))

                async def flood(conn: Irc, stop_at: float) -> None:
                    async def read() -> None:
                        while True:
                            msg = await conn.next()
                            if msg.command == "315":
                                replies["end_of_who"] += 1
                            elif msg.command == "352":
                                replies["who_rows"] += 1

                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(read)
                        while trio.current_time() < stop_at:
                            await conn.send("WHO *zzz*")
                            await trio.sleep(0.2)
                        nursery.cancel_scope.cancel()

                replies.clear()
                stop_at = trio.current_time() + seconds
                with trio.move_on_after(seconds + 60):
                    async with trio.open_nursery() as nursery:
                        for conn in attackers:
                            nursery.start_soon(flood, conn, stop_at)
                        during = rtt_summary(await probe.run(seconds))
                sent = int(len(attackers) * seconds / 0.2)
                figures = {"users": n, "before": before, "during": during, "who_sent": sent,
                           "who_answered": replies["end_of_who"], "who_rows": replies["who_rows"],
                           "flood_seconds": seconds, "probe_lost": probe.lost}
                self.row("who", WHAT["who"] + f", {n:,} users in the conference",
                         f"another user's PING: median {during['p50_ms']:.1f} ms, p95 {during['p95_ms']:.1f} ms "
                         f"(before the flood {before['p50_ms']:.1f} / {before['p95_ms']:.1f} ms); "
                         f"{replies['end_of_who']:,} of ~{sent:,} WHO answered in {seconds:.0f} s (fakelag)",
                         figures, server)
        finally:
            crowd.close()
            for conn in attackers:
                await conn.aclose()
            await probe.conn.aclose()

    # ------------------------------------------------------------ nick

    async def attack_nick(self, server: ServerProc) -> None:
        rounds = 5 if self.quick else 10
        results: dict[str, list] = {"one holder": [], "two alternating holders": []}
        holder_end = ""
        for variant in results:
            for r in range(rounds):
                holders = []
                for h in range(1 if variant == "one holder" else 2):
                    conn = await Irc.open(server.port, source(15, r * 2 + h))
                    await conn.send("CAP LS 302", "NICK moda", f"USER h{h} 0 * :holder")
                    holders.append(conn)
                await trio.sleep(0.3)
                stop = trio.Event()

                async def alternate() -> None:
                    n = 0
                    while not stop.is_set():  # each holder asks for the nick again, in turn
                        await holders[n % len(holders)].send("NICK moda")
                        n += 1
                        with trio.move_on_after(0.1):
                            await stop.wait()

                async with trio.open_nursery() as nursery:
                    nursery.start_soon(alternate)
                    try:
                        mod, nick, seconds = await staff_login(server.port, "127.0.1.3")
                        results[variant].append((nick, seconds))
                        await mod.aclose()
                    finally:
                        stop.set()
                if variant == "one holder" and r == 0:
                    await holders[0].send("CAP END")  # what the holder gets when it ends registration
                    with trio.move_on_after(5):
                        msg = await holders[0].until(lambda m: m.command in ("001", "433"), 5)
                        holder_end = f"{msg.command} {msg.params[-1]}"
                for conn in holders:
                    await conn.aclose()
        figures = {v: {"got_nick": sum(1 for nick, _ in rs if nick == "moda"), "rounds": len(rs),
                       "signin_ms_p50": round(percentile([s for _, s in rs], 50) * 1000, 1),
                       "signin_ms_max": round(max(s for _, s in rs) * 1000, 1)} for v, rs in results.items()}
        figures["holder_after_cap_end"] = holder_end
        text = "; ".join(f"{v}: moderator got `moda` {f['got_nick']}/{f['rounds']}, sign-in median "
                         f"{f['signin_ms_p50']:.0f} ms (max {f['signin_ms_max']:.0f})"
                         for v, f in figures.items() if isinstance(f, dict))
        self.row("nick", WHAT["nick"], text + f"; the holder's `CAP END` then gets `{holder_end}`", figures, server)

    # ------------------------------------------------------------ passwords

    async def attack_passwords(self, server: ServerProc) -> None:
        seconds = 20.0 if self.quick else 60.0
        figures: dict = {"hash_seconds_in_bench": round(self.hash_seconds, 3)}

        async def check(account: str, password: str, src: str) -> tuple[str, float]:
            conn = await Irc.open(server.port, src)
            try:
                await conn.send("CAP LS 302", "NICK t", "USER t 0 * :t", "CAP REQ :sasl standard-replies",
                                "AUTHENTICATE PLAIN")
                await conn.until(lambda m: m.command == "AUTHENTICATE", 30)
                started = trio.current_time()
                await conn.send(f"AUTHENTICATE {plain_blob(account, password)}")
                msg = await conn.until(lambda m: m.command in ("903", "904", "FAIL"), 30)
                return msg.command, trio.current_time() - started
            finally:
                await conn.aclose()

        # Timing: a wrong password for a known account against an unknown
        # name, interleaved, each from a fresh address (no back-off).
        known, unknown = [], []
        for i in range(3 * STAFF_ACCOUNTS):
            code, s = await check(f"staff{i % STAFF_ACCOUNTS}", f"wrong{i}", source(16, 2 * i))
            if code == "904":
                known.append(s)
            code, s = await check(f"nobody{i}", f"wrong{i}", source(16, 2 * i + 1))
            if code == "904":
                unknown.append(s)
        figures.update({"known_ms_p50": round(percentile(known, 50) * 1000, 1),
                        "unknown_ms_p50": round(percentile(unknown, 50) * 1000, 1),
                        "known_n": len(known), "unknown_n": len(unknown)})
        base = await metric(server.http_port, "confchat_login_failures_total")

        # Guessing from one address, 20 connections, each guess waiting for its answer.
        probe = Prober(await visitor(server.port, "127.0.1.4", "probe"))
        before = rtt_summary(await probe.run(5.0))
        counts: Counter[str] = Counter()
        owner: list[str] = []
        guesser_src = source(17, 0)

        async def guesser(g: int, stop_at: float) -> None:
            n = 0
            while trio.current_time() < stop_at and counts["answered"] < 200_000:
                try:
                    conn = await Irc.open(server.port, guesser_src)
                except OSError:
                    counts["connect_errors"] += 1
                    await trio.sleep(0.1)
                    continue
                counts["connections"] += 1
                outstanding = False
                try:
                    await conn.send("CAP LS 302", f"NICK g{g}", f"USER g{g} 0 * :g", "CAP REQ :sasl standard-replies")
                    while trio.current_time() < stop_at:
                        n += 1
                        await conn.send("AUTHENTICATE PLAIN")
                        await conn.until(lambda m: m.command == "AUTHENTICATE", 30)
                        outstanding = True
                        await conn.send(f"AUTHENTICATE {plain_blob('moda', f'guess{g}-{n}')}")
                        limited = False
                        while True:
                            msg = await conn.until(lambda m: m.command in ("FAIL", "903", "904"), 120)
                            if msg.command == "FAIL" and msg.param(1) == "RATE_LIMITED":
                                limited = True
                            elif msg.command != "FAIL":
                                break
                        outstanding = False
                        counts["answered"] += 1
                        counts["refused_rate_limited" if limited else "answered_904"] += 1
                except Closed:
                    counts["closed_by_server"] += 1
                    if outstanding:  # the fifth failure is answered by the close
                        counts["answered"] += 1
                        counts["answered_by_close"] += 1
                except trio.TooSlowError:
                    counts["unanswered_in_120_s"] += 1
                finally:
                    await conn.aclose()

        async def the_owner(stop_at: float) -> None:
            # The real moderator signs in from elsewhere, every 10 s.
            while trio.current_time() + 10 < stop_at:
                await trio.sleep(10)
                conn = await Irc.open(server.port, "127.0.1.5")
                try:
                    await conn.send("CAP LS 302", "NICK moda", "USER moda 0 * :moda",
                                    "CAP REQ :sasl standard-replies", "AUTHENTICATE PLAIN",
                                    f"AUTHENTICATE {plain_blob('moda', PASSWORD)}")
                    outcome = ""
                    while True:
                        msg = await conn.until(lambda m: m.command in ("FAIL", "903", "904"), 60)
                        if msg.command == "FAIL":
                            outcome = f"RATE_LIMITED {msg.param(2)} s"
                        else:
                            owner.append("signed in" if msg.command == "903" else outcome or "904")
                            break
                finally:
                    await conn.aclose()

        stop_at = trio.current_time() + seconds
        with trio.move_on_after(seconds + 150):
            async with trio.open_nursery() as nursery:
                for g in range(20):
                    nursery.start_soon(guesser, g, stop_at)
                nursery.start_soon(the_owner, stop_at)
                during = rtt_summary(await probe.run(seconds))
        after = await metric(server.http_port, "confchat_login_failures_total")
        checked = sum(after.get(k, 0) - base.get(k, 0) for k in after if "throttled" not in k)
        throttled = sum(after.get(k, 0) - base.get(k, 0) for k in after if "throttled" in k)
        await probe.conn.aclose()
        per_minute = counts["answered"] * 60 / seconds
        figures.update({"seconds": seconds, "answered": counts["answered"], "per_minute": round(per_minute),
                        "checked_by_server": int(checked), "throttled_by_server": int(throttled),
                        "counts": dict(counts), "ping_before": before, "ping_during": during,
                        "owner_signins": owner})
        owner_text = ", ".join(f"{k} ×{v}" for k, v in Counter(owner).items()) or "–"
        self.row("passwords", WHAT["passwords"],
                 f"{per_minute:,.0f} guesses answered a minute from one address, {int(checked)} of them checked "
                 f"(argon2), the rest refused at once (`RATE_LIMITED`); another user's PING median "
                 f"{during['p50_ms']:.1f} ms, p95 {during['p95_ms']:.1f} ms (before {before['p50_ms']:.1f} ms); "
                 f"the real moderator's sign-in meanwhile: {owner_text}; a check: known account "
                 f"{figures['known_ms_p50']:.0f} ms, unknown name {figures['unknown_ms_p50']:.0f} ms (medians of "
                 f"{len(known)}, {len(unknown)})", figures, server)

    # ------------------------------------------------------------ http

    async def attack_http(self, server: ServerProc) -> None:
        seconds = 12.0 if self.quick else 30.0
        partial = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow"

        async def healthz(run_for: float) -> tuple[list[float], Counter]:
            times, failed = [], Counter()
            deadline = trio.current_time() + run_for
            while trio.current_time() < deadline:
                started = trio.current_time()
                status, _, took = await http_request(server.http_port, get("/healthz"), timeout=10)
                if status == 200:
                    times.append(took)
                else:
                    failed[str(status or "no answer in 10 s")] += 1
                await trio.sleep_until(started + 0.2)
            return times, failed

        before, before_failed = await healthz(4.0)
        figures: dict = {"before": rtt_summary(before), "before_failed": dict(before_failed)}
        parts = []
        for label, addresses, slots in (("one address", 1, 1_500), ("40 addresses", 40, 2_600)):
            counts: Counter[str] = Counter()
            held = [0]
            peak = [0]

            async def slot(i: int, stop_at: float) -> None:
                src = source(18 if addresses == 1 else 19, i % addresses)
                while trio.current_time() < stop_at:
                    try:
                        stream = await open_stream(server.http_port, src)
                    except OSError:
                        counts["connect_errors"] += 1
                        await trio.sleep(1.0)
                        continue
                    counts["opened"] += 1
                    try:
                        await stream.send_all(partial)
                        first = None
                        with trio.move_on_at(stop_at):
                            first = await stream.receive_some(1 << 12)
                        if first is None:
                            counts["held_to_the_end"] += 1
                        elif first.startswith(b"HTTP/1.1 "):
                            counts["refused_" + first.split(b" ", 2)[1].decode()] += 1
                        else:
                            counts["closed"] += 1
                    except (trio.BrokenResourceError, OSError):
                        counts["reset"] += 1
                    finally:
                        await stream.aclose()
                    await trio.sleep(1.0)  # then reopen

            async def count_held(stop_at: float) -> None:
                # Held = opened and not yet answered, read from the server's side:
                # its open fds.
                while trio.current_time() < stop_at:
                    try:
                        held[0] = len(os.listdir(f"/proc/{server.proc.pid}/fd"))
                        peak[0] = max(peak[0], held[0])
                    except OSError:
                        pass
                    await trio.sleep(0.5)

            stop_at = trio.current_time() + seconds
            fds_before = len(os.listdir(f"/proc/{server.proc.pid}/fd"))
            with trio.move_on_after(seconds + 30):
                async with trio.open_nursery() as nursery:
                    for i in range(slots):
                        nursery.start_soon(slot, i, stop_at)
                    nursery.start_soon(count_held, stop_at)
                    await trio.sleep(2.0)  # the slots are open
                    during, failed = await healthz(seconds - 3)
            summary = rtt_summary(during)
            held_by_server = peak[0] - fds_before
            figures[label] = {"slots": slots, "addresses": addresses, "healthz": summary,
                              "healthz_failed": dict(failed),
                              "counts": dict(counts), "server_fds_peak_over_baseline": held_by_server}
            refused = sum(v for k, v in counts.items() if k.startswith("refused_503"))
            timeouts = counts.get("refused_408", 0)
            failures = sum(failed.values())
            why = " (" + ", ".join(f"{v} {k}" for k, v in failed.items()) + ")" if failed else ""
            parts.append(f"{label} ({slots:,} slots): `/healthz` median {summary['p50_ms']:.1f} ms, p95 "
                         f"{summary['p95_ms']:.1f} ms, {failures} of {failures + summary['n']} failed{why}; "
                         f"the server held "
                         f"≤ {held_by_server:,} open, refused {refused:,} with 503, {timeouts:,} 408")
            await trio.sleep(2.0)
        self.row("http", WHAT["http"], f"before: `/healthz` median {figures['before']['p50_ms']:.1f} ms; "
                 + "; ".join(parts), figures, server)

    # ------------------------------------------------------------ export

    async def attack_export(self, server: ServerProc) -> None:
        n = 2_000 if self.quick else 10_000
        seconds = 10.0 if self.quick else 20.0
        # Load: visitors from many addresses, 5 questions each, 10 per address.
        crowd = Crowd(server.port, block=20, per_source=10)
        mod, _, _ = await staff_login(server.port, "127.0.1.1")
        try:
            await trio.to_thread.run_sync(crowd.join, n // 5)
            await trio.to_thread.run_sync(crowd.ask, crowd.members, 5, text_of(200))
            items = sum(m.held for m in crowd.members)
            crowd.start()
            # The measuring visitors, 10 per address, at most 5 questions each
            # (the per-visitor cap): one question every PACE seconds.
            meters = [await visitor(server.port, source(21, i // 10), f"m{i}") for i in range(300)]
            budget = [5] * len(meters)

            async def ask(i: int) -> float | None:
                if budget[i] == 0:
                    return None
                budget[i] -= 1
                started = trio.current_time()
                await meters[i].send(f"PRIVMSG {CHAN} :How long does this take? {budget[i]}")
                await meters[i].until(lambda m: m.command in ("NOTE", "FAIL") and m.param(0) == "PRIVMSG", 60)
                return trio.current_time() - started

            async def acks(count: int | None, stop: trio.Event | None, first: int) -> list[float]:
                out = []
                i = first
                while (count is None or len(out) < count) and (stop is None or not stop.is_set()):
                    took = await ask(i % len(meters))
                    i += 1
                    if took is None:
                        break
                    out.append(took)
                    await trio.sleep(0.03)
                return out

            without = await acks(200, None, 0)
            exports: list[tuple[float, int]] = []
            stop = trio.Event()
            during: list[float] = []

            async def exporter() -> None:
                try:
                    stop_at = trio.current_time() + seconds
                    while trio.current_time() < stop_at and len(exports) < 500 and not stop.is_set():
                        link = await export_link(mod)
                        status, data, took = await http_request(server.http_port, get(link), timeout=120)
                        exports.append((took, len(data) if status == 200 else -status))
                finally:
                    stop.set()

            async def measure() -> None:
                during.extend(await acks(None, stop, 200))
                stop.set()  # out of questions: the exports stop too

            with trio.move_on_after(600):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(exporter)
                    nursery.start_soon(measure)
            for conn in meters:
                await conn.aclose()
        finally:
            crowd.close()
            await mod.aclose()
        figures = {"items": items, "without": {"p50_ms": round(percentile(without, 50) * 1000, 2),
                                                "p99_ms": round(percentile(without, 99) * 1000, 2), "n": len(without)},
                   "during": {"p50_ms": round(percentile(during, 50) * 1000, 2),
                              "p99_ms": round(percentile(during, 99) * 1000, 2), "n": len(during)},
                   "exports": [{"seconds": round(t, 2), "bytes": b} for t, b in exports]}
        size = exports[0][1] / 2**20 if exports else 0
        self.row("export", WHAT["export"].format(n=f"{items:,}"),
                 f"a visitor's acknowledgement p50 / p99: {figures['during']['p50_ms']:.1f} / "
                 f"{figures['during']['p99_ms']:.1f} ms during {len(exports)} exports "
                 f"({size:.1f} MiB, {statistics.fmean([t for t, _ in exports] or [0]):.1f} s each), "
                 f"{figures['without']['p50_ms']:.1f} / {figures['without']['p99_ms']:.1f} ms without",
                 figures, server)

    # ------------------------------------------------------------ smuggle, head

    async def attack_smuggle(self, server: ServerProc) -> None:
        request = (b"POST /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 40\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                   b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        stream = await open_stream(server.http_port, "127.0.0.1")
        data, closed = b"", False
        await stream.send_all(request)
        with trio.move_on_after(5):
            while True:
                chunk = await stream.receive_some(1 << 16)
                if not chunk:
                    closed = True
                    break
                data += chunk
        await stream.aclose()
        statuses = re.findall(rb"HTTP/1\.1 (\d{3})", data)
        figures = {"statuses": [s.decode() for s in statuses], "closed": closed}
        self.row("smuggle", WHAT["smuggle"],
                 f"answered {', '.join(figures['statuses']) or 'nothing'}, the smuggled request after it "
                 f"{'answered' if len(statuses) > 1 else 'not answered'}, connection "
                 f"{'closed' if closed else '**kept open**'}", figures, server)

    async def attack_head(self, server: ServerProc) -> None:
        mod, _, _ = await staff_login(server.port, "127.0.1.1")
        link = await export_link(mod, internal=False)
        head, _, _ = await http_request(server.http_port, get(link, "HEAD"))
        got, body, _ = await http_request(server.http_port, get(link))
        again, _, _ = await http_request(server.http_port, get(link))
        await mod.aclose()
        figures = {"head": head, "get_after_head": got, "second_get": again, "body_bytes": len(body)}
        self.row("head", WHAT["head"], f"`HEAD` gets {head}; a `GET` after it {got} (the link still works), "
                 f"a second `GET` {again} (used once)", figures, server)


ATTACKS = ("names", "queue", "oneaddress", "who", "nick", "passwords", "http", "export", "smuggle", "head")


def raise_fd_limit() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes and shorter floods")
    parser.add_argument("--only", default=",".join(ATTACKS), help="comma-separated attacks: " + ", ".join(ATTACKS))
    parser.add_argument("--json", metavar="FILE", help="write every figure here")
    args = parser.parse_args()
    chosen = [a.strip() for a in args.only.split(",") if a.strip()]
    unknown = [a for a in chosen if a not in ATTACKS]
    if unknown:
        parser.error(f"unknown attacks: {', '.join(unknown)}")
    raise_fd_limit()
    bench = Bench(args)
    print("| what | observed (earlier build) | measured now |\n|---|---|---|", flush=True)
    failures = {}
    started = time.monotonic()
    for name in chosen:
        t0 = time.monotonic()
        try:
            bench.run(name)
        except Exception as exc:  # one attack's failure is reported, the others still run
            failures[name] = repr(exc)
            traceback.print_exc()
            print(f"| {name} | {EARLIER[name]} | **the bench failed**: {exc!r} |", flush=True)
        bench.seconds[name] = round(time.monotonic() - t0, 1)
    print(f"\n{len(chosen)} attacks in {time.monotonic() - started:.0f} s; load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": datetime.date.today().isoformat(), "quick": args.quick,
                       "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                       "results": bench.results, "seconds": bench.seconds, "failures": failures, "rows": bench.rows}, f, indent=1)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
