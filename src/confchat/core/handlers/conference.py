"""Messages to a conference channel, and what the moderation handlers share.

A PRIVMSG (or NOTICE, TAGMSG) to a conference comes here from the messaging
handler: staff messages are published, visitors' go to the engine
(:meth:`Engine.submit`), which holds them for the moderators or publishes
them as the conference's mode says. The moderation commands live beside this
module: ``queue.py`` (QUEUE), ``conf.py`` (CONF), ``stage.py`` (ANSWER,
PREPARED, VOTE, REDACT); see protocol.md, "Moderation extension".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...moderation.conference import STAFF
from ...moderation.queue import QueueError
from ...proto import numerics as N
from ...proto.numbers import is_number
from ..direct import relay_elsewhere
from ..ops import actor_of, decide, outcome_data

if TYPE_CHECKING:
    from ..channel import Channel
    from ..client import Client
    from ..server import Server




def parse_item_id(server: Server, client: Client, command: str, text: str) -> int | None:
    if not is_number(text):
        server.fail(client, command, "INVALID_ITEM", f"{text!r} is not an item id", text or "*")
        return None
    return int(text)


def each_id(
    server: Server, client: Client, channel: Channel, command: str, text: str, name: str, *args: Any,
) -> None:
    """Bulk actions: op ``name`` on each id of a comma-separated list (the
    id first, then ``args``); each succeeds or fails on its own, with its
    own FAIL."""
    for part in filter(None, text.split(",")):
        item_id = parse_item_id(server, client, command, part)
        if item_id is not None:
            decide(server, client, channel, name, item_id, *args, command=command, context=(part,))


def conference_message(server: Server, client: Client, channel: Channel, command: str, text: str, tags: dict[str, str]) -> None:
    """A PRIVMSG/NOTICE/TAGMSG to a conference channel."""
    conference = channel.conference
    assert conference is not None
    engine = server.engine
    if server.role(client, channel) in STAFF:
        if client not in channel.members:
            if command != "NOTICE":
                server.numeric(client, N.ERR_CANNOTSENDTOCHAN, channel.name, "Join the conference to write in it")
            return
        if command == "TAGMSG":  # typing notifications and reactions: relayed, not published
            sent = server.relay([c for c in channel.members if c is not client or "echo-message" in c.caps],
                                client.prefix, "TAGMSG", (channel.name,), tags, only_caps="message-tags")
            relay_elsewhere(server, client, channel, "TAGMSG", channel.name, None, tags, "", sent)
            return
        decide(server, client, channel, "speak", command, text, tags, command=command)
        return
    if command != "PRIVMSG":
        return  # visitors' notices and tag-only messages are not relayed
    if client not in channel.members:
        server.fail(client, "PRIVMSG", "NOT_JOINED", "Join the conference to take part", channel.name)
        return
    readonly, banned = "m" in channel.modes, channel.is_banned(client)
    try:  # the policies run here, where the visitor is connected; the rest in the log's order
        outcome = engine.screen(conference, actor_of(client), text, readonly=readonly, banned=banned)
    except QueueError as exc:
        server.fail(client, "PRIVMSG", exc.code, str(exc), channel.name, *exc.context)
        return
    decide(server, client, channel, "admit", text, outcome_data(outcome), readonly, banned, command="PRIVMSG")
