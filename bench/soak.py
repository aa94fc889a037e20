"""Soak: a live moderated conference under a steady, mixed load for a set time.

Starts confchat (a subprocess on a free loopback port, its database in a
temporary directory) with one live, moderated conference and runs, for
``--minutes``:

* ``--visitors`` visitor slots: each connects, registers, joins, asks
  questions and votes on published ones, then leaves (QUIT, a dropped
  socket, or PART and JOIN again) and comes back under a new nick;
* a bot moderator that decides every pending item with QUEUE commands
  (approve, drop, or hold and decide later);
* ``--viewers`` viewers that only read, and check that every published
  question reaches them exactly once;
* a probe (a moderator that does not join) that measures a PING round trip
  every ``--ping-every`` seconds and asks the queue length every minute.

Visitor events (questions, votes, comings and goings) run at ``--rate`` per
second in all, ``--questions`` of them questions (0: comings and goings
only, to tell what connections cost from what the queue keeps); the bot's
decisions follow the questions: about 20 events a second with the defaults. Every minute the
server's RSS, open file descriptors and CPU time are read from /proc. At the
end it writes ``<out>/soak-<date>.json`` (every sample) and
``soak-<date>.svg`` (memory, latency and the queue over time), and prints
one JSON object: RSS at the start and end, the RSS slope over the second
half (MiB per 10 minutes), PING latency p50/p99 over the whole run and per
minute, and the counts (including FAILs by code, lost and duplicated
publications, and the server's error-level log events, which must be 0).

Usage:  .venv/bin/python bench/soak.py --minutes 30 [--rate 12] [--visitors 30] [--questions 0.65]
        .venv/bin/python bench/soak.py --replot bench/results/soak-<date>.json
All traffic is on 127.0.0.1. Stops by itself.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import heapq
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter

import trio

from confchat.proto.codec import parse_line

HERE = os.path.dirname(os.path.abspath(__file__))
CHAN = "#soak"
PASSWORD = "soak-password"

CONFIG = """
[limits]
max_connections_per_ip = 0
# The bot moderator decides several items a second: above the default
# flood rate for one connection, so the limit is raised for everyone.
flood_burst = 200
flood_rate = 50.0

[moderation]
# Every visitor connects from 127.0.0.1: the per-address cap would count
# the whole soak as one network.
max_pending_per_address = 0

[[accounts]]
name = "bot"
password_hash = "{hash}"

[[accounts]]
name = "probe"
password_hash = "{hash}"

[[conferences]]
channel = "{chan}"
title = "Soak"
state = "live"
mode = "moderated"
moderators = ["bot", "probe"]
# Visitors here write as fast as the bench drives them.
slow_mode = 0
"""

WORDS = ("when", "will", "the", "bridge", "reopen", "budget", "tram", "schools", "why", "how much", "parks",
         "café", "naïve", "Straße", "мост", "橋", "🚋", "ça", "déjà", "ZAŻÓŁĆ")


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered))) - 1))]


def proc_status(pid: int) -> dict:
    """RSS (KiB), open fds and CPU seconds of ``pid``, from /proc."""
    rss = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return {"rss_kib": rss, "fds": len(os.listdir(f"/proc/{pid}/fd")), "cpu_s": cpu}


def slope_per_10min(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (minutes, MiB), as MiB per 10 minutes."""
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 10 * sum((x - mx) * (y - my) for x, y in points) / var if var else 0.0


class Closed(Exception):
    """The server closed the connection."""


