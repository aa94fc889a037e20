"""The cluster's log, as data: entry ids, fields, where a node resumes.

One Redis stream holds every conference operation of the cluster in one
order (core/ops.py says what an operation is). Its entry ids,
``<milliseconds>-<sequence>``, are Redis's: they only grow, and their
milliseconds are the log's clock, the same for every node. Pure: no trio,
no Redis.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

from ..core.ops import Op, decode, encode

STREAM = "log"  # after the key prefix: "confchat:log"
NODES = "nodes"  # the counter that numbers nodes as they join
START = "0-0"  # before the first entry


def key(prefix: str, name: str) -> str:
    return f"{prefix}:{name}"


def entry_key(entry: str) -> tuple[int, int]:
    """An entry id, comparable: ``"1700000000000-3"`` -> (1700000000000, 3)."""
    ms, _, seq = entry.partition("-")
    return int(ms), int(seq or 0)


def entry_time(entry: str) -> float:
    """When the log took an entry, in seconds (the engine's clock for it)."""
    return entry_key(entry)[0] / 1000


def fields(op: Op) -> dict[str, str]:
    return {"op": json.dumps(encode(op), separators=(",", ":"))}


def read(values: dict[str, Any]) -> Op:
    return decode(json.loads(values["op"]))


def resume_from(applied: Iterable[str]) -> str:
    """Where a node starting again reads the log from: after the oldest
    position of its conferences (each skips the entries it already has);
    from the start if one has none."""
    positions = list(applied)
    if not positions or any(not p for p in positions):
        return START
    return min(positions, key=entry_key)


def already_applied(conference_position: str, entry: str) -> bool:
    return bool(conference_position) and entry_key(entry) <= entry_key(conference_position)
