"""Channel membership and information: JOIN, PART, TOPIC, NAMES, LIST, KICK, INVITE."""

from __future__ import annotations

from ...proto import numerics as N
from ...proto.casemap import casefold, is_valid_channel
from ...proto.message import Message
from ...proto.numbers import is_number
from ..channel import Channel, status_prefixes
from ..client import Client
from ...moderation.conference import STAFF, Role
from typing import TYPE_CHECKING, Callable, Iterable

if TYPE_CHECKING:
    from ..server import Server
from ...moderation.queue import QueueError
from ..presence import replay_history, welcome_to_conference
from ..members import announce, remote_staff, remote_visitors
from ..ops import decide
from .conference import actor_of



def member_channel(server: Server, client: Client, name: str, need_op: bool = False) -> Channel | None:
    """The channel ``name`` if ``client`` is on it (and an operator, when
    ``need_op``); otherwise reply with 403, 442 or 482 and return None."""
    channel = server.find_channel(name)
    if channel is None:
        server.numeric(client, N.ERR_NOSUCHCHANNEL, name, "No such channel")
    elif client not in channel.members:
        server.numeric(client, N.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
    elif need_op and not channel.is_op(client):
        server.numeric(client, N.ERR_CHANOPRIVSNEEDED, channel.name, "You're not channel operator")
    else:
        return channel
    return None


def handle_join(server: Server, client: Client, msg: Message) -> None:
    if msg.params[0] == "0":
        for channel in list(client.channels.values()):
            _part(server, client, channel, "Left all channels")
        return
    names = msg.params[0].split(",")[: server.limits.max_targets]
    keys = msg.param(1).split(",")
    for index, name in enumerate(names):
        if name:
            join(server, client, name, keys[index] if index < len(keys) else "")


def channel_mode_refusal(channel: Channel, client: Client, key: str) -> tuple[str, str] | None:
    """Why the channel's modes keep ``client`` out (a numeric and its
    text), checked in the order other servers check them; None to let in."""
    if channel.key and key != channel.key:
        return N.ERR_BADCHANNELKEY, "Cannot join channel (+k)"
    if "i" in channel.modes and not channel.matches("I", client):
        return N.ERR_INVITEONLYCHAN, "Cannot join channel (+i)"
    if channel.limit and len(channel.members) >= channel.limit:
        return N.ERR_CHANNELISFULL, "Cannot join channel (+l)"
    if channel.is_banned(client):
        return N.ERR_BANNEDFROMCHAN, "Cannot join channel (+b)"
    return None


def join(server: Server, client: Client, name: str, key: str = "") -> Channel | None:
    folded = casefold(name)
    channel = server.channels.get(folded)
    if channel is not None and client in channel.members:
        return channel
    if channel is None:
        if not is_valid_channel(name, server.limits.channel_length):
            server.numeric(client, N.ERR_NOSUCHCHANNEL, name, "Invalid channel name")
            return None
        if not server.config.channels.users_may_create and not client.oper:
            server.numeric(client, N.ERR_NOSUCHCHANNEL, name, "No such channel (only operators create channels)")
            return None
        if client.is_visitor and not server.config.server.visitor_channels:
            # An event server: visitors take part in its conferences, they
            # open no side rooms (server.visitor_channels).
            server.numeric(client, N.ERR_NOSUCHCHANNEL, name, "No such channel (visitors cannot create channels here)")
            return None
    if len(client.channels) >= server.limits.max_channels:
        server.numeric(client, N.ERR_TOOMANYCHANNELS, name, "You have joined too many channels")
        return None
    if channel is not None:
        # Past the channel modes (+k, +i, +l, +b): an invitation, and a
        # conference's staff, whose role is the conference's (modes set by
        # mistake, or left when the room emptied, must not lock out the
        # people who run the event).
        let_in = folded in client.invites or (
            channel.conference is not None and server.role(client, channel) in STAFF
        )
        if not let_in:
            refused = channel_mode_refusal(channel, client, key)
            if refused is not None:
                server.numeric(client, refused[0], channel.name, refused[1])
                return None
        status = ""
        if channel.conference is not None:
            role = server.role(client, channel)
            ban = channel.conference.restricted("ban", client.prefix, client.account, server.wallclock(), client.marks)
            if ban is not None and role is Role.VISITOR:
                reason = f": {ban.reason}" if ban.reason else ""
                server.numeric(client, N.ERR_BANNEDFROMCHAN, channel.name, f"You are banned from this conference{reason}")
                return None
            if role in STAFF:
                channel.staff.add(client)
                status = "v" if role is Role.GUEST else "o"
            else:
                try:
                    why = server.engine.arrival(channel.conference, actor_of(client))
                except QueueError as refused:
                    server.numeric(client, N.ERR_BANNEDFROMCHAN, channel.name, str(refused))
                    return None
                if why:  # too many arrivals at once: the shield rises, for every node
                    decide(server, None, channel, "auto_shield", why)
        client.invites.discard(folded)
        channel.members[client] = status
        if channel.conference is not None:
            announce(server, client, channel, here=True)  # the cluster's other nodes count and list it
    else:
        channel = Channel(name, folded, int(server.wallclock()))
        channel.modes.update(server.config.channels.default_modes)
        channel.members[client] = "o"
        server.channels[folded] = channel
    client.channels[folded] = channel
    if channel.conference is not None:
        server.census.update(client)  # in a conference: the auditorium decides who sees it
    relay_join(server, client, channel)
    if channel.topic:
        send_topic(server, client, channel)
    if "draft/no-implicit-names" not in client.caps:
        send_names(server, client, channel)
    if channel.conference is not None:
        welcome_to_conference(server, client, channel)
        replay_history(server, client, channel)
    return channel


def relay_join(server: Server, client: Client, channel: Channel) -> None:
    members = server.audience(channel, client)
    plain = [c for c in members if "extended-join" not in c.caps]
    extended = [c for c in members if "extended-join" in c.caps]
    msgid = server.relay(plain, client.prefix, "JOIN", (channel.name,))
    server.relay(
        extended, client.prefix, "JOIN", (channel.name, client.account or "*", client.realname), msgid=msgid
    )
    status = channel.members.get(client, "")
    if status and channel.conference is not None:
        # Staff join with their status: say so, as a server sets a mode.
        server.relay(members, server.name, "MODE", (channel.name, "+" + status, *([client.nick] * len(status))))
    if client.away is not None:
        server.relay(
            (c for c in members if c is not client), client.prefix, "AWAY", (client.away,), only_caps="away-notify"
        )


def handle_part(server: Server, client: Client, msg: Message) -> None:
    reason = msg.param(1)
    for name in msg.params[0].split(",")[: server.limits.max_targets]:
        channel = server.find_channel(name)
        if channel is None:
            server.numeric(client, N.ERR_NOSUCHCHANNEL, name, "No such channel")
        elif client not in channel.members:
            server.numeric(client, N.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
        else:
            _part(server, client, channel, reason)


def _part(server: Server, client: Client, channel: Channel, reason: str) -> None:
    params = (channel.name, reason) if reason else (channel.name,)
    server.relay(list(server.audience(channel, client)), client.prefix, "PART", params)
    server.part_channel(client, channel, reason)


def handle_topic(server: Server, client: Client, msg: Message) -> None:
    channel = server.find_channel(msg.params[0])
    if channel is None:
        server.numeric(client, N.ERR_NOSUCHCHANNEL, msg.params[0], "No such channel")
        return
    if len(msg.params) < 2:
        if channel.hidden and client not in channel.members:
            # Modern IRC, TOPIC: to a non-member "the server MAY return
            # ERR_NOTONCHANNEL (442)"; for a secret or private channel it does.
            server.numeric(client, N.ERR_NOTONCHANNEL, channel.name, "You're not on that channel")
        elif channel.topic:
            send_topic(server, client, channel)
        else:
            server.numeric(client, N.RPL_NOTOPIC, channel.name, "No topic is set")
        return
    if member_channel(server, client, channel.name, need_op="t" in channel.modes) is None:
        return
    channel.topic = msg.params[1][: server.limits.topic_length]
    channel.topic_by = client.prefix
    channel.topic_at = int(server.wallclock())
    server.relay(list(channel.members), client.prefix, "TOPIC", (channel.name, channel.topic))


def send_topic(server: Server, client: Client, channel: Channel) -> None:
    server.numeric(client, N.RPL_TOPIC, channel.name, channel.topic)
    server.numeric(client, N.RPL_TOPICWHOTIME, channel.name, channel.topic_by, str(channel.topic_at))


def handle_names(server: Server, client: Client, msg: Message) -> None:
    if not msg.params:
        server.numeric(client, N.RPL_ENDOFNAMES, "*", "End of /NAMES list")
        return
    for name in msg.params[0].split(",")[:1]:
        channel = server.find_channel(name)
        if channel is None:
            server.numeric(client, N.RPL_ENDOFNAMES, name, "End of /NAMES list")
        else:
            send_names(server, client, channel)


def send_names(server: Server, client: Client, channel: Channel) -> None:
    multi = "multi-prefix" in client.caps
    full = "userhost-in-names" in client.caps
    member = client in channel.members
    if channel.hidden and not member:
        # RFC 2812 3.2.5: a secret or private channel's names are not shown
        # to non-members, as though it did not exist.
        server.numeric(client, N.RPL_ENDOFNAMES, channel.name, "End of /NAMES list")
        return
    symbol = channel.names_symbol()
    entries = []
    # In an auditorium, visitors see the staff and a head count, not the
    # audience (which could be tens of thousands of names); so do the staff
    # once the audience is large: they page through it (CONF AUDIENCE).
    audience = server.visitors_present(channel)  # in a cluster, the other nodes' visitors too (core/members.py)
    large = audience > server.limits.names_audience_max
    shown = channel.staff if channel.auditorium and (client not in channel.staff or large) else channel.members
    for other in shown:
        if not member and "i" in other.modes:
            continue
        entries.append(channel.prefixes(other, multi) + (other.prefix if full else other.nick))
    # The cluster's other nodes' members (core/members.py): their staff always, their visitors as ours.
    remote = remote_staff(server, channel) + (remote_visitors(server, channel) if shown is channel.members else [])
    for m in remote:
        entries.append(status_prefixes(m.status, multi) + (m.prefix if full else m.nick))
    # Fill each 353 line up to the 512-byte limit (RFC 1459 2.3), CRLF included.
    budget = 510 - len(f":{server.name} {N.RPL_NAMREPLY} {client.nick} {symbol} {channel.name} :")
    line: list[str] = []
    size = 0
    for entry in entries:
        if line and size + len(entry) > budget:
            server.numeric(client, N.RPL_NAMREPLY, symbol, channel.name, " ".join(line))
            line, size = [], 0
        line.append(entry)
        size += len(entry) + 1
    if line:
        server.numeric(client, N.RPL_NAMREPLY, symbol, channel.name, " ".join(line))
    if shown is not channel.members:
        count = audience
        server.note(client, "NAMES", "AUDIENCE", f"{count} {'person' if count == 1 else 'people'} in the audience", channel.name, str(count))
    server.numeric(client, N.RPL_ENDOFNAMES, channel.name, "End of /NAMES list")


def handle_list(server: Server, client: Client, msg: Message) -> None:
    """LIST [channels or ELIST conditions]: secret and private channels only
    for their members (RFC 1459 4.2.6); ELIST=CU conditions ``>n``, ``<n``
    (members) and ``C>n``, ``C<n`` (created more, fewer than n minutes ago)
    filter the listing."""
    server.numeric(client, N.RPL_LISTSTART, "Channel", "Users  Name")
    conditions: list[Callable[[Channel], bool]] = []
    names: list[str] = []
    for word in filter(None, msg.param(0).split(",")):
        if word[:1] in "#&":
            names.append(word)
            continue
        condition = elist_condition(word, server.wallclock())
        if condition is None:
            server.numeric(client, N.ERR_UNKNOWNERROR, "LIST", word, "Unknown LIST condition")
        else:
            conditions.append(condition)
    if names:
        found = (server.find_channel(name) for name in names)
        channels: Iterable[Channel] = [c for c in found if c is not None]
    else:
        channels = server.channels.values()
    for channel in channels:
        if channel.hidden and client not in channel.members:
            continue
        if all(condition(channel) for condition in conditions):
            server.numeric(client, N.RPL_LIST, channel.name, str(len(channel.members)), channel.topic)
    server.numeric(client, N.RPL_LISTEND, "End of /LIST")


def elist_condition(word: str, now: float) -> Callable[[Channel], bool] | None:
    """One ELIST condition (ISUPPORT ELIST=CU), or None if it is not one."""
    kind = word[:1].upper() if word[:1].upper() == "C" else ""
    rest = word[len(kind):]
    op, number = rest[:1], rest[1:]
    if op not in "<>" or not op or not is_number(number):
        return None
    n = int(number)
    if kind == "C":  # creation time, in minutes ago
        if op == ">":
            return lambda c: now - c.created > n * 60
        return lambda c: now - c.created < n * 60
    if op == ">":
        return lambda c: len(c.members) > n
    return lambda c: len(c.members) < n


def handle_kick(server: Server, client: Client, msg: Message) -> None:
    """KICK <channel>[,<channel>] <nick>[,<nick>] [:reason]: one channel and
    several nicks, or as many channels as nicks, pairwise (RFC 2812 3.2.8).
    Each kick is its own KICK line to everyone who sees it."""
    names = [n for n in msg.params[0].split(",") if n]
    nicks = [n for n in msg.params[1].split(",") if n][: server.limits.max_targets]
    if not names or not nicks:
        server.numeric(client, N.ERR_NEEDMOREPARAMS, "KICK", "Not enough parameters")
        return
    if len(names) == 1:
        pairs = [(names[0], nick) for nick in nicks]
    elif len(names) == len(nicks):
        pairs = list(zip(names, nicks))
    else:
        server.numeric(client, N.ERR_NEEDMOREPARAMS, "KICK", "Not enough parameters")
        return
    reason = (msg.param(2) or client.nick)[: server.limits.kick_length]
    for name, nick in pairs:
        channel = member_channel(server, client, name, need_op=True)
        if channel is None:
            continue
        target = server.find_nick(nick)
        if target is None or target not in channel.members:
            server.numeric(client, N.ERR_USERNOTINCHANNEL, nick, channel.name, "They aren't on that channel")
            continue
        audience = {client, *server.audience(channel, target)}
        server.relay(audience, client.prefix, "KICK", (channel.name, target.nick, reason))
        server.part_channel(target, channel, f"Kicked by {client.nick}: {reason}")


def handle_invite(server: Server, client: Client, msg: Message) -> None:
    if not msg.params:
        # Modern IRC: INVITE alone lists the channels one is invited to.
        for folded in sorted(client.invites):
            channel = server.channels.get(folded)
            if channel is not None:
                server.numeric(client, N.RPL_INVITELIST, channel.name)
        server.numeric(client, N.RPL_ENDOFINVITELIST, "End of /INVITE list")
        return
    if len(msg.params) < 2:
        server.numeric(client, N.ERR_NEEDMOREPARAMS, "INVITE", "Not enough parameters")
        return
    nick, name = msg.params[0], msg.params[1]
    target = server.find_nick(nick)
    if target is None:
        server.numeric(client, N.ERR_NOSUCHNICK, nick, "No such nick/channel")
        return
    channel = server.find_channel(name)
    if channel is not None:
        channel = member_channel(server, client, name, need_op="i" in channel.modes)
    else:
        server.numeric(client, N.ERR_NOSUCHCHANNEL, name, "No such channel")
    if channel is None:
        return
    if target in channel.members:
        server.numeric(client, N.ERR_USERONCHANNEL, target.nick, channel.name, "is already on channel")
        return
    target.invites.add(channel.folded)
    server.numeric(client, N.RPL_INVITING, target.nick, channel.name)
    server.relay([target], client.prefix, "INVITE", (target.nick, channel.name))
    if target.away is not None:
        server.numeric(client, N.RPL_AWAY, target.nick, target.away)
    notify = [c for c in channel.members if c is not client and channel.is_op(c)]
    server.relay(notify, client.prefix, "INVITE", (target.nick, channel.name), only_caps="invite-notify")