class Conn:
    """One IRC connection: send lines, read parsed messages, answer PINGs."""

    def __init__(self, stream: trio.SocketStream) -> None:
        self.stream = stream
        self.buf = bytearray()
        self.sending = trio.Lock()  # a reader answering a PING may send at the same time as the writer

    @classmethod
    async def open(cls, port: int) -> "Conn":
        return cls(await trio.open_tcp_stream("127.0.0.1", port))

    async def send(self, *lines: str) -> None:
        async with self.sending:
            await self.stream.send_all("".join(line + "\r\n" for line in lines).encode())

    async def messages(self):
        """Messages as they come; PINGs are answered here."""
        while True:
            data = await self.stream.receive_some(65536)
            if not data:
                raise Closed()
            self.buf += data
            *lines, rest = self.buf.split(b"\r\n")
            self.buf = bytearray(rest)
            for raw in lines:
                if not raw:
                    continue
                msg = parse_line(raw.decode("utf-8", "replace"))
                if msg.command == "PING":
                    await self.send(f"PONG :{msg.param(0)}")
                elif msg.command == "ERROR":
                    raise Closed(msg.param(0))
                yield msg

    async def wait_for(self, command: str) -> None:
        async for msg in self.messages():
            if msg.command == command:
                return

    async def close(self) -> None:
        await self.stream.aclose()


