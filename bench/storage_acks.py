"""Acknowledged writes per second: visitors' questions entering the queue.

Starts confchat (a live, moderated conference; flood limits raised) and has
``--visitors`` clients each send questions one after another, each waiting
for the server's ``NOTE PRIVMSG HELD`` before sending the next. A HELD note
leaves the server only after the question is committed to SQLite, so every
acknowledgement counted here is a durable write. Reports acknowledgements per
second and the submit → acknowledgement latency (p50/p99/max), for the
chosen ``--synchronous`` setting.

Usage:  .venv/bin/python bench/storage_acks.py --visitors 50 --seconds 10 --synchronous full
Prints one JSON object. Stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
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
registration_timeout = 600.0

[storage]
synchronous = "{synchronous}"

[moderation]
# Each load client asks many questions in a row: no cap on its share of the queue.
max_pending_per_visitor = 0
max_pending_per_address = 0

[[conferences]]
channel = "#bench"
title = "bench"
state = "live"
mode = "moderated"
# Visitors here write as fast as the bench drives them.
slow_mode = 0
"""

HELD = b"HELD"


async def visitor(port: int, i: int, stop_at: float, latencies: list[float]) -> None:
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    await stream.send_all(
        f"CAP REQ :standard-replies\r\nNICK q{i}\r\nUSER q 0 * :q\r\nCAP END\r\nJOIN #bench\r\n".encode()
    )
    buf = bytearray()
    while b" 366 " not in buf:
        buf += await stream.receive_some(65536)
    buf.clear()
    n = 0
    while time.perf_counter() < stop_at:
        n += 1
        sent = time.perf_counter()
        await stream.send_all(f"PRIVMSG #bench :question {n} from visitor {i}\r\n".encode())
        while b"NOTE PRIVMSG HELD" not in buf:
            data = await stream.receive_some(65536)
            if not data:
                raise RuntimeError("server closed a visitor connection")
            buf += data
        latencies.append(time.perf_counter() - sent)
        del buf[: buf.index(b"NOTE PRIVMSG HELD") + 17]
    await stream.aclose()


async def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = os.path.join(tmp, "bench.toml")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(synchronous=args.synchronous))
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
            latencies: list[float] = []
            started = time.perf_counter()
            stop_at = started + args.seconds
            with trio.fail_after(args.seconds + 60):
                async with trio.open_nursery() as n:
                    for i in range(args.visitors):
                        n.start_soon(visitor, port, i, stop_at, latencies)
            elapsed = time.perf_counter() - started
            latencies.sort()
            db = os.path.join(tmp, "data", "confchat.sqlite3")
            return {
                "synchronous": args.synchronous,
                "visitors": args.visitors,
                "seconds": round(elapsed, 2),
                "acknowledged": len(latencies),
                "acks_per_s": round(len(latencies) / elapsed),
                "latency_ms_p50": round(statistics.median(latencies) * 1000, 2),
                "latency_ms_p99": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
                "latency_ms_max": round(latencies[-1] * 1000, 2),
                "database_mib": round(sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p)) / 2**20, 1),
            }
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--synchronous", choices=("full", "normal"), default="full")
    args = parser.parse_args()
    print(json.dumps(trio.run(run, args)))


if __name__ == "__main__":
    main()
