"""Memory per idle connection: N registered viewers in the conference, doing nothing.

Starts the server as ``fanout.py`` does (a subprocess on free loopback ports,
the same configuration), opens ``--connections`` viewers over ``--transport
tcp|ws`` from ``--workers`` load-generator processes, registers each and has
it join ``#bench``, waits ``--settle`` seconds, then reads the server's RSS.
The figure is the RSS growth over the server's RSS before the first viewer,
divided by the viewers (the measure of ``fanout.py``'s
``kib_per_idle_connection``).

With ``--trace`` a second server runs under tracemalloc (which slows it down
and costs memory of its own, so it is a separate run): a snapshot before the
viewers and one after, diffed, give the Python allocations per connection by
source line (``--top`` lines) and their sum. The snapshots are taken inside
the server (SIGUSR1, after a full garbage collection) and compared here.

Usage:
  .venv/bin/python bench/idle_memory.py --connections 5000 [--transport ws] [--trace] [--top 25]
  .venv/bin/python bench/idle_memory.py --server inspircd --connections 5000

Prints one JSON object. Every wait has a deadline.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import os
import selectors
import signal
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fanout  # noqa: E402  (the server runner, wire helpers and RSS reader)

SNAPSHOT_ENV = "CONFCHAT_BENCH_SNAPSHOT"


# ---------------------------------------------------------------- the traced server (child)


def traced_server(argv: list[str]) -> int:
    """``confchat serve`` under tracemalloc; SIGUSR1 writes a snapshot to
    the path in $CONFCHAT_BENCH_SNAPSHOT plus a counter (.0, .1, ...)."""
    import tracemalloc

    tracemalloc.start(int(os.environ.get("CONFCHAT_BENCH_FRAMES", "1")))
    taken = [0]

    def dump(signum, frame) -> None:
        gc.collect()
        path = f"{os.environ[SNAPSHOT_ENV]}.{taken[0]}"
        tracemalloc.take_snapshot().dump(path + ".tmp")
        os.rename(path + ".tmp", path)
        taken[0] += 1

    signal.signal(signal.SIGUSR1, dump)
    from confchat.cli import main

    return main(argv)


def snapshot(pid: int, base: str, index: int, timeout: float = 120.0):
    import tracemalloc

    os.kill(pid, signal.SIGUSR1)
    path = f"{base}.{index}"
    deadline = time.time() + timeout
    while not os.path.exists(path):
        if time.time() > deadline:
            raise RuntimeError("the server wrote no snapshot")
        time.sleep(0.1)
    return tracemalloc.Snapshot.load(path)


# ---------------------------------------------------------------- viewers


def idle_worker(transport: str, port: int, http_port: int, first: int, count: int, pipe) -> None:
    """Open ``count`` viewers, register and join each, report, then hold
    them (answering PINGs) until told to close."""
    sel = selectors.DefaultSelector()
    conns = []
    for i in range(first, first + count):
        c = fanout.Conn(transport, port, http_port, [f"NICK v{i}".encode(), b"USER v 0 * :v"])
        c.sock.setblocking(False)
        c.joined = False
        conns.append(c)
        sel.register(c.sock, selectors.EVENT_READ, c)
    joined = 0
    deadline = time.time() + 600

    def pump(timeout: float) -> None:
        nonlocal joined
        for key, _ in sel.select(timeout):
            c = key.data
            data = fanout.read_available(c.sock)
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

    while joined < count and time.time() < deadline:
        pump(1.0)
    pipe.send(joined)
    deadline = time.time() + 900
    while not pipe.poll(0) and time.time() < deadline:
        pump(0.2)
    for c in conns:
        c.sock.close()


def measure(args, trace: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        snap_base = os.path.join(tmp, "snapshot")
        launcher = None
        if trace:
            os.environ[SNAPSHOT_ENV] = snap_base
            os.environ["CONFCHAT_BENCH_FRAMES"] = str(args.frames)
            launcher = [sys.executable, os.path.abspath(__file__), "--child"]
        server = fanout.Server(args.server, tmp, launcher=launcher)
        try:
            time.sleep(1)
            before = snapshot(server.pid, snap_base, 0) if trace else None
            base_rss = fanout.rss_kib(server.pid)
            per = [args.connections // args.workers + (1 if i < args.connections % args.workers else 0)
                   for i in range(args.workers)]
            pipes, procs, first = [], [], 0
            started = time.perf_counter()
            for count in per:
                parent, child = mp.Pipe()
                proc = mp.Process(target=idle_worker,
                                  args=(args.transport, server.port, server.http_port, first, count, child))
                proc.start()
                pipes.append(parent)
                procs.append(proc)
                first += count
            joined = 0
            for p in pipes:
                if not p.poll(900):
                    raise RuntimeError("a worker did not report")
                joined += p.recv()
            register_s = time.perf_counter() - started
            time.sleep(args.settle)
            idle_rss = fanout.rss_kib(server.pid)
            result = {
                "server": args.server,
                "transport": args.transport,
                "connections": joined,
                "tracemalloc": trace,
                "register_per_s": round(joined / register_s),
                "server_rss_mib_before": round(base_rss / 1024, 1),
                "server_rss_mib_idle": round(idle_rss / 1024, 1),
                "kib_per_idle_connection": round((idle_rss - base_rss) / max(1, joined), 2),
            }
            if trace:
                after = snapshot(server.pid, snap_base, 1)
                result.update(sites(before, after, joined, args.top, args.frames))
            for p in pipes:
                p.send("close")
            for proc in procs:
                proc.join(30)
            return result
        finally:
            server.stop()


def short(frame) -> str:
    name = frame.filename
    for marker in ("/site-packages/", "/src/", "/lib/python3.11/"):
        if marker in name:
            name = name.split(marker, 1)[1]
            break
    return f"{name}:{frame.lineno}"


def sites(before, after, joined: int, top: int, frames: int = 1) -> dict:
    """The allocations ``after`` has and ``before`` had not, per connection:
    by line (``frames`` 1) or by whole traceback (more frames: each row
    then lists them, innermost first)."""
    import tracemalloc

    ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap*>")]
    diff = after.filter_traces(ignore).compare_to(before.filter_traces(ignore), "lineno" if frames == 1 else "traceback")
    total = sum(d.size_diff for d in diff)
    count = sum(d.count_diff for d in diff)
    rows = []
    for d in diff[:top]:
        rows.append({
            "site": short(d.traceback[0]) if frames == 1 else [short(f) for f in reversed(d.traceback)],
            "bytes_per_connection": round(d.size_diff / max(1, joined), 1),
            "blocks_per_connection": round(d.count_diff / max(1, joined), 2),
        })
    return {
        "traced_kib_per_connection": round(total / max(1, joined) / 1024, 2),
        "traced_blocks_per_connection": round(count / max(1, joined), 1),
        "top_sites": rows,
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        raise SystemExit(traced_server(sys.argv[2:]))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=("confchat", "inspircd"), default="confchat")
    parser.add_argument("--transport", choices=("tcp", "ws"), default="tcp")
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="load generator processes")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds between the last join and the reading")
    parser.add_argument("--trace", action="store_true", help="also a run under tracemalloc, with the sites")
    parser.add_argument("--trace-only", action="store_true", help="only the tracemalloc run")
    parser.add_argument("--frames", type=int, default=1, help="tracemalloc frames per allocation")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    if args.server != "confchat" and (args.trace or args.trace_only):
        raise SystemExit("--trace is for confchat")
    out = {}
    if not args.trace_only:
        out = measure(args, trace=False)
    if args.trace or args.trace_only:
        out["traced"] = measure(args, trace=True)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
