"""Who hears of a client's changes: the peers with a capability, and the
clients MONITORing its nick (IRCv3 monitor and extended-monitor)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..proto import numerics as N
from ..proto.casemap import casefold

if TYPE_CHECKING:
    from .client import Client
    from .server import Server


def monitor_notify(server: Server, nick: str, online: bool, client: Client | None = None, shown: str = "") -> None:
    """Tell those monitoring ``nick`` that it came online (as ``client``, or
    as ``shown``: another node's, whose nick only is known) or went."""
    watchers = server.monitors.get(casefold(nick))
    if not watchers:
        return
    for watcher in watchers:
        if online and (client is not None or shown):
            server.numeric(watcher, N.RPL_MONONLINE, client.prefix if client is not None else shown)
        else:
            server.numeric(watcher, N.RPL_MONOFFLINE, nick)


def interested(server: Server, client: Client, cap: str) -> set[Client]:
    """Who hears of ``client``'s changes under capability ``cap``
    (away-notify, account-notify, setname): its peers with ``cap``, and
    (IRCv3 extended-monitor) those monitoring its nick with both
    ``extended-monitor`` and ``cap``. Not ``client`` itself."""
    out = {c for c in server.peers(client) if cap in c.caps}
    for watcher in server.monitors.get(client.folded, ()):
        if cap in watcher.caps and "extended-monitor" in watcher.caps:
            out.add(watcher)
    out.discard(client)
    return out
