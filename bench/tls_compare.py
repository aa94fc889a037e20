"""Fan-out over TLS against plain, in one run: bench/fanout.py for IRC over
TCP and TLS, WebSocket and wss://, at each ``--viewers`` count.

Prints one JSON object: every run's figures, and per transport and audience
the ratio TLS / plain of deliveries per second (the goal: at least 0.7), the
fan-out p50 and the server's CPU time per delivery. The machine is shared: compare ratios within one run,
not figures across runs.

Usage:
  .venv/bin/python bench/tls_compare.py --viewers 1000 10000 --messages 100
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fanout  # noqa: E402


def one(viewers: int, transport: str, tls: bool, args: argparse.Namespace) -> dict:
    run_args = argparse.Namespace(
        server="confchat", transport=transport, viewers=viewers, messages=args.messages, rate=args.rate,
        size=args.size, ramp=0.0, workers=args.workers, moderated=False, policies=False, tls=tls,
        timeout=args.timeout,
    )
    return fanout.run(run_args)


def per_delivery(run: dict) -> float:
    deliveries = run["viewers"] * run["messages"]
    return round(run["server_cpu_s"] * 1e6 / max(1, deliveries), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, nargs="+", default=[1000])
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--rate", type=float, default=0.0, help="messages per second; 0: flat out")
    parser.add_argument("--size", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--transports", nargs="+", choices=("tcp", "ws"), default=["tcp", "ws"])
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args()
    runs, ratios = [], []
    for viewers in args.viewers:
        for transport in args.transports:
            plain = one(viewers, transport, False, args)
            secure = one(viewers, transport, True, args)
            runs += [plain, secure]
            ratios.append({
                "viewers": viewers,
                "transport": "tcp vs tls" if transport == "tcp" else "ws vs wss",
                "plain_deliveries_per_s": plain["deliveries_per_s"],
                "tls_deliveries_per_s": secure["deliveries_per_s"],
                "ratio": round(secure["deliveries_per_s"] / plain["deliveries_per_s"], 2),
                "plain_fanout_p50_ms": plain["fanout_ms"]["p50"],
                "tls_fanout_p50_ms": secure["fanout_ms"]["p50"],
                # The server's own CPU per delivery, from /proc: the cost of
                # TLS to the server, whatever the load generator's share.
                "plain_server_us_per_delivery": per_delivery(plain),
                "tls_server_us_per_delivery": per_delivery(secure),
                "tls_kib_per_idle_connection": secure["kib_per_idle_connection"],
                "lost": plain["lost"] + secure["lost"],
                "out_of_order_chunks": plain["out_of_order_chunks"] + secure["out_of_order_chunks"],
            })
            print(json.dumps(ratios[-1]), file=sys.stderr, flush=True)
    print(json.dumps({"ratios": ratios, "runs": runs}))


if __name__ == "__main__":
    main()
