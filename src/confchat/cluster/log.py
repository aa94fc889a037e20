"""The cluster's log, as data: entry ids, fields, where a node resumes.

One Redis stream holds every conference operation of the cluster in one
order (core/ops.py says what an operation is). Its entry ids,
``<milliseconds>-<sequence>``, are Redis's: they only grow, and their
milliseconds are the log's clock, the same for every node. Pure: no trio,
no Redis.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from ..core.ops import Op, decode, encode

STREAM = "log"  # after the key prefix: "confchat:log"
TOLD = "told"  # the pub/sub channel of told ops (core/direct.py): "confchat:told"
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


def told(data: str) -> Op:
    """A told op, as published on the ``TOLD`` channel (``fields(op)["op"]``)."""
    return decode(json.loads(data))


def trim_before(positions: list[str], now: float, retention: float) -> str | None:
    """Where the log may be cut (every entry before it removed), or None:
    nothing older than ``retention`` seconds and nothing a node still
    needs (each node's stored ``positions``, the entries after it). 0: the
    log is kept whole."""
    if retention <= 0:
        return None
    horizon = (int((now - retention) * 1000), 0)
    needed = min((entry_key(p) for p in positions), default=horizon)
    cut = min(horizon, needed)
    return None if cut <= (0, 0) else f"{cut[0]}-{cut[1]}"


def gap(position: str, first: str | None, added: int, length: int) -> bool:
    """Whether entries this node needs (those after ``position``) were
    removed from the log: it was away longer than the log is kept. ``first``
    is the log's first entry, ``added`` how many it ever took, ``length``
    how many it holds."""
    if added <= length:  # nothing ever removed
        return False
    if position == START:
        return True  # a new node needs the log from its very start
    return first is not None and entry_key(position) < entry_key(first)


POSITION_KEY = "*cluster"  # the journal's key for the position (no channel starts with "*")


@attrs.frozen
class PositionChanges:
    entry: str

    @property
    def folded(self) -> str:
        return POSITION_KEY


class Position:
    """How far in the log this node's storage is: every change made by an
    entry up to ``entry`` is committed, and none made by a later one.

    Marked in the core's journal by each entry that changed something to
    store (so it is committed in the same transaction as those changes);
    entries that change nothing durable (presence, refusals) leave it, and
    are carried out again after a restart, to no effect on storage."""

    folded = POSITION_KEY

    def __init__(self, entry: str = START) -> None:
        self.entry = entry

    def take_changes(self) -> PositionChanges:
        return PositionChanges(self.entry)
