"""Per-address limits across the cluster's nodes: connections and password guesses.

On one process ``limits.max_connections_per_ip`` counts an address's
connections and the login back-off (core/throttle.py) its password checks.
With several nodes an address spread over them would get N times as much,
so each node also counts what the others tell:

* **connections**: each node's heartbeat (cluster/link.py) carries the
  addresses with at least ``CROWDED`` connections to it and their counts
  (:func:`crowded`); every node sums the others' into
  ``Server.elsewhere_per_ip`` (:func:`heard`), which a new connection's
  check adds to its own count. A heartbeat is every 2 seconds: an address
  opening connections on several nodes at once gets at most one node's
  limit more for that long, and an address below ``CROWDED`` on a node is
  not counted there (at most one connection per other node).
* **password checks**: each check asked for, and each one forgiven (a
  right password), is told to the other nodes (op ``login``, Redis
  pub/sub: core/direct.py), which count it in their own back-off.

Pure: the shell carries the heartbeats and the told ops.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Iterable

from .ops import Op

if TYPE_CHECKING:
    from .server import Server

CROWDED = 2  # connections from one address to this node before the others hear of it


def crowded(server: Server) -> dict[str, int]:
    """This node's addresses the others should count (the exempt ones aside)."""
    exempt = server.limits.connection_limit_exempt
    return {ip: n for ip, n in server.per_ip.items() if n >= CROWDED and ip not in exempt}


def heard(server: Server, reports: Iterable[dict[str, int]]) -> None:
    """The other nodes' latest :func:`crowded` reports (the living ones)."""
    total: Counter[str] = Counter()
    for report in reports:
        total.update(report)
    server.elsewhere_per_ip = total


def tell_login(server: Server, ip: str, name: str, how: str) -> None:
    """A password check asked for (``how`` "attempt") or forgiven ("owner":
    a right password, from its owner's address), for the other nodes' back-off."""
    if server.cluster is not None:
        server.cluster.tell(Op("", "login", None, (ip, name, how), "", node=server.node_number))


def carry_out_login(server: Server, op: Op) -> None:
    """Another node's ``login`` op: its password check, counted here too."""
    ip, name, how = op.args
    if how == "attempt":
        server.login_throttle.attempt(ip, name, server.clock())
    else:
        server.login_throttle.forgive(ip, name, server.clock())
