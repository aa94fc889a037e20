"""Who is in a conference, as what: the welcome on joining, the history
replayed to a newcomer, and a member's channel status following its role
(after a login, OPER, a role change or the channel becoming a conference)."""

from __future__ import annotations

from itertools import islice
from typing import TYPE_CHECKING

from ..moderation.conference import STAFF, Role
from ..moderation.engine import item_params, item_tags
from ..moderation.queue import State
from ..proto.message import Message
from ..proto.servertime import format_server_time
from ..vocab import RoomMode
from .members import announce

if TYPE_CHECKING:
    from .channel import Channel
    from .client import Client
    from .server import Server


def welcome_to_conference(server: Server, client: Client, channel: Channel) -> None:
    """Tell someone who just joined what kind of room this is."""
    conference = channel.conference
    assert conference is not None
    role = server.role(client, channel)
    if role is Role.VISITOR and conference.mode is RoomMode.MODERATED:
        how = "your messages are read by the moderators before they are published"
    elif role is Role.VISITOR and conference.mode is RoomMode.READONLY:
        how = "only the staff can write now"
    else:
        how = f"you are {role.value}" if role is not Role.VISITOR else "messages are published at once"
    state, mode = conference.state.value, conference.mode.value
    server.note(
        client, "JOIN", "CONFERENCE", f"{conference.title} is {state}; {how}",
        channel.name, state, mode, role.value,
    )
    if role is Role.GUEST:
        # The guest stage as it stands: what waits for an answer.
        for item in conference.queue.undecided():
            if item.state is State.FORWARDED:
                server.send(client, Message("QUEUE", (channel.name, *item_params(conference, item)), server.name, item_tags(item)))


def replay_history(server: Server, client: Client, channel: Channel) -> None:
    """Send someone who just joined the latest published messages, with their
    original time and msgid, in a ``chathistory`` batch if they support it;
    none to a client with ``draft/chathistory``, which asks with CHATHISTORY
    (from where it stopped, after a reconnection)."""
    conference = channel.conference
    assert conference is not None
    limit = server.config.history.join_backlog
    if not limit or not conference.published or "draft/chathistory" in client.caps:
        return  # a client with draft/chathistory asks for what it lacks
    recent = list(islice(reversed(conference.published.values()), limit))
    recent.reverse()
    batch = "batch" in client.caps
    ref = server.new_msgid()
    if batch:
        server.send(client, Message("BATCH", ("+" + ref, "chathistory", channel.name), server.name))
    for publication in recent:
        tags = {**publication.tags, "msgid": publication.msgid, "time": format_server_time(publication.at)}
        if batch:
            tags["batch"] = ref
        server.send(client, Message(publication.command, (channel.name, publication.text), publication.source, tags))
    if batch:
        server.send(client, Message("BATCH", ("-" + ref,), server.name))


def refresh_roles(server: Server, client: Client) -> None:
    """After a login or OPER: the client's status in each conference it is
    in follows its (new) role, and the channel is told; staff get the larger
    send queue (``limits.staff_max_sendq``)."""
    if client.account or client.oper:
        client.outbox.limit = max(client.outbox.limit, server.limits.staff_max_sendq)
    for channel in list(client.channels.values()):
        if channel.conference is not None:
            refresh_status(server, channel, client)


def refresh_status(server: Server, channel: Channel, member: Client) -> None:
    """``member``'s status (@ for moderators and admins, + for guests) and
    place among the staff follow its role; a change is relayed as a MODE."""
    before = channel.members[member]
    role = server.role(member, channel)
    if role in STAFF:
        channel.staff.add(member)
        after = "v" if role is Role.GUEST else "o"
    else:
        channel.staff.discard(member)
        after = ""
    channel.members[member] = after
    removed = "".join(m for m in before if m not in after)
    added = "".join(m for m in after if m not in before)
    change = ("-" + removed if removed else "") + ("+" + added if added else "")
    if change:
        nicks = (member.nick,) * (len(removed) + len(added))
        server.relay(list(channel.members), server.name, "MODE", (channel.name, change, *nicks))
        announce(server, member, channel, here=True)  # the cluster's other nodes see it too (core/members.py)
