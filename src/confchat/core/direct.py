"""Messages to people on the cluster's other nodes, told and kept nowhere.

A private message, and a conference's staff-only messages (``@#townhall``,
``+#townhall``) and staff typing notifications, are delivered at once and
stored nowhere (protocol.md); so is an IRC operator's KILL carried out. In
a cluster the recipient may be connected to another node: this node's
handler sends what it can here and *tells* the rest to the other nodes as
an :class:`~.ops.Op` (``private``, ``relay``, ``kill``; and the password
checks of core/addresses.py, ``login``).
A told op is not logged: the shell publishes it (Redis pub/sub,
cluster/link.py), the nodes running at that moment carry it out when it
arrives, at most once, and nothing of it stays in Redis, the way a private
message stays nowhere on one process. Each node delivers to its own
connections only; the msgid is the sender's, so the recipient's copy and the
sender's echo match.

Pure: called by the messaging handlers and, for another node's ops, by
:meth:`Server.told <confchat.core.server.Server.told>`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from .addresses import carry_out_login
from .ops import Op, actor_of

if TYPE_CHECKING:
    from .channel import Channel
    from .client import Client
    from .server import Server


def private_elsewhere(
    server: Server, client: Client, command: str, target: str, held: tuple[int, int], text: str | None,
    tags: dict[str, str], echo: bool,
) -> None:
    """``client`` writes privately to ``target``, a nick held by connection
    ``held`` (node, id) of another node: told to that node, echoed here."""
    assert server.cluster is not None
    node, other_id = held
    msgid = server.new_msgid()
    op = Op("", "private", actor_of(client), (node, other_id, target, text, tags, msgid, not client.is_visitor),
            command, node=server.node_number)
    if server.cluster.tell(op) and echo:
        tail = () if text is None else (text,)
        server.relay([client], client.prefix, command, (target, *tail), tags, only_caps=_only(command), msgid=msgid)


def relay_elsewhere(
    server: Server, client: Client, channel: Channel, command: str, target: str, text: str | None,
    tags: dict[str, str], wanted: str, msgid: str,
) -> None:
    """A staff member's message to ``channel``'s conference members that is
    relayed, not published (``wanted``: the channel statuses that receive
    it, "" for all): the other nodes deliver it to theirs."""
    if server.cluster is None or channel.conference is None:
        return
    server.cluster.tell(Op(channel.folded, "relay", actor_of(client), (target, text, tags, msgid, wanted), command,
                           node=server.node_number))


def kill_elsewhere(server: Server, client: Client, target: str, held: tuple[int, int], reason: str) -> None:
    """An IRC operator's KILL of ``target``, connection ``held`` (node, id)
    of another node: that node closes it, as a KILL there would."""
    assert server.cluster is not None
    node, other_id = held
    server.cluster.tell(Op("", "kill", actor_of(client), (node, other_id, target, reason), "KILL",
                           node=server.node_number))


def _kill(server: Server, op: Op) -> None:
    node, other_id, _, reason = op.args
    other = server.clients.get(other_id) if node == server.node_number else None
    if other is not None and not other.gone:
        server.log("oper.kill", target=other_id, by_node=op.node)
        server.disconnect(other, reason, kind="killed")


def _only(command: str) -> str | None:
    return "message-tags" if command == "TAGMSG" else None


def _private(server: Server, op: Op) -> None:
    node, other_id, target, text, tags, msgid, from_staff = op.args
    other = server.clients.get(other_id) if node == server.node_number else None
    if other is None or other.gone or op.actor is None:
        return  # gone meanwhile: a private message is not kept
    if from_staff and other.is_visitor:  # the visitor may now answer this staff member (core/handlers/messaging.py)
        if other.answerable is None:
            other.answerable = set()
        other.answerable.add(op.actor.id)
    tail = () if text is None else (text,)
    server.relay([other], op.actor.prefix, op.command, (other.nick, *tail), tags, only_caps=_only(op.command),
                 msgid=msgid)


def _relay(server: Server, op: Op) -> None:
    target, text, tags, msgid, wanted = op.args
    channel = server.channels.get(op.conference)
    if channel is None or channel.conference is None or op.actor is None:
        return
    statuses = set(wanted)
    recipients = [c for c, status in channel.members.items() if not statuses or statuses & set(status)]
    tail = () if text is None else (text,)
    server.relay(recipients, op.actor.prefix, op.command, (target, *tail), tags, only_caps=_only(op.command),
                 msgid=msgid)


# Told ops, carried out by the nodes that did not tell them (and the
# password checks of core/addresses.py).
TOLD: dict[str, Callable[[Server, Op], None]] = {
    "private": _private, "relay": _relay, "kill": _kill, "login": carry_out_login,
}


def told_refused(server: Server, client: Client, op: Op) -> None:
    """A told op Redis could not take: its sender hears that the message
    (or KILL) did not reach the other nodes; a NOTICE never gets an error,
    nor does a password check (nobody's to hear of it)."""
    if op.command in ("NOTICE", ""):
        return
    target = op.args[0] if op.name == "relay" else op.args[2]  # the channel, or the nick as the sender wrote it
    server.fail(client, op.command, "CLUSTER_UNAVAILABLE",
                "The cluster cannot be reached: your message did not reach the other nodes", target)


def destination(op: Op) -> int:
    """The node a told op is for: a private message's or a KILL's
    recipient's; 0 for every node (a conference's staff may be on any)."""
    return int(op.args[0]) if op.name in ("private", "kill") else 0
