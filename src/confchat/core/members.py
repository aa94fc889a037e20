"""The visitors of a conference on the cluster's other nodes.

A node knows its own connections; the moderators also need the others'
visitors: to count the audience, to list it (CONF AUDIENCE), to ban or
disconnect someone by nick whatever node they are on. So each node tells the
cluster's log when a visitor of a conference arrives (or changes nick) and
leaves (ops ``present`` and ``absent``, see core/ops.py); every other node
keeps them in :attr:`Server.elsewhere` as :class:`Member` records. These ops
change no conference and nothing is stored: presence lives as long as its
node, and when a node stops being heard of (its heartbeat, cluster/link.py)
its visitors are forgotten (:func:`forget_nodes`).

Pure: called by the core, fed by the log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

import attrs

from ..proto.casemap import casefold

if TYPE_CHECKING:
    from .channel import Channel
    from .client import Client
    from .server import Server


@attrs.frozen
class Member:
    """A visitor connected to another node, as CONF AUDIENCE, BAN and
    DISCONNECT need it (the same attribute names as a Client)."""

    id: int
    nick: str
    user: str
    host: str
    account: str | None
    visitor: str | None
    ip: str
    connection_key: str
    node: int

    @property
    def folded(self) -> str:
        return casefold(self.nick)


def announce(server: Server, client: Client, channel: Channel, here: bool) -> None:
    """Tell the cluster that visitor ``client`` arrived in (or left)
    ``channel``'s conference; nothing without a cluster."""
    if server.cluster is None or channel.conference is None:
        return
    from .ops import Op, actor_of

    if here:
        args: tuple[Any, ...] = (client.user, client.host, client.visitor, client.connection_key)
        server.cluster.propose(Op(channel.folded, "present", actor_of(client), args, node=server.node_number))
    else:
        server.cluster.propose(Op(channel.folded, "absent", actor_of(client), (), node=server.node_number))


def carry_out_presence(server: Server, name: str, folded: str, actor: Any, args: tuple[Any, ...], node: int) -> None:
    """A ``present`` or ``absent`` entry from another node."""
    members = server.elsewhere.setdefault(folded, {})
    if name == "absent":
        members.pop(actor.id, None)
        return
    user, host, visitor, key = args
    members[actor.id] = Member(actor.id, actor.nick, user, host, actor.account, visitor, actor.address, key, node)


def forget_nodes(server: Server, alive: Iterable[int]) -> None:
    """Drop the visitors (and nicks) of nodes no longer heard of."""
    living = set(alive)
    forget_nicks(server, living)
    for members in server.elsewhere.values():
        for member_id in [i for i, m in members.items() if m.node not in living]:
            del members[member_id]


def remote_visitor(server: Server, channel: Channel, nick: str) -> Member | None:
    """The visitor of ``channel``'s conference on another node named ``nick``."""
    folded = casefold(nick)
    for member in server.elsewhere.get(channel.folded, {}).values():
        if member.folded == folded:
            return member
    return None


def remote_visitors(server: Server, channel: Channel) -> list[Member]:
    return list(server.elsewhere.get(channel.folded, {}).values())


# ---------------------------------------------------------------- nicks
# A nick is one person's in the whole cluster. A node gives a free nick at
# once (no waiting on Redis) and logs the claim (op ``nick``); the others
# note it in ``Server.elsewhere_nicks`` and refuse it to their clients
# (433). Two nodes giving one nick at the same moment: the claim first in
# the log wins; the node whose client's claim came second, on reading the
# winner's, renames its client to a Guest nick and tells it (NOTE NICK
# NICK_TAKEN). ``Server.unconfirmed`` holds this node's claims not yet read
# back from the log: those are the ones that can still lose.


def hold_nick(server: Server, client: Client, folded: str) -> None:
    """Enter ``client`` in the nick table under ``folded`` (and, in a
    cluster, claim it for the whole cluster)."""
    server.nicks[folded] = client
    if server.cluster is not None:
        from .ops import Op, actor_of

        server.unconfirmed[folded] = client
        server.cluster.propose(Op("", "nick", actor_of(client), (folded,), node=server.node_number))


def drop_nick(server: Server, client: Client, folded: str) -> None:
    """``client`` no longer holds ``folded``."""
    if server.nicks.get(folded) is client:
        del server.nicks[folded]
        server.unconfirmed.pop(folded, None)
        if server.cluster is not None:
            from .ops import Op, actor_of

            server.cluster.propose(Op("", "unnick", actor_of(client), (folded,), node=server.node_number))


def taken_elsewhere(server: Server, folded: str) -> bool:
    """Whether another node's client holds ``folded``."""
    return folded in server.elsewhere_nicks


def carry_out_nick(server: Server, name: str, actor: Any, folded: str, node: int) -> None:
    """A ``nick`` or ``unnick`` entry, from any node (this one's confirm its claims)."""
    local = node == server.node_number
    if name == "unnick":
        if not local and server.elsewhere_nicks.get(folded) == (node, actor.id):
            del server.elsewhere_nicks[folded]
        return
    if local:
        holder = server.unconfirmed.get(folded)
        if holder is not None and holder.id == actor.id:
            del server.unconfirmed[folded]  # first in the log: it is this client's for good
        return
    server.elsewhere_nicks[folded] = (node, actor.id)
    holder = server.nicks.get(folded)
    if holder is not None and server.unconfirmed.get(folded) is holder:
        # The other node's claim came first in the log: ours gives way.
        from .handlers.registration import give_way

        give_way(server, holder)


def forget_nicks(server: Server, living: set[int]) -> None:
    for folded in [f for f, (node, _) in server.elsewhere_nicks.items() if node not in living]:
        del server.elsewhere_nicks[folded]
