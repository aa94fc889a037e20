"""Fan-out: N viewers in one conference, one staff sender; over TCP or WebSocket.

Starts an IRC server (confchat by default; ``--server inspircd`` runs
InspIRCd from the Debian package on a plain channel, for ratios from the same
machine), opens ``--viewers`` viewer connections at ``--ramp`` per second
(0: as fast as possible) over ``--transport tcp|ws``, has them join, then one
sender publishes ``--messages`` messages, either at ``--rate`` per second or
flat out (``--rate 0``: everything at once). Every message carries its send
time, so each viewer measures per-delivery latency; the fan-out latency of a
message is the time until its last viewer has it.

Reports (JSON on stdout): register rate, KiB per idle connection, server
RSS, deliveries per second, latency p50/p99/max per delivery and fan-out
p50/p99/max, server CPU seconds and utilisation, lost and duplicated
deliveries (both must be 0). The load generator is the project's own: plain
non-blocking sockets and one selector per worker process (``--workers``),
sharing the machine with the server.

Usage:
  .venv/bin/python bench/fanout.py --viewers 1000 --messages 200 --rate 0
  .venv/bin/python bench/fanout.py --viewers 10000 --messages 200 --rate 20 --transport ws
  .venv/bin/python bench/fanout.py --server inspircd --viewers 1000 --messages 200
  .venv/bin/python bench/fanout.py --viewers 1000 --messages 200 --tls [--transport ws]

--tls: the viewers connect over IRC over TLS (listen.tls) or wss:// (listen.https),
with a self-signed certificate made for the run; bench/tls_compare.py runs plain and
TLS side by side and prints the ratios.
"""

from __future__ import annotations

import argparse
import base64
import functools
import json
import multiprocessing as mp
import os
import re
import selectors
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

CONFCHAT_CONFIG = """
[limits]
max_connections_per_ip = 0
flood_burst = 1000000
flood_rate = 1000000.0
max_sendq = 8388608
registration_timeout = 900.0
ping_interval = 900.0

[history]
join_backlog = 0

[moderation]
# Each load client asks many questions in a row: no cap on its share of the queue.
max_pending_per_visitor = 0
max_pending_per_address = 0

[[accounts]]
name = "sender"
password_hash = "{hash}"

[[conferences]]
channel = "#bench"
title = "bench"
state = "live"
mode = "moderated"
moderators = ["sender"]
# Visitors here write as fast as the bench drives them.
slow_mode = 0
"""

INSPIRCD_CONFIG = """
<server name="bench.local" description="bench" network="bench">
<admin name="bench" nick="bench" email="bench@bench.local">
<bind address="127.0.0.1" port="{port}" type="clients">
<connect allow="*" maxconnwarn="off" globalmax="100000" localmax="100000" maxchans="20"
  limit="100000" pingfreq="900" timeout="900" threshold="1000000" commandrate="100000000"
  fakelag="off" sendq="8388608" recvq="65536" hardsendq="8388608" softsendq="8388608"
  resolvehostnames="no" useident="no">
<performance softlimit="100000" somaxconn="4096">
<limits maxline="512">
<options defaultmodes="nt">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="sparse" target="{log}">
<pid file="{pid}">
"""

PASSWORD = "bench-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def server_metrics(server: "Server") -> dict:
    """confchat's own view of the run, from /metrics: the mean storage
    commit and the mean time to queue one message to all its recipients."""
    if server.kind != "confchat" or not server.http_port:
        return {}
    import urllib.request

    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{server.http_port}/metrics", timeout=10).read().decode()
    except OSError:
        return {}
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("confchat_") and " " in line and "{" not in line:
            name, _, value = line.partition(" ")
            try:
                values[name] = float(value)
            except ValueError:
                pass
    out = {}
    for key, name in (("commit_ms_mean", "confchat_storage_commit_seconds"), ("queue_ms_mean", "confchat_fanout_seconds")):
        count = values.get(f"{name}_count")
        if count:
            out[key] = round(values.get(f"{name}_sum", 0.0) / count * 1000, 2)
    return out


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- servers


def policy_tables() -> str:
    """Every built-in policy, as the [moderation] section of the config."""
    import tomli_w

    from confchat.moderation.policies import default_configs

    return tomli_w.dumps({"policies": default_configs()})


