"""The core's share of fan-out, without sockets: one PRIVMSG to N members.

Measures how many deliveries per second the sans-IO core produces (encode once
per tag variant, push the same bytes into every outbox), i.e. the ceiling the
transport can reach. Usage: .venv/bin/python bench/core_fanout.py --members 10000
"""

from __future__ import annotations

import argparse
import json
import time

import attrs

from confchat.config import Config, ConferenceConfig
from confchat.core.outbox import Outbox
from confchat.core.server import Server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10000)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument(
        "--conference", action="store_true",
        help="make #bench a conference (auditorium, open mode): joins cost O(staff), not O(members)",
    )
    args = parser.parse_args()
    config = Config()
    if args.conference:
        config = attrs.evolve(
            config, conferences=(ConferenceConfig("#bench", "bench", state="live", mode="open", slow_mode=0),)
        )
    config = attrs.evolve(
        config,
        limits=attrs.evolve(config.limits, max_connections_per_ip=0, flood_burst=10**9, flood_rate=1e9),
    )
    server = Server(config)
    outboxes = []
    t0 = time.perf_counter()
    clients = []
    for i in range(args.members):
        box = Outbox(1 << 30)
        c = server.connect("127.0.0.1", box)
        server.receive(c, f"NICK m{i}".encode())
        server.receive(c, b"USER m 0 * :member")
        if i % 2:  # half the audience negotiates tags, as modern clients do
            server.receive(c, b"CAP REQ :message-tags server-time")
        server.receive(c, b"JOIN #bench")
        box.take()
        outboxes.append(box)
        clients.append(c)
    join_s = time.perf_counter() - t0
    for box in outboxes:
        box.take()
    sender = clients[0]
    t1 = time.perf_counter()
    for k in range(args.messages):
        server.receive(sender, f"PRIVMSG #bench :message {k} {'x' * 40}".encode())
        if k % 10 == 9:
            for box in outboxes:
                box.take()  # as the transport would, so outboxes stay small
    send_s = time.perf_counter() - t1
    deliveries = args.messages * (args.members - 1)
    print(json.dumps({
        "conference": args.conference,
        "members": args.members,
        "messages": args.messages,
        "join_all_seconds": round(join_s, 2),
        "core_deliveries_per_s": round(deliveries / send_s),
        "core_us_per_delivery": round(send_s / deliveries * 1e6, 3),
    }))


if __name__ == "__main__":
    main()