class Soak:
    def __init__(self, args: argparse.Namespace, port: int, pid: int) -> None:
        self.args = args
        self.port = port
        self.pid = pid
        self.rng = random.Random(args.seed)
        self.counts: Counter[str] = Counter()
        self.fails: Counter[str] = Counter()
        self.published: list[int] = []  # item ids, as viewer 0 saw them
        self.seen: list[Counter[int]] = [Counter() for _ in range(args.viewers)]
        self.decided: set[int] = set()
        self.approved: dict[int, float] = {}  # item -> when the bot saw it published
        self.pings: list[tuple[float, float]] = []  # (seconds into the run, round trip ms)
        self.samples: list[dict] = []
        self.closed_reasons: Counter[str] = Counter()
        self.queue_length = -1
        self.aborted: str | None = None
        self.started = 0.0
        self.stop_at = 0.0

    def now(self) -> float:
        return trio.current_time() - self.started

    # ---------------------------------------------------------------- clients

    async def login(self, account: str) -> Conn:
        conn = await Conn.open(self.port)
        blob = base64.b64encode(f"{account}\0{account}\0{PASSWORD}".encode()).decode()
        await conn.send("CAP REQ :sasl standard-replies message-tags", f"NICK {account}",
                        f"USER {account} 0 * :{account}", "AUTHENTICATE PLAIN", f"AUTHENTICATE {blob}", "CAP END")
        await conn.wait_for("001")
        return conn

    async def register(self, nick: str) -> Conn:
        conn = await Conn.open(self.port)
        await conn.send("CAP REQ :standard-replies message-tags", f"NICK {nick}", f"USER {nick} 0 * :{nick}",
                        "CAP END", f"JOIN {CHAN}")
        await conn.wait_for("366")
        self.counts["joins"] += 1
        return conn

    def count_reply(self, msg) -> None:
        if msg.command == "FAIL":
            self.fails[f"{msg.param(0)} {msg.param(1)}"] += 1
        elif msg.command == "NOTE" and msg.param(1) == "HELD":
            self.counts["held_notes"] += 1

    # ---------------------------------------------------------------- visitors

    def question(self, nick: str, n: int) -> str:
        words = self.rng.choices(WORDS, k=self.rng.randint(1, 30))
        return f"{nick} #{n}: {' '.join(words)}?"

    async def visitor(self, slot: int, interval: float) -> None:
        generation = 0
        await trio.sleep(self.rng.uniform(0, interval))
        while self.now() < self.stop_at:
            generation += 1
            nick = f"v{slot}g{generation}"
            try:
                conn = await self.register(nick)
            except (OSError, Closed):
                self.counts["visitor_connect_errors"] += 1
                await trio.sleep(1)
                continue
            try:
                await self.visit(conn, nick, interval)
            except (OSError, trio.BrokenResourceError, trio.ClosedResourceError):
                self.counts["visitor_connection_errors"] += 1
            finally:
                await conn.close()
            await trio.sleep(self.rng.uniform(1, 5))

    async def visit(self, conn: Conn, nick: str, interval: float) -> None:
        """One connection's life: questions and votes, then a way out."""
        leave_at = self.now() + self.rng.expovariate(1 / self.args.visit_seconds)
        asked = 0
        state = {"quitting": False}
        done = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.read_replies, conn, state, done)
            while self.now() < min(leave_at, self.stop_at) and not done.is_set():
                await trio.sleep(self.rng.expovariate(1 / interval))
                roll = self.rng.random()
                if roll < self.args.questions:
                    asked += 1
                    await conn.send(f"PRIVMSG {CHAN} :{self.question(nick, asked)}")
                    self.counts["questions"] += 1
                elif roll < max(0.95, self.args.questions) and self.published:
                    item = self.rng.choice(self.published[-50:])
                    await conn.send(f"VOTE {CHAN} {item}")
                    self.counts["votes"] += 1
                elif roll >= 0.95:
                    await conn.send(f"PART {CHAN} :brb", f"JOIN {CHAN}")
                    self.counts["part_join"] += 1
            if not done.is_set():
                if self.now() >= self.stop_at or self.rng.random() < 0.6:
                    state["quitting"] = True
                    await conn.send("QUIT :bye")
                    self.counts["quits"] += 1
                    with trio.move_on_after(5):
                        await done.wait()  # the server's ERROR, then the close
                else:
                    self.counts["dropped_sockets"] += 1
            nursery.cancel_scope.cancel()

    async def read_replies(self, conn: Conn, state: dict, done: trio.Event) -> None:
        try:
            async for msg in conn.messages():
                self.count_reply(msg)
        except Closed as exc:
            if not state["quitting"]:
                self.counts["visitor_closed_by_server"] += 1
                self.closed_reasons[str(exc)] += 1
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError):
            if not state["quitting"]:
                self.counts["visitor_connection_errors"] += 1
        finally:
            done.set()

    # ---------------------------------------------------------------- viewers

    async def viewer(self, index: int) -> None:
        conn = await self.register(f"viewer{index}")
        seen = self.seen[index]
        try:
            async for msg in conn.messages():
                if msg.command == "PRIVMSG" and "confchat/item" in msg.tags:
                    item = int(msg.tags["confchat/item"])
                    seen[item] += 1
                    if index == 0 and seen[item] == 1:
                        self.published.append(item)
        except Closed as exc:
            self.counts["viewer_closed_by_server"] += 1
            self.closed_reasons["viewer: " + str(exc)] += 1
        finally:
            await conn.close()

    # ---------------------------------------------------------------- the bot moderator

    async def moderator(self) -> None:
        conn = await self.login("bot")
        await conn.send(f"JOIN {CHAN}")
        due: list[tuple[float, int, str]] = []  # (when, item, action)
        numeric = re.compile(r"^\d+$")
        async with trio.open_nursery() as nursery:

            async def decide() -> None:
                while True:
                    await trio.sleep(0.1)
                    lines = []
                    while due and due[0][0] <= self.now():
                        _, item, action = heapq.heappop(due)
                        lines.append(f"QUEUE {CHAN} {action} {item}")
                        self.counts["decisions_" + action.lower()] += 1
                    if lines:
                        await conn.send(*lines)

            nursery.start_soon(decide)
            async for msg in conn.messages():
                self.count_reply(msg)
                if msg.command != "QUEUE" or msg.param(1) != "ITEM" or not numeric.match(msg.param(2)):
                    continue
                item, state = int(msg.param(2)), msg.param(3)
                if state == "pending" and item not in self.decided:
                    self.decided.add(item)
                    roll = self.rng.random()
                    action = "APPROVE" if roll < 0.6 else "DROP" if roll < 0.85 else "HOLD"
                    heapq.heappush(due, (self.now() + self.rng.uniform(0.2, 3.0), item, action))
                elif state == "held":
                    action = "APPROVE" if self.rng.random() < 0.5 else "DROP"
                    heapq.heappush(due, (self.now() + self.rng.uniform(10, 60), item, action))
                elif state == "published":
                    self.approved.setdefault(item, self.now())

    # ---------------------------------------------------------------- the probe

    async def probe(self, conn: Conn) -> None:
        """PING round trips, and the queue length when the sampler asks."""
        sent: dict[str, float] = {}

        async def read() -> None:
            async for msg in conn.messages():
                token = msg.params[-1] if msg.params else ""
                if msg.command == "PONG" and token in sent:
                    self.pings.append((self.now(), (trio.current_time() - sent.pop(token)) * 1000))
                elif msg.command == "CONF" and msg.param(1) == "INFO" and msg.param(2) == "queue":
                    self.queue_length = int(msg.param(3))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            n = 0
            while True:
                n += 1
                token = f"soak{n}"
                sent[token] = trio.current_time()
                await conn.send(f"PING :{token}")
                await trio.sleep(self.args.ping_every)

    # ---------------------------------------------------------------- sampling

    async def sampler(self, probe: Conn) -> None:
        minute = 0
        while True:
            await probe.send(f"CONF {CHAN} INFO")
            await trio.sleep(1.0)  # time for the INFO reply
            self.sample()
            minute += 1
            await trio.sleep_until(self.started + minute * 60)

    def sample(self) -> None:
        status = proc_status(self.pid)
        t = self.now()
        recent = [ms for at, ms in self.pings if at > t - 60]
        sample = {
            "minute": round(t / 60, 2),
            "rss_mib": round(status["rss_kib"] / 1024, 2),
            "fds": status["fds"],
            "cpu_s": round(status["cpu_s"], 2),
            "queue": self.queue_length,
            "ping_ms_p50": round(percentile(recent, 50), 2),
            "ping_ms_p99": round(percentile(recent, 99), 2),
            "ping_ms_max": round(max(recent, default=0.0), 2),
            "pings": len(recent),
            "questions": self.counts["questions"],
            "published": len(self.published),
        }
        self.samples.append(sample)
        print(json.dumps(sample), file=sys.stderr, flush=True)

    async def run(self) -> None:
        args = self.args
        self.started = trio.current_time()
        self.stop_at = args.minutes * 60
        # Visitor events per second in all: each slot acts every ``interval`` s.
        interval = args.visitors / args.rate
        try:
            probe = await self.login("probe")
            with trio.move_on_at(self.started + self.stop_at + 8):
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self.probe, probe)
                    nursery.start_soon(self.moderator)
                    for i in range(args.viewers):
                        nursery.start_soon(self.viewer, i)
                    await trio.sleep(1)
                    nursery.start_soon(self.sampler, probe)
                    for slot in range(args.visitors):
                        nursery.start_soon(self.visitor, slot, interval)
        except* (Closed, OSError, trio.BrokenResourceError) as group:
            self.aborted = repr(group.exceptions[0])
        # The visitors stopped at stop_at; the last decisions and deliveries
        # had a few seconds to settle.
        self.sample()


