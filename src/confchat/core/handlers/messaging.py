"""PRIVMSG, NOTICE and TAGMSG to channels and users; AWAY, SETNAME, WALLOPS."""

from __future__ import annotations

from ...proto import numerics as N
from ...proto.message import Message
from ..client import Client
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..server import Server
from ...moderation.conference import STAFF
from ...proto.casemap import casefold
from ..direct import private_elsewhere, relay_elsewhere
from ..notify import interested
from .conference import conference_message

STATUS_PREFIXES = {"@": "o", "+": "v"}


def client_only_tags(msg: Message) -> dict[str, str]:
    """The ``+``-prefixed tags a client may attach for other clients."""
    return {k: v for k, v in msg.tags.items() if k.startswith("+")}


def sender_tags(client: Client, tags: dict[str, str]) -> dict[str, str]:
    """The tags a user's message carries besides its client-only ones: the
    sender's ``account`` (IRCv3 account-tag, to clients with that
    capability) and ``bot`` for a user mode +B (IRCv3 bot mode)."""
    if client.account or "B" in client.modes:
        tags = dict(tags)
        if client.account:
            tags["account"] = client.account
        if "B" in client.modes:
            tags["bot"] = ""
    return tags


def handle_privmsg(server: Server, client: Client, msg: Message) -> None:
    _message(server, client, msg, "PRIVMSG")


def handle_notice(server: Server, client: Client, msg: Message) -> None:
    _message(server, client, msg, "NOTICE")


def handle_tagmsg(server: Server, client: Client, msg: Message) -> None:
    _message(server, client, msg, "TAGMSG")


def _message(server: Server, client: Client, msg: Message, command: str) -> None:
    # RFC 2812 3.3.2: NOTICE never triggers an automatic error reply.
    errors = command != "NOTICE"
    if not msg.params or not msg.params[0]:
        if errors:
            server.numeric(client, N.ERR_NORECIPIENT, f"No recipient given ({command})")
        return
    text = msg.param(1)
    if command != "TAGMSG" and not text:
        if errors:
            server.numeric(client, N.ERR_NOTEXTTOSEND, "No text to send")
        return
    tags = client_only_tags(msg)
    params_tail = () if command == "TAGMSG" else (text,)
    only = "message-tags" if command == "TAGMSG" else None
    echo = "echo-message" in client.caps
    client.last_spoke = server.clock()
    targets = [t for t in msg.params[0].split(",") if t]
    if len(targets) > server.limits.max_targets:
        if errors:
            server.numeric(client, N.ERR_TOOMANYTARGETS, targets[server.limits.max_targets],
                           f"Too many targets: {server.limits.max_targets} at most, the rest were not sent")
        del targets[server.limits.max_targets:]
    for target in targets:
        status = ""
        name = target
        while name[:1] in STATUS_PREFIXES and len(name) > 1 and name[1:2] in "#&@+":
            status += STATUS_PREFIXES[name[0]]
            name = name[1:]
        if name[:1] in "#&":
            channel = server.find_channel(name)
            if channel is None:
                if errors:
                    server.numeric(client, N.ERR_NOSUCHCHANNEL, name, "No such channel")
                continue
            # In a conference only staff may address the ops (@#chan); a
            # visitor's message goes to the queue whatever the prefix.
            if channel.conference is not None and (not status or server.role(client, channel) not in STAFF):
                conference_message(server, client, channel, command, text, tags)
                continue
            if not channel.can_speak(client):
                if errors:
                    server.numeric(client, N.ERR_CANNOTSENDTOCHAN, channel.name, "Cannot send to channel")
                continue
            if status:
                wanted = set(status) | {"o"}  # +#chan reaches voiced users and ops
                recipients = [c for c, st in channel.members.items() if c is not client and set(st) & wanted]
            else:
                recipients = [c for c in channel.members if c is not client]
            if echo:
                recipients.append(client)
            tagged = sender_tags(client, tags)
            sent = server.relay(recipients, client.prefix, command, (target, *params_tail), tagged, only_caps=only)
            if not status:
                channel.remember(sent, client)
            else:  # a conference's staff-only message: its staff on the other nodes too (core/direct.py)
                relay_elsewhere(server, client, channel, command, target, text if params_tail else None, tagged,
                                "".join(sorted(wanted)), sent)
        else:
            other = server.find_nick(target)
            if other is None:
                held = server.elsewhere_nicks.get(casefold(target))  # a cluster's other node has it
                if held is None:
                    if errors:
                        server.numeric(client, N.ERR_NOSUCHNICK, target, "No such nick/channel")
                elif not may_write_elsewhere(server, client, held[1]):
                    if errors:
                        server.numeric(client, N.ERR_CANTSENDTOUSER, target,
                                       "Private messages are closed to visitors on this server")
                else:
                    private_elsewhere(server, client, command, target, held, text if params_tail else None,
                                      sender_tags(client, tags), echo)
                continue
            if not may_write_privately(server, client, other):
                if errors:
                    server.numeric(client, N.ERR_CANTSENDTOUSER, other.nick,
                                   "Private messages are closed to visitors on this server")
                continue
            tagged = sender_tags(client, tags)
            if other is client and echo:
                # To oneself with echo-message: the copy received as the
                # recipient, then the echo, which is the labeled reply
                # (IRCv3 labeled-response; irctest's ...ResponsesToSelf).
                sent = server.relay([client], client.prefix, command, (other.nick, *params_tail), tagged,
                                    only_caps=only, uncaptured=True)
                server.relay([client], client.prefix, command, (other.nick, *params_tail), tagged,
                             only_caps=only, msgid=sent)
            else:
                recipients = [other, client] if echo and other is not client else [other]
                server.relay(recipients, client.prefix, command, (other.nick, *params_tail), tagged, only_caps=only)
            if command == "PRIVMSG" and other.away is not None:
                server.numeric(client, N.RPL_AWAY, other.nick, other.away)


