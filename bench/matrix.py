"""Run the fan-out matrix and draw it: confchat over TCP and WebSocket, and
InspIRCd (when installed) beside it, for several audience sizes, at a fixed
rate and flat out. One command, stops by itself:

    .venv/bin/python bench/matrix.py --viewers 1000 5000 10000 --out bench/results

Writes ``<out>/fanout-<date>.json`` (every run's figures) and
``<out>/fanout-<date>.svg`` (deliveries per second and fan-out p99 against
the number of viewers, one line per server and transport).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_one(server: str, transport: str, viewers: int, messages: int, rate: float, timeout: float) -> dict:
    cmd = [sys.executable, os.path.join(HERE, "fanout.py"), "--server", server, "--transport", transport,
           "--viewers", str(viewers), "--messages", str(messages), "--rate", str(rate), "--timeout", str(timeout)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 900)
    except subprocess.TimeoutExpired:
        return {"server": server, "transport": transport, "viewers": viewers, "rate": rate, "error": "timed out"}
    if out.returncode != 0:
        return {"server": server, "transport": transport, "viewers": viewers, "rate": rate,
                "error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def svg(results: list[dict], path: str) -> None:
    """Two small line charts, hand-written SVG (no plotting dependency)."""
    series: dict[str, list[tuple[int, float, float]]] = {}
    for r in results:
        if "error" in r or r.get("rate") != "flat out":
            continue
        key = f"{r['server']} {r['transport']}"
        series.setdefault(key, []).append((r["viewers"], r["deliveries_per_s"] or 0, r["fanout_ms"]["p99"]))
    colours = ["#1d4f91", "#a4161a", "#1e6b34", "#7a4b00"]
    width, height, pad = 440, 260, 70
    xs = sorted({v for points in series.values() for v, _, _ in points}) or [1]

    def chart(index: int, title: str, pick) -> str:
        ymax = max([pick(p) for points in series.values() for p in points] + [1]) * 1.1
        x0 = index * (width + 40)

        def x(v: float) -> float:
            return x0 + pad + (xs.index(v) / max(1, len(xs) - 1)) * (width - 2 * pad)

        def y(v: float) -> float:
            return height - pad + 10 - (v / ymax) * (height - 2 * pad)

        parts = [f'<text x="{x0 + width / 2}" y="20" text-anchor="middle" font-weight="bold">{title}</text>',
                 f'<line x1="{x0 + pad}" y1="{height - pad + 10}" x2="{x0 + width - pad}" y2="{height - pad + 10}" stroke="#333"/>',
                 f'<line x1="{x0 + pad}" y1="{pad - 10}" x2="{x0 + pad}" y2="{height - pad + 10}" stroke="#333"/>',
                 f'<text x="{x0 + pad - 5}" y="{pad - 5}" text-anchor="end" font-size="11">{ymax:,.0f}</text>']
        for v in xs:
            parts.append(f'<text x="{x(v)}" y="{height - pad + 26}" text-anchor="middle" font-size="11">{v:,}</text>')
        for n, (name, points) in enumerate(sorted(series.items())):
            points = sorted(points)
            line = " ".join(f"{x(v):.1f},{y(pick(p)):.1f}" for p in points for v in [p[0]])
            colour = colours[n % len(colours)]
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{line}"/>')
            parts.append(f'<text x="{x0 + width - pad}" y="{pad + 8 + 14 * n}" fill="{colour}" font-size="12" text-anchor="end">{name}</text>')
        parts.append(f'<text x="{x0 + width / 2}" y="{height - 4}" text-anchor="middle" font-size="11">viewers</text>')
        return "\n".join(parts)

    body = chart(0, "deliveries per second (flat out)", lambda p: p[1]) + chart(1, "fan-out p99 ms (flat out)", lambda p: p[2])
    with open(path, "w") as f:
        f.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * width + 40}" height="{height}" '
                f'font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>{body}</svg>\n')


def replot(json_path: str) -> None:
    """Draw the SVG again from a results file."""
    with open(json_path) as f:
        svg(json.load(f)["results"], json_path.removesuffix(".json") + ".svg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--rate", type=float, default=20.0, help="the fixed-rate runs (msg/s)")
    parser.add_argument("--transports", nargs="+", default=["tcp", "ws"])
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--out", default=os.path.join(HERE, "results"))
    parser.add_argument("--replot", metavar="JSON", help="only redraw the chart of an earlier results file")
    args = parser.parse_args()
    if args.replot:
        replot(args.replot)
        return
    os.makedirs(args.out, exist_ok=True)
    servers = ["confchat"] + (["inspircd"] if shutil.which("inspircd") or os.path.exists("/usr/sbin/inspircd") else [])
    results = []
    for viewers in args.viewers:
        for server in servers:
            for transport in args.transports if server == "confchat" else ["tcp"]:
                for rate in (args.rate, 0.0):
                    result = run_one(server, transport, viewers, args.messages, rate, args.timeout)
                    print(json.dumps(result), flush=True)
                    results.append(result)
    stamp = datetime.date.today().isoformat()
    machine = {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
               "processor": platform.processor() or platform.uname().machine}
    with open(os.path.join(args.out, f"fanout-{stamp}.json"), "w") as f:
        json.dump({"date": stamp, "machine": machine, "results": results}, f, indent=2)
    svg(results, os.path.join(args.out, f"fanout-{stamp}.svg"))
    print(f"wrote {args.out}/fanout-{stamp}.json and .svg")


if __name__ == "__main__":
    main()
