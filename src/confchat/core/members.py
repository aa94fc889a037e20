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

from typing import TYPE_CHECKING, Any, Callable, Iterable

import attrs

from ..proto.casemap import casefold
from .notify import monitor_notify

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

    realname: str = ""
    status: str = ""  # the channel status of a staff member ("o", "v"), "" for a visitor

    @property
    def folded(self) -> str:
        return casefold(self.nick)

    @property
    def prefix(self) -> str:
        return f"{self.nick}!{self.user}@{self.host}"


def announce(server: Server, client: Client, channel: Channel, here: bool, reason: str = "") -> None:
    """Tell the cluster that ``client`` arrived in ``channel``'s conference
    (or changed nick or status there), or left it saying ``reason``;
    nothing without a cluster."""
    if server.cluster is None or channel.conference is None:
        return
    from .ops import Op, actor_of

    if here:
        args: tuple[Any, ...] = (client.user, client.host, client.visitor, client.connection_key, client.realname,
                                 channel.members.get(client, ""))
        server.cluster.propose(Op(channel.folded, "present", actor_of(client), args, node=server.node_number))
    else:
        server.cluster.propose(Op(channel.folded, "absent", actor_of(client), (reason,), node=server.node_number))


# A conference's members on this node see another node's members come,
# change nick or status and go as they see their own: JOIN (and MODE for
# staff), NICK and PART lines (a quit is a PART giving the quit's reason,
# one per conference). A visitor is seen by the staff only in an
# auditorium; the staff by everyone. So the audience panels and counts,
# and who of the staff is there, are the same on every node.
# ``Server.elsewhere`` holds the other nodes' visitors, ``Server.elsewhere_staff``
# their staff.


def _seers(channel: Channel, member: Member) -> list[Client]:
    return list(channel.staff if channel.auditorium and not member.status else channel.members)


def carry_out_presence(server: Server, name: str, folded: str, actor: Any, args: tuple[Any, ...], node: int) -> None:
    """A ``present`` or ``absent`` entry from another node."""
    visitors = server.elsewhere.setdefault(folded, {})
    staff = server.elsewhere_staff.setdefault(folded, {})
    channel = server.channels.get(folded)
    known = visitors.pop(actor.id, None) or staff.pop(actor.id, None)
    if name == "absent":
        if known is not None and channel is not None:
            _left(server, channel, known, args[0] if args else "")
        return
    user, host, visitor, key, *rest = args
    member = Member(actor.id, actor.nick, user, host, actor.account, visitor, actor.address, key, node,
                    rest[0] if rest else actor.nick, rest[1] if len(rest) > 1 else "")
    (staff if member.status else visitors)[actor.id] = member
    server.stale.get(node, set()).discard(actor.id)  # told again after an outage (ops.py, roster)
    if channel is None:
        return
    if known is None:
        seers = _seers(channel, member)
        plain = [c for c in seers if "extended-join" not in c.caps]
        msgid = server.relay(plain, member.prefix, "JOIN", (channel.name,))
        server.relay([c for c in seers if "extended-join" in c.caps], member.prefix, "JOIN",
                     (channel.name, member.account or "*", member.realname), msgid=msgid)
        known = attrs.evolve(member, status="")
    elif known.nick != member.nick:
        server.relay(_seers(channel, known), known.prefix, "NICK", (member.nick,))
    removed = "".join(m for m in known.status if m not in member.status)
    added = "".join(m for m in member.status if m not in known.status)
    if removed or added:  # as core/presence.py's refresh_status says it of this node's members
        change = ("-" + removed if removed else "") + ("+" + added if added else "")
        server.relay(list(channel.members), server.name, "MODE",
                     (channel.name, change, *[member.nick] * (len(removed) + len(added))))


def _left(server: Server, channel: Channel, member: Member, reason: str) -> None:
    server.relay(_seers(channel, member), member.prefix, "PART",
                 (channel.name, reason) if reason else (channel.name,))


def forget_members(server: Server, lost: Callable[[Member], bool], reason: str) -> None:
    """Drop the other nodes' members ``lost`` says are gone, telling this
    node's members who saw them (a PART each)."""
    for table in (server.elsewhere, server.elsewhere_staff):
        for folded, members in table.items():
            channel = server.channels.get(folded)
            for member_id in [i for i, m in members.items() if lost(m)]:
                member = members.pop(member_id)
                if channel is not None:
                    _left(server, channel, member, reason)


def remote_member(server: Server, folded: str) -> tuple[Member, list[tuple[str, str]]] | None:
    """The client of another node holding nick ``folded``, as its
    conferences know it, and those conferences (channel name, status);
    None if it is in none of them (or no other node holds the nick)."""
    held = server.elsewhere_nicks.get(folded)
    if held is None:
        return None
    found: Member | None = None
    places = []
    for table in (server.elsewhere_staff, server.elsewhere):
        for conference, members in table.items():
            member = members.get(held[1])
            channel = server.channels.get(conference)
            if member is not None and member.node == held[0] and channel is not None:
                found = member
                places.append((channel.name, member.status))
    return None if found is None else (found, places)


def remote_staff(server: Server, channel: Channel) -> list[Member]:
    return list(server.elsewhere_staff.get(channel.folded, {}).values())


def roster_begins(server: Server, node: int) -> None:
    """``node`` was cut off from the log and tells its members and nicks
    again (its ``present`` and ``nick`` entries follow, then ``roster_done``).
    Its nicks start again; its members are kept (no second JOIN for those
    who saw them), and those not told again are gone at the end."""
    for folded in [f for f, (n, _) in server.elsewhere_nicks.items() if n == node]:
        del server.elsewhere_nicks[folded]
    server.stale[node] = {i for table in (server.elsewhere, server.elsewhere_staff) for members in table.values()
                          for i, m in members.items() if m.node == node}


def roster_ends(server: Server, node: int) -> None:
    stale = server.stale.pop(node, set())
    if stale:
        forget_members(server, lambda m: m.id in stale, "Quit: left while their server was cut off")


def forget_nodes(server: Server, alive: Iterable[int]) -> None:
    """Drop the visitors (and nicks) of nodes no longer heard of."""
    living = set(alive)
    forget_nicks(server, living)
    for node in [n for n in server.stale if n not in living]:
        del server.stale[node]
    forget_members(server, lambda m: m.node not in living, "Quit: their server was lost")


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
            if folded not in server.nicks:  # MONITOR: gone from the cluster
                monitor_notify(server, folded, online=False)
        return
    if local:
        holder = server.unconfirmed.get(folded)
        if holder is not None and holder.id == actor.id:
            del server.unconfirmed[folded]  # first in the log: it is this client's for good
        return
    if folded not in server.elsewhere_nicks and folded not in server.nicks:
        monitor_notify(server, folded, online=True, shown=folded)  # MONITOR: only the nick is known
    server.elsewhere_nicks[folded] = (node, actor.id)
    holder = server.nicks.get(folded)
    if holder is not None and server.unconfirmed.get(folded) is holder:
        # The other node's claim came first in the log: ours gives way.
        from .handlers.registration import give_way

        give_way(server, holder)


def forget_nicks(server: Server, living: set[int]) -> None:
    for folded in [f for f, (node, _) in server.elsewhere_nicks.items() if node not in living]:
        del server.elsewhere_nicks[folded]
        if folded not in server.nicks:
            monitor_notify(server, folded, online=False)