def chart(samples: list[dict], path: str, title: str) -> None:
    """Three panels over time (hand-written SVG): RSS, PING round trip
    p50/p99, queue length and open fds."""
    width, height, pad_l, pad_r, pad_t, pad_b = 760, 200, 70, 150, 30, 34
    xs = [s["minute"] for s in samples] or [0.0]
    xmax = max(xs) or 1.0
    panels = [
        ("server RSS (MiB)", [("RSS", "rss_mib", "#1d4f91")], False),
        ("PING round trip (ms)", [("p50", "ping_ms_p50", "#1e6b34"), ("p99", "ping_ms_p99", "#a4161a")], True),
        ("queue length and open fds", [("queue", "queue", "#7a4b00"), ("fds", "fds", "#555")], True),
    ]
    parts = [f'<text x="{width / 2}" y="18" text-anchor="middle" font-weight="bold">{title}</text>']
    for index, (name, lines, from_zero) in enumerate(panels):
        top = 24 + index * height
        values = [s[key] for s in samples for _, key, _ in lines if s[key] >= 0]
        if from_zero:
            ymin, ymax = 0.0, max(values + [1.0]) * 1.1
        else:  # zoomed in, so that a drift shows
            ymin, ymax = min(values, default=0.0) * 0.95, max(values, default=1.0) * 1.05

        def x(v: float) -> float:
            return pad_l + v / xmax * (width - pad_l - pad_r)

        def y(v: float) -> float:
            return top + height - pad_b - (v - ymin) / (ymax - ymin) * (height - pad_t - pad_b)

        parts.append(f'<text x="{pad_l}" y="{top + 18}" font-size="13" font-weight="bold">{name}</text>')
        parts.append(f'<line x1="{pad_l}" y1="{y(ymin):.1f}" x2="{width - pad_r}" y2="{y(ymin):.1f}" stroke="#333"/>')
        parts.append(f'<line x1="{pad_l}" y1="{y(ymax):.1f}" x2="{pad_l}" y2="{y(ymin):.1f}" stroke="#333"/>')
        for frac in (0.0, 0.5, 1.0):
            v = ymin + frac * (ymax - ymin) / (1.1 if from_zero else 1.0)
            parts.append(f'<line x1="{pad_l - 4}" y1="{y(v):.1f}" x2="{width - pad_r}" y2="{y(v):.1f}" '
                         f'stroke="#ddd"/>')
            parts.append(f'<text x="{pad_l - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11">{v:,.1f}</text>')
        step = max(1, round(xmax / 6))
        for m in range(0, int(xmax) + 1, step):
            parts.append(f'<text x="{x(m):.1f}" y="{top + height - pad_b + 15}" text-anchor="middle" '
                         f'font-size="11">{m}</text>')
        parts.append(f'<text x="{(pad_l + width - pad_r) / 2}" y="{top + height - 6}" text-anchor="middle" '
                     f'font-size="11">minutes</text>')
        for n, (label, key, colour) in enumerate(lines):
            points = " ".join(f"{x(s['minute']):.1f},{y(s[key]):.1f}" for s in samples if s[key] >= 0)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
            last = next((s[key] for s in reversed(samples) if s[key] >= 0), 0)
            parts.append(f'<text x="{width - pad_r + 10}" y="{top + 40 + 16 * n}" fill="{colour}" '
                         f'font-size="12">{label} (last {last:,.1f})</text>')
    total = 24 + len(panels) * height
    with open(path, "w") as f:
        f.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{total}" '
                f'font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>\n'
                + "\n".join(parts) + "\n</svg>\n")


