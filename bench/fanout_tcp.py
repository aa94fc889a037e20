"""Fan-out over real TCP: N viewers in one channel, one sender, flat out.

Starts confchat as a subprocess on a free loopback port (limits raised for the
load), opens N viewer connections, registers and joins them, then has one
sender publish M messages as fast as the server accepts them and measures:

* connect+register rate (clients/s),
* server RSS per idle registered connection (KiB),
* deliveries per second until the last viewer has the last message,
* lost or duplicated deliveries (must be 0).

Usage:  .venv/bin/python bench/fanout_tcp.py --viewers 1000 --messages 200
Prints one JSON object. Stops by itself (every wait has a deadline).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import trio

CONFIG = """
[limits]
max_connections_per_ip = 0
flood_burst = 1000000
flood_rate = 1000000.0
max_sendq = 4194304
registration_timeout = 600.0
ping_interval = 600.0
"""

CONFERENCE = """
[[conferences]]
channel = "#bench"
title = "bench"
state = "live"
mode = "open"
"""


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def read_until(stream: trio.SocketStream, token: bytes, buf: bytearray) -> None:
    while token not in buf:
        data = await stream.receive_some(65536)
        if not data:
            raise RuntimeError("server closed a viewer connection")
        buf += data


async def viewer(host: str, port: int, i: int, ready: list, streams: list) -> None:
    stream = await trio.open_tcp_stream(host, port)
    await stream.send_all(f"NICK v{i}\r\nUSER v 0 * :viewer\r\nJOIN #bench\r\n".encode())
    buf = bytearray()
    await read_until(stream, b" 366 ", buf)
    ready.append(i)
    streams.append(stream)


async def count_messages(stream: trio.SocketStream, expected: int, counts: list, idx: int) -> None:
    buf = bytearray()
    seen = 0
    while seen < expected:
        data = await stream.receive_some(262144)
        if not data:
            break
        seen += data.count(b" PRIVMSG #bench :")
    counts[idx] = seen


async def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "bench.toml")
        with open(cfg, "w") as f:
            f.write(CONFIG + (CONFERENCE if args.conference else ""))
        proc = subprocess.Popen(
            [sys.executable, "-m", "confchat", "serve", "--config", cfg, "--tcp", "127.0.0.1:0", "--http", "",
             "--data-dir", os.path.join(tmp, "data")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        try:
            port = None
            for line in proc.stdout:  # type: ignore[union-attr]
                m = re.search(r"irc://127\.0\.0\.1:(\d+)", line)
                if m:
                    port = int(m.group(1))
                    break
            assert port, "server did not announce its port"
            base_rss = rss_kib(proc.pid)
            ready: list = []
            streams: list = []
            t0 = time.perf_counter()
            with trio.fail_after(600):
                async with trio.open_nursery() as n:
                    limiter = trio.CapacityLimiter(200)

                    async def one(i: int) -> None:
                        async with limiter:
                            await viewer("127.0.0.1", port, i, ready, streams)

                    for i in range(args.viewers):
                        n.start_soon(one, i)
            connect_s = time.perf_counter() - t0
            await trio.sleep(1)
            idle_rss = rss_kib(proc.pid)
            sender = await trio.open_tcp_stream("127.0.0.1", port)
            await sender.send_all(b"NICK sender\r\nUSER s 0 * :sender\r\nJOIN #bench\r\n")
            await read_until(sender, b" 366 ", bytearray())
            counts = [0] * len(streams)
            t1 = time.perf_counter()
            cpu0 = sum(os.times()[:2])
            with trio.move_on_after(args.timeout):
                async with trio.open_nursery() as n:
                    for idx, s in enumerate(streams):
                        n.start_soon(count_messages, s, args.messages, counts, idx)
                    payload = b"".join(
                        f"PRIVMSG #bench :message {k} {'x' * 40}\r\n".encode() for k in range(args.messages)
                    )
                    await sender.send_all(payload)
            fanout_s = time.perf_counter() - t1
            delivered = sum(counts)
            expected = args.messages * len(streams)
            return {
                "conference": args.conference,
                "viewers": len(streams),
                "messages": args.messages,
                "register_per_s": round(len(streams) / connect_s),
                "kib_per_idle_connection": round((idle_rss - base_rss) / max(1, len(streams)), 1),
                "server_rss_mib": round(idle_rss / 1024, 1),
                "fanout_seconds": round(fanout_s, 3),
                "deliveries_per_s": round(delivered / fanout_s),
                "lost": expected - delivered if delivered <= expected else 0,
                "duplicated": delivered - expected if delivered > expected else 0,
                "loadgen_cpu_s": round(sum(os.times()[:2]) - cpu0, 2),
            }
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument(
        "--conference", action="store_true",
        help="make #bench a conference (auditorium, open mode) instead of a plain channel",
    )
    args = parser.parse_args()
    print(json.dumps(trio.run(run, args)))


if __name__ == "__main__":
    main()
