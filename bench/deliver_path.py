"""The server's own time per published message, from the line in to the last write out.

One process, no load generator competing for the cores: the real core (an
open, live conference, storage's commit gate on) and ``--viewers`` real
connections (``tcp.handle_tcp``: direct writes to loopback TCP sockets) are
driven by one trio run. A visitor's message is published to everyone; the
commit that the gate waits for is made at once (``Journal.collect`` and
``committed``, as the storage writer calls them, without SQLite), so what is
measured is the path that ``fanout.py``'s latency adds to a commit:

- ``push``: the core relays the message into every outbox (held by the gate);
- ``release``: the commit releases every outbox (each schedules its write);
- ``write``: the direct writes, one ``os.write`` per viewer;
- ``total``: all three, per message; the last viewer's bytes are in its
  socket then (``fanout_ms`` in ``fanout.py`` adds the commit, the load
  generator's reads and the scheduling of two shared cores).

The viewers' ends are drained between messages, outside the timing.

Usage: .venv/bin/python bench/deliver_path.py --viewers 2000 --messages 50
(both ends of every connection are in this one process: two descriptors per viewer)
"""

from __future__ import annotations

import argparse
import gc
import json
import socket
import statistics
import time

import attrs
import trio

from confchat.config import Config, ConferenceConfig
from confchat.core.server import Server
from confchat.transport import connection as shell
from confchat.transport.tcp import handle_tcp


def drain(peers: list[socket.socket]) -> int:
    got = 0
    for p in peers:
        while True:
            try:
                data = p.recv(1 << 16)
            except BlockingIOError:
                break
            if not data:
                break
            got += len(data)
    return got


async def run(args) -> dict:
    config = Config()
    config = attrs.evolve(
        config,
        conferences=(ConferenceConfig("#bench", "bench", state="live", mode="open", slow_mode=0),),
        limits=attrs.evolve(
            config.limits, max_connections_per_ip=0, flood_burst=10**9, flood_rate=1e9, max_sendq=1 << 24
        ),
    )
    core = Server(config)
    core.journal.enable(core.conferences.values())
    journal = core.journal

    def commit() -> None:
        batch, _changes = journal.collect()
        journal.committed(batch)

    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    port = listener.getsockname()[1]
    peers: list[socket.socket] = []
    async with trio.open_nursery() as nursery:
        for i in range(args.viewers + 1):
            peer = socket.create_connection(("127.0.0.1", port))
            ours, _ = listener.accept()
            peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            peer.setblocking(False)
            peers.append(peer)
            nursery.start_soon(handle_tcp, core, trio.SocketStream(trio.socket.from_stdlib_socket(ours)))
            peer.send(f"NICK v{i}\r\nUSER v 0 * :v\r\nJOIN #bench\r\n".encode())
            if i % 200 == 199:
                await trio.sleep(0.01)
                commit()
                drain(peers)
        deadline = time.time() + 120
        channel = core.channels["#bench"]
        while len(channel.members) < args.viewers + 1 and time.time() < deadline:
            await trio.sleep(0.05)
            commit()
            drain(peers)
        joined = len(channel.members)
        sender = next(c for c in core.clients.values() if c.nick == "v0")
        await trio.sleep(0.2)
        commit()
        drain(peers)
        gc.collect()
        # When the direct writes of a step are over (connection.DirectWrites).
        written: list[float] = []
        direct = shell._direct
        run_writes = direct._run

        def timed_writes() -> None:
            run_writes()
            written.append(time.perf_counter())

        direct._run = timed_writes  # type: ignore[method-assign]
        push, release, write, total = [], [], [], []
        payload = "x" * 40
        for k in range(args.messages):
            t0 = time.perf_counter()
            core.receive(sender, f"PRIVMSG #bench :m {k} {payload}".encode())
            t1 = time.perf_counter()
            commit()
            t2 = time.perf_counter()
            written.clear()
            while not written or direct.ready:  # the direct writes run soon (run_sync_soon)
                await trio.lowlevel.checkpoint()
            t3 = written[-1]
            push.append(t1 - t0)
            release.append(t2 - t1)
            write.append(t3 - t2)
            total.append(t3 - t0)
            await trio.sleep(0.01)
            drain(peers)
        nursery.cancel_scope.cancel()
    listener.close()
    for p in peers:
        p.close()
    n = max(1, joined - 1)

    def us(values: list[float]) -> float:
        return round(statistics.median(values) / n * 1e6, 3)

    return {
        "viewers": joined - 1,
        "messages": args.messages,
        "us_per_delivery": {"push": us(push), "release": us(release), "write": us(write), "total": us(total)},
        "ms_per_message": {
            "median": round(statistics.median(total) * 1000, 2),
            "p90": round(sorted(total)[int(len(total) * 0.9)] * 1000, 2),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=50)
    args = parser.parse_args()
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if 2 * args.viewers + 50 > soft:  # both ends of every connection are in this process
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 2 * args.viewers + 50), hard))
    gc.set_threshold(50_000, 50, 100)  # as confchat serve sets it (app.GC_THRESHOLDS)
    print(json.dumps(trio.run(run, args)))


if __name__ == "__main__":
    main()