class Server:
    def __init__(self, kind: str, tmp: str, policies: bool = False, tls: bool = False,
                 launcher: list[str] | None = None) -> None:
        # launcher: the command that runs confchat's CLI (idle_memory.py's
        # runs it under tracemalloc); by default ``python -m confchat``.
        self.kind = kind
        self.tmp = tmp
        self.http_port = 0
        if kind == "confchat":
            from argon2 import PasswordHasher

            cfg = os.path.join(tmp, "bench.toml")
            with open(cfg, "w") as f:
                config = CONFCHAT_CONFIG.format(hash=PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PASSWORD))
                if policies:  # --policies: every built-in on, in the [moderation] section
                    config = config.replace("[moderation]\n", "[moderation]\n" + policy_tables(), 1)
                if tls:  # --tls: IRC over TLS and HTTPS beside the plain ports
                    config += tls_tables(tmp)
                f.write(config)
            self.proc = subprocess.Popen(
                [*(launcher or [sys.executable, "-m", "confchat"]), "serve", "--config", cfg, "--tcp", "127.0.0.1:0",
                 "--http", "127.0.0.1:0", "--data-dir", os.path.join(tmp, "data"), "--log-format", "json"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )
            for line in self.proc.stdout:  # type: ignore[union-attr]
                if m := re.search(r"irc://127\.0\.0\.1:(\d+)", line):
                    self.port = int(m.group(1))
                if m := re.search(r"ws://127\.0\.0\.1:(\d+)/ws", line):
                    self.http_port = int(m.group(1))
                if m := re.search(r"ircs://127\.0\.0\.1:(\d+)", line):
                    self.tls_port = int(m.group(1))
                if m := re.search(r"wss://127\.0\.0\.1:(\d+)/ws", line):
                    self.https_port = int(m.group(1))
                if "Stop with Ctrl-C" in line:
                    break
            self.pid = self.proc.pid
        else:
            binary = shutil.which("inspircd") or "/usr/sbin/inspircd"
            self.port = free_port()
            conf = os.path.join(tmp, "inspircd.conf")
            pidfile = os.path.join(tmp, "inspircd.pid")
            with open(conf, "w") as f:
                f.write(INSPIRCD_CONFIG.format(port=self.port, log=os.path.join(tmp, "ircd.log"), pid=pidfile))
            self.proc = subprocess.Popen(
                [binary, "--config", conf, "--nofork", "--runasroot"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            deadline = time.time() + 20
            while time.time() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            self.pid = self.proc.pid

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# ---------------------------------------------------------------- TLS (--tls)


def tls_tables(tmp: str) -> str:
    """[listen] TLS ports and the [tls] section, with a self-signed
    certificate for localhost written in ``tmp``."""
    from confchat.selfsigned import write_self_signed

    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    write_self_signed(cert, key, ["localhost", "127.0.0.1"])
    return (f'\n[listen]\ntls = ["127.0.0.1:0"]\nhttps = "127.0.0.1:0"\n\n'
            f'[tls]\ncert = "{cert}"\nkey = "{key}"\nsts = false\n')


@functools.lru_cache(maxsize=None)
def client_tls(tmp: str) -> ssl.SSLContext:
    """What the load generator trusts: the run's own certificate (one
    context per process, shared by its viewers)."""
    return ssl.create_default_context(cafile=os.path.join(tmp, "cert.pem"))


def read_available(sock: socket.socket) -> bytes | None:
    """Everything readable now (b"": the server closed; None: nothing yet).
    A TLS socket returns one record per recv: it is read until dry, so one
    call takes as much as one plain recv would."""
    try:
        data = sock.recv(1 << 20)
    except (BlockingIOError, ssl.SSLWantReadError):
        return None
    if not data or not isinstance(sock, ssl.SSLSocket):
        return data
    parts = [data]
    while True:
        try:
            more = sock.recv(1 << 20)
        except (BlockingIOError, ssl.SSLWantReadError):
            break
        if not more:
            break
        parts.append(more)
    return b"".join(parts)


# ---------------------------------------------------------------- wire helpers


def ws_handshake(sock: socket.socket, port: int) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: text.ircv3.net\r\n\r\n".encode()
    )
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(4096)
        if not data:
            raise RuntimeError("WebSocket handshake refused")
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError(head.decode(errors="replace"))
    return rest


def ws_frame(text: bytes) -> bytes:
    """A masked client text frame (clients must mask)."""
    mask = os.urandom(4)
    n = len(text)
    head = bytes([0x81, 0x80 | n]) if n < 126 else bytes([0x81, 0x80 | 126]) + n.to_bytes(2, "big")
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(text))


def ws_messages(buf: bytearray) -> list[bytes]:
    """Complete server frames (unmasked) removed from ``buf``."""
    out = []
    while len(buf) >= 2:
        n = buf[1] & 0x7F
        offset = 2
        if n == 126:
            if len(buf) < 4:
                break
            n = int.from_bytes(buf[2:4], "big")
            offset = 4
        elif n == 127:
            if len(buf) < 10:
                break
            n = int.from_bytes(buf[2:10], "big")
            offset = 10
        if len(buf) < offset + n:
            break
        out.append(bytes(buf[offset:offset + n]))
        del buf[:offset + n]
    return out


class Conn:
    def __init__(self, transport: str, port: int, http_port: int, lines: list[bytes],
                 tls: ssl.SSLContext | None = None) -> None:
        self.transport = transport
        self.sock = socket.create_connection(("127.0.0.1", http_port if transport == "ws" else port))
        if tls is not None:  # the handshake, blocking, before anything else
            self.sock = tls.wrap_socket(self.sock, server_hostname="localhost")
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        if transport == "ws":
            self.buf += ws_handshake(self.sock, http_port)
            self.sock.sendall(b"".join(ws_frame(line) for line in lines))
        else:
            self.sock.sendall(b"".join(line + b"\r\n" for line in lines))

    def lines(self, data: bytes) -> list[bytes]:
        self.buf += data
        if self.transport == "ws":
            return ws_messages(self.buf)
        *complete, rest = bytes(self.buf).split(b"\r\n")
        self.buf = bytearray(rest)
        return complete

    def send(self, line: bytes) -> None:
        self.sock.sendall(ws_frame(line) if self.transport == "ws" else line + b"\r\n")


# ---------------------------------------------------------------- viewers (worker processes)

MARK = b"PRIVMSG #bench :m "


def viewer_worker(args, first: int, count: int, conn_pipe) -> None:
    """Open ``count`` viewers, report when joined, then record every
    delivery's latency until told to stop."""
    sel = selectors.DefaultSelector()
    conns = []
    joined = 0
    interval = (args.workers / args.ramp) if args.ramp else 0.0
    next_at = time.perf_counter()
    for i in range(first, first + count):
        if interval:
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            next_at += interval
        nick = f"v{i}"
        # JOIN only once welcomed: some servers (InspIRCd) refuse commands
        # sent before registration completes.
        c = Conn(args.transport, args.port, args.http_port, [f"NICK {nick}".encode(), b"USER v 0 * :v"],
                 client_tls(args.tmp) if args.tls else None)
        c.sock.setblocking(False)
        c.joined = False
        c.seen = {}
        conns.append(c)
        sel.register(c.sock, selectors.EVENT_READ, c)
    deadline = time.time() + 900
    while joined < count and time.time() < deadline:
        for key, _ in sel.select(1.0):
            c = key.data
            data = read_available(c.sock)
            if data is None:
                continue
            if not data:
                raise RuntimeError("server closed a viewer")
            for line in c.lines(data):
                if not c.joined and b" 001 " in line:
                    c.send(b"JOIN #bench")
                elif not c.joined and b" 366 " in line:
                    c.joined = True
                    joined += 1
                elif line.startswith(b"PING"):
                    c.send(b"PONG" + line[4:])
    conn_pipe.send(("joined", joined))
    conn_pipe.recv()  # go
    # The measurement loop does as little Python per delivery as possible:
    # per chunk read, it counts the messages at C speed and parses only the
    # first and the last one; the parent turns (first, last, arrival)
    # records into per-delivery latencies afterwards. A gap, a duplicate or
    # a reordering shows as first != previous last + 1.
    size = args.size
    records: list[tuple[int, int, int]] = []
    anomalies = 0
    received = 0
    expected = args.messages * count
    for c in conns:
        c.carry = bytes(c.buf[-(len(MARK) - 1):]) if c.buf else b""
        c.last = -1
    deadline = time.time() + args.timeout

    def seq_at(buf: bytes, pos: int) -> tuple[int, bool]:
        after = pos + len(MARK)
        sp1 = buf.find(b" ", after)
        sp2 = buf.find(b" ", sp1 + 1) if sp1 >= 0 else -1
        if sp2 < 0 or len(buf) < sp2 + 1 + size:
            return -1, False
        return int(buf[after:sp1]), True

    while received < expected and time.time() < deadline:
        for key, _ in sel.select(0.5):
            c = key.data
            data = read_available(c.sock)
            if not data:
                continue
            now = time.perf_counter_ns()
            buf = c.carry + data
            last_pos = buf.rfind(MARK)
            if last_pos < 0:
                c.carry = buf[-(len(MARK) - 1):]
                continue
            last_seq, complete = seq_at(buf, last_pos)
            if complete:
                region, c.carry = buf, buf[-(len(MARK) - 1):]
            else:
                region, c.carry = buf[:last_pos], buf[last_pos:]
                last_pos = region.rfind(MARK)
                if last_pos < 0:
                    continue
                last_seq, _ = seq_at(region, last_pos)
            n = region.count(MARK)
            first_seq, _ = seq_at(region, region.find(MARK))
            if first_seq != c.last + 1 or last_seq - first_seq + 1 != n:
                anomalies += 1
            c.last = last_seq
            received += n
            records.append((first_seq, last_seq, now))
    conn_pipe.send(("done", received, anomalies, records))
    for c in conns:
        c.sock.close()


def joined_connection(server: Server, lines: list[bytes]) -> Conn:
    conn = Conn("tcp", server.port, server.http_port, lines)
    buf = b""
    while b" 001 " not in buf:
        buf += conn.sock.recv(65536)
    conn.send(b"JOIN #bench")
    while b" 366 " not in buf:
        buf += conn.sock.recv(65536)
    conn.sock.setblocking(False)
    return conn


def approve_everything(bot: Conn) -> None:
    """A bot moderator: approves each question as soon as it is queued."""
    bot.sock.setblocking(True)
    pending = re.compile(rb"QUEUE #bench ITEM (\d+) pending ")
    buf = b""
    while True:
        data = bot.sock.recv(1 << 20)
        if not data:
            return
        buf += data
        *lines, buf = buf.split(b"\r\n")
        ids = [m.group(1) for line in lines if (m := pending.search(line))]
        if ids:
            bot.sock.sendall(b"".join(b"QUEUE #bench APPROVE " + i + b"\r\n" for i in ids))


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))]