def may_write_privately(server: Server, client: Client, other: Client) -> bool:
    """An event server closes the side routes (server.visitor_private_messages
    false): a visitor writes privately to nobody but itself and the staff
    who wrote to it first; staff write to anyone."""
    if other is client or server.config.server.visitor_private_messages:
        return True
    if not client.is_visitor:
        if other.is_visitor:
            if other.answerable is None:
                other.answerable = set()
            other.answerable.add(client.id)
        return True
    return client.answerable is not None and other.id in client.answerable and not other.gone


def may_write_elsewhere(server: Server, client: Client, other_id: int) -> bool:
    """:func:`may_write_privately` for connection ``other_id`` of another
    node of the cluster (which notes whom its visitors may answer)."""
    if server.config.server.visitor_private_messages or not client.is_visitor:
        return True
    return client.answerable is not None and other_id in client.answerable


def handle_away(server: Server, client: Client, msg: Message) -> None:
    text = msg.param(0)[: server.limits.away_length]
    was_away = client.away is not None
    if text:
        client.away = text
        server.numeric(client, N.RPL_NOWAWAY, "You have been marked as being away")
        params: tuple[str, ...] = (text,)
    else:
        client.away = None
        server.numeric(client, N.RPL_UNAWAY, "You are no longer marked as being away")
        params = ()
        if not was_away:
            return  # nothing changed: no away-notify
    server.relay(interested(server, client, "away-notify"), client.prefix, "AWAY", params)


def handle_setname(server: Server, client: Client, msg: Message) -> None:
    realname = msg.params[0]
    if not realname or len(realname) > server.limits.away_length:
        server.fail(client, "SETNAME", "INVALID_REALNAME", "Realname is not valid")
        return
    client.realname = realname
    recipients = interested(server, client, "setname") | {client}
    server.relay(recipients, client.prefix, "SETNAME", (realname,), only_caps="setname")


def handle_wallops(server: Server, client: Client, msg: Message) -> None:
    if not client.oper:
        server.numeric(client, N.ERR_NOPRIVILEGES, "Permission Denied- You're not an IRC operator")
        return
    recipients = [c for c in server.clients.values() if c.registered and "w" in c.modes]
    server.relay(recipients, client.prefix, "WALLOPS", (msg.params[0],))