def server_errors(log_path: str) -> tuple[int, list[str]]:
    """Error-level events in the server's JSON log (command.crashed, ...)."""
    count, first = 0, []
    with open(log_path, errors="replace") as f:
        for line in f:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("level") in ("error", "critical"):
                count += 1
                if len(first) < 5:
                    first.append(line.strip()[:500])
    return count, first


def start_server(tmp: str) -> tuple[subprocess.Popen, int, str]:
    from argon2 import PasswordHasher

    cfg = os.path.join(tmp, "soak.toml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(hash=PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(PASSWORD),
                              chan=CHAN))
    out_path, log_path = os.path.join(tmp, "stdout.txt"), os.path.join(tmp, "server.log")
    # Files, not pipes: a pipe nobody reads would fill and stall the server.
    with open(out_path, "w") as out, open(log_path, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "confchat", "serve", "--config", cfg, "--tcp", "127.0.0.1:0", "--http", "",
             "--data-dir", os.path.join(tmp, "data"), "--log-format", "json"],
            stdout=out, stderr=log, stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with open(out_path) as f:
            text = f.read()
        if (m := re.search(r"irc://127\.0\.0\.1:(\d+)", text)) and "Stop with Ctrl-C" in text:
            return proc, int(m.group(1)), log_path
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start: " + open(log_path).read()[-2000:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=12.0, help="visitor events per second, in all")
    parser.add_argument("--visitors", type=int, default=30, help="visitor slots (each comes and goes)")
    parser.add_argument("--visit-seconds", type=float, default=120.0, help="mean length of one visit")
    parser.add_argument("--questions", type=float, default=0.65,
                        help="share of visitor events that are questions (0: comings and goings only)")
    parser.add_argument("--viewers", type=int, default=4)
    parser.add_argument("--ping-every", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--replot", metavar="JSON", help="only redraw the chart of an earlier results file")
    args = parser.parse_args()
    if args.replot:
        with open(args.replot) as f:
            data = json.load(f)
        s = data["summary"]
        chart(data["samples"], args.replot.removesuffix(".json") + ".svg",
              f"confchat soak, {data['date']}: {s['minutes']:g} min, {s['rate_visitor_events_per_s']:g} visitor "
              f"events/s, {s['visitor_slots']} visitor slots")
        return
    with tempfile.TemporaryDirectory() as tmp:
        proc, port, log_path = start_server(tmp)
        try:
            soak = Soak(args, port, proc.pid)
            trio.run(soak.run)
            final = proc_status(proc.pid)
            alive = proc.poll() is None
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        errors, first_errors = server_errors(log_path)
        database = os.path.join(tmp, "data", "confchat.sqlite3")
        db_mib = sum(os.path.getsize(p) for p in (database, database + "-wal") if os.path.exists(p)) / 2**20
    samples = soak.samples
    half = [(s["minute"], s["rss_mib"]) for s in samples if s["minute"] >= args.minutes / 2]
    pings = [ms for _, ms in soak.pings]
    published = set(soak.published)
    # What the bot saw published, every viewer must have had once (those
    # published in the last seconds may still have been on their way).
    settled = [item for item, at in soak.approved.items() if at < args.minutes * 60 - 5]
    lost = sum(1 for seen in soak.seen for item in settled if item not in seen)
    duplicated = sum(1 for seen in soak.seen for n in seen.values() if n > 1)
    counts = dict(sorted(soak.counts.items()))
    summary = {
        "minutes": args.minutes,
        "rate_visitor_events_per_s": args.rate,
        "visitor_slots": args.visitors,
        "viewers": args.viewers,
        "server_alive_at_end": alive,
        "aborted": soak.aborted,
        "rss_mib_start": samples[0]["rss_mib"] if samples else None,
        "rss_mib_end": round(final["rss_kib"] / 1024, 2),
        "rss_mib_max": max((s["rss_mib"] for s in samples), default=None),
        "rss_slope_second_half_mib_per_10min": round(slope_per_10min(half), 3),
        "fds_start": samples[0]["fds"] if samples else None,
        "fds_end": final["fds"],
        "server_cpu_s": round(final["cpu_s"], 1),
        "ping_ms_p50": round(percentile(pings, 50), 2),
        "ping_ms_p99": round(percentile(pings, 99), 2),
        "ping_ms_max": round(max(pings, default=0.0), 2),
        "pings": len(pings),
        "queue_length_end": samples[-1]["queue"] if samples else None,
        "questions": counts.get("questions", 0),
        "published_seen": len(published),
        "lost_publications": lost,
        "duplicated_publications": duplicated,
        "database_mib": round(db_mib, 1),
        "server_error_events": errors,
        "first_server_errors": first_errors,
        "counts": counts,
        "fails": dict(sorted(soak.fails.items())),
        "visitor_close_reasons": dict(soak.closed_reasons),
    }
    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.date.today().isoformat()
    machine = {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()}
    base = os.path.join(args.out, f"soak-{stamp}")
    with open(base + ".json", "w") as f:
        json.dump({"date": stamp, "machine": machine, "summary": summary, "samples": samples}, f, indent=1)
    chart(samples, base + ".svg", f"confchat soak, {stamp}: {args.minutes:g} min, "
                                  f"{args.rate:g} visitor events/s, {args.visitors} visitor slots")
    summary["wrote"] = [base + ".json", base + ".svg"]
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