def run(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        launcher = None
        if args.switch_interval:  # a proposed setting, tried without changing the server
            launcher = [sys.executable, "-c", "import sys; sys.setswitchinterval(float(sys.argv.pop(1))); "
                        "from confchat.cli import main; raise SystemExit(main(sys.argv[1:]))", str(args.switch_interval)]
        server = Server(args.server, tmp, args.policies, args.tls, launcher=launcher)
        args.port, args.http_port = server.port, server.http_port
        args.tmp = tmp
        if args.tls:  # the viewers on the TLS ports; the sender stays plain
            args.port, args.http_port = server.tls_port, server.https_port
        if args.transport == "ws" and not server.http_port:
            raise SystemExit("this server has no WebSocket port")
        try:
            base_rss = rss_kib(server.pid)
            per = [args.viewers // args.workers + (1 if i < args.viewers % args.workers else 0) for i in range(args.workers)]
            pipes, procs = [], []
            started = time.perf_counter()
            first = 0
            for count in per:
                parent, child = mp.Pipe()
                proc = mp.Process(target=viewer_worker, args=(args, first, count, child))
                proc.start()
                pipes.append(parent)
                procs.append(proc)
                first += count
            joined = sum(p.recv()[1] for p in pipes)
            register_s = time.perf_counter() - started
            time.sleep(2)
            idle_rss = rss_kib(server.pid)
            # The sender: staff (confchat: a moderator, so it publishes
            # directly) or a plain op (InspIRCd). --moderated: the sender is
            # a visitor whose every question a bot moderator approves.
            login = [b"CAP REQ :sasl", b"AUTHENTICATE PLAIN",
                     b"AUTHENTICATE " + base64.b64encode(f"sender\0sender\0{PASSWORD}".encode()), b"CAP END"]
            moderated = args.moderated and args.server == "confchat"
            sender_lines = [b"NICK sender", b"USER s 0 * :s"]
            if args.server == "confchat" and not moderated:
                sender_lines = [*login, *sender_lines]
            sender = joined_connection(server, [b"NICK visitor", b"USER s 0 * :s"] if moderated else sender_lines)
            if moderated:
                bot = joined_connection(server, [*login, *sender_lines])
                threading.Thread(target=approve_everything, args=(bot,), daemon=True).start()
            for p in pipes:
                p.send("go")
            cpu0 = cpu_seconds(server.pid)
            t0 = time.perf_counter()
            sent_at: dict[int, int] = {}
            payload = "x" * args.size
            for seq in range(args.messages):
                if args.rate:
                    target = t0 + seq / args.rate
                    while (delay := target - time.perf_counter()) > 0:
                        time.sleep(min(delay, 0.01))
                now = time.perf_counter_ns()
                sent_at[seq] = now
                line = f"PRIVMSG #bench :m {seq} {now} {payload}\r\n".encode()
                while line:
                    try:
                        n = sender.sock.send(line)
                        line = line[n:]
                    except BlockingIOError:
                        time.sleep(0.0005)
                try:
                    sender.sock.recv(1 << 20)  # drain the echo and notices
                except BlockingIOError:
                    pass
            results = [p.recv() for p in pipes]
            elapsed = time.perf_counter() - t0
            cpu = cpu_seconds(server.pid) - cpu0
            metrics = server_metrics(server)
            for proc in procs:
                proc.join(10)
            received = sum(r[1] for r in results)
            anomalies = sum(r[2] for r in results)
            latencies: list[float] = []
            last: dict[int, int] = {}
            for r in results:
                for first_seq, last_seq, at in r[3]:
                    for seq in range(first_seq, last_seq + 1):
                        latencies.append((at - sent_at[seq]) / 1e9)
                        if at > last.get(seq, 0):
                            last[seq] = at
            fanout = [(last[s] - sent_at[s]) / 1e9 for s in last]
            expected = args.messages * joined
            last_delivery = max(last.values()) if last else 0
            span = (last_delivery - sent_at[0]) / 1e9 if last else elapsed
            return {
                "server": args.server,
                "transport": args.transport,
                "moderated": bool(args.moderated),
                "policies": bool(args.policies),
                "tls": bool(args.tls),
                **({"switch_interval": args.switch_interval} if args.switch_interval else {}),
                "viewers": joined,
                "messages": args.messages,
                "rate": args.rate or "flat out",
                "register_per_s": round(joined / register_s),
                "kib_per_idle_connection": round((idle_rss - base_rss) / max(1, joined), 1),
                "server_rss_mib": round(rss_kib(server.pid) / 1024, 1),
                "deliveries_per_s": round(received / span) if span > 0 else None,
                "latency_ms": {k: round(percentile(latencies, q) * 1000, 1) for k, q in (("p50", .5), ("p99", .99), ("max", 1.0))},
                "fanout_ms": {k: round(percentile(fanout, q) * 1000, 1) for k, q in (("p50", .5), ("p99", .99), ("max", 1.0))},
                "server_cpu_s": round(cpu, 2),
                "server_cpu_percent": round(100 * cpu / max(span, 1e-9), 1),
                "lost": max(0, expected - received),
                "duplicated": max(0, received - expected),
                "out_of_order_chunks": anomalies,
                **metrics,
            }
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=("confchat", "inspircd"), default="confchat")
    parser.add_argument("--transport", choices=("tcp", "ws"), default="tcp")
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rate", type=float, default=0.0, help="messages per second; 0: flat out")
    parser.add_argument("--size", type=int, default=40, help="filler characters per message")
    parser.add_argument("--ramp", type=float, default=0.0, help="new viewers per second; 0: as fast as possible")
    parser.add_argument("--workers", type=int, default=2, help="load generator processes")
    parser.add_argument("--moderated", action="store_true",
                        help="a visitor sends, a bot moderator approves each question (submit -> last viewer)")
    parser.add_argument("--tls", action="store_true",
                        help="confchat only: viewers over IRC over TLS (--transport tcp) or wss:// (ws)")
    parser.add_argument("--policies", action="store_true",
                        help="confchat with every built-in moderation policy on (the chain's cost in the fan-out)")
    parser.add_argument("--switch-interval", type=float, default=0.0,
                        help="confchat only: run the server with sys.setswitchinterval(S) (default: Python's 0.005)")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    print(json.dumps(run(args)))


if __name__ == "__main__":
    main()
