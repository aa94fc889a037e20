"""The moderation extension: conferences, the queue, the guest stage.

Commands (see protocol.md, "Moderation extension"):

* ``CONF``: list, info, create, settings, state, roles, bans, mutes,
  disconnect, now-answering, published questions, audit log;
* ``QUEUE``: the moderators' actions on held messages;
* ``ANSWER``: the guest answers a question (threaded with ``+draft/reply``);
* ``PREPARED``: answers stored ahead and published with one command;
* ``VOTE``: the audience upvotes published questions;
* ``REDACT``: IRCv3 draft/message-redaction, to delete what was published.

and :func:`conference_message`, which the PRIVMSG handler calls for a
message to a conference channel: visitors' messages go to the queue.
"""

from __future__ import annotations

import json
import math
from itertools import islice
from typing import Callable

from ...config import CONFERENCE_STATES, ConferenceConfig
from ...moderation.conference import MODERATING, STAFF, Conference, Publication, Restriction, Role
from ...moderation.queue import Item, QueueError, State
from ...proto import numerics as N
from ...proto.casemap import casefold, is_valid_channel
from ...proto.message import Message
from ..channel import Channel
from ..client import Client
from ..server import Server, format_server_time
from .modes import normalize_mask
from ...proto.numbers import is_number

# Tags on published messages (server tags, sent to message-tags clients).
TAG_ITEM = "confchat/item"
TAG_ANSWERING = "confchat/answering"
TAG_REPLY = "+draft/reply"
REDACTION_CAP = "draft/message-redaction"


# ---------------------------------------------------------------- helpers


def _conference(server: Server, client: Client, command: str, name: str) -> tuple[Channel, Conference] | None:
    channel = server.find_channel(name)
    if channel is None or channel.conference is None:
        server.fail(client, command, "NO_SUCH_CONFERENCE", f"{name} is not a conference", name)
        return None
    return channel, channel.conference


def _require(server: Server, client: Client, command: str, channel: Channel, roles: frozenset[Role]) -> Role | None:
    role = server.role(client, channel)
    if role not in roles:
        needed = {MODERATING: "moderator", STAFF: "staff"}.get(roles, "admin")
        server.fail(client, command, "NEED_ROLE", f"You need the {needed} role in {channel.name}", channel.name)
        return None
    return role


def _actor(client: Client) -> str:
    return client.account or client.nick


def _item_id(server: Server, client: Client, command: str, text: str) -> int | None:
    if not is_number(text):
        server.fail(client, command, "INVALID_ITEM", f"{text!r} is not an item id", text or "*")
        return None
    return int(text)


def item_line(channel: Channel, conference: Conference, item: Item) -> tuple[str, ...]:
    """The parameters of ``QUEUE <channel> ITEM ...``: one item, whole."""
    return (
        channel.name,
        "ITEM",
        str(item.id),
        item.state.value,
        str(conference.queue.position(item.id)),
        item.author,
        str(int(item.submitted_at)),
        item.claimed_by or "*",
        item.decided_by or "*",
        ",".join((*item.flags, "redacted") if item.redacted else item.flags) or "*",
        item.text,
    )


def announce_item(server: Server, channel: Channel, item: Item) -> None:
    """Tell every moderator (and the guests, for the guest stage) where an
    item stands now."""
    conference = channel.conference
    assert conference is not None
    moderators = [c for c in channel.staff if server.role(c, channel) in MODERATING]
    guests: list[Client] = []
    if item.forwarded or (item.state is State.PUBLISHED and item.decided_by in _guest_names(server, channel)):
        guests = [c for c in channel.staff if server.role(c, channel) is Role.GUEST]
    server.relay([*moderators, *guests], server.name, "QUEUE", item_line(channel, conference, item))


def _guest_names(server: Server, channel: Channel) -> set[str]:
    return {c.account or c.nick for c in channel.staff if server.role(c, channel) is Role.GUEST}


def _tell_author(server: Server, channel: Channel, item: Item, code: str, text: str) -> None:
    author = item.author_key
    if isinstance(author, Client) and not author.gone:
        server.note(author, "PRIVMSG", code, text, channel.name, str(item.id))


def publish(
    server: Server, channel: Channel, source: str, text: str, tags: dict[str, str],
    skip: Client | None = None, command: str = "PRIVMSG", item: int | None = None,
) -> str:
    """Record one PRIVMSG (or NOTICE) as published, then relay it to the
    whole conference (but ``skip``)."""
    conference = channel.conference
    assert conference is not None
    msgid = server.new_msgid()
    conference.add_publication(Publication(msgid, source, text, server.wallclock(), dict(tags), command, item))
    recipients = [c for c in channel.members if c is not skip]
    server.relay(recipients, source, command, (channel.name, text), tags, msgid=msgid)
    return msgid


def publish_item(server: Server, channel: Channel, item: Item, skip: Client | None = None) -> None:
    """Relay an approved question to the whole channel, as its author said it."""
    item.msgid = publish(server, channel, item.author_prefix, item.text, {TAG_ITEM: str(item.id)}, skip, item=item.id)
    if item.decided_by != "auto":
        _tell_author(server, channel, item, "PUBLISHED", "Your message was published")
    announce_item(server, channel, item)


def publish_staff(
    server: Server, channel: Channel, client: Client, text: str, tags: dict[str, str],
    echo: bool = True, command: str = "PRIVMSG",
) -> str:
    return publish(server, channel, client.prefix, text, tags, None if echo else client, command)


# ---------------------------------------------------------------- visitor messages


def conference_message(server: Server, client: Client, channel: Channel, command: str, text: str, tags: dict[str, str]) -> None:
    """A PRIVMSG/NOTICE/TAGMSG to a conference channel."""
    conference = channel.conference
    assert conference is not None
    role = server.role(client, channel)
    if role in STAFF:
        if client not in channel.members:
            if command != "NOTICE":
                server.numeric(client, N.ERR_CANNOTSENDTOCHAN, channel.name, "Join the conference to write in it")
            return
        if command == "TAGMSG":
            server.relay([c for c in channel.members if c is not client or "echo-message" in c.caps],
                         client.prefix, "TAGMSG", (channel.name,), tags, only_caps="message-tags")
            return
        echo = "echo-message" in client.caps
        publish_staff(server, channel, client, text, tags, echo, command)
        return
    if command != "PRIVMSG":
        return  # visitors' notices and tag-only messages are not relayed
    now = server.wallclock()
    refusal = _visitor_refusal(server, client, channel, conference, now)
    if refusal is not None:
        code, description, *context = refusal
        server.fail(client, "PRIVMSG", code, description, channel.name, *context)
        return
    conference.last_message[client] = now
    server.stats.message(conference.channel, "submitted")
    if conference.mode == "open":
        item = conference.queue.submit(client.nick, client.prefix, text, now, account=client.account, key=client)
        conference.queue.approve(item.id, "auto", now)
        conference.record(now, "auto", "publish", item.id)
        server.stats.message(conference.channel, "published", "auto")
        publish_item(server, channel, item, None if "echo-message" in client.caps else client)
        return
    item = conference.queue.submit(client.nick, client.prefix, text, now, account=client.account, key=client)
    conference.record(now, client.nick, "submit", item.id, text=text)
    server.stats.message(conference.channel, "held")
    server.note(client, "PRIVMSG", "HELD", "Your message is awaiting moderation", channel.name, str(item.id))
    announce_item(server, channel, item)


def welcome_to_conference(server: Server, client: Client, channel: Channel) -> None:
    """Tell someone who just joined what kind of room this is."""
    conference = channel.conference
    assert conference is not None
    role = server.role(client, channel)
    if role is Role.VISITOR and conference.mode == "moderated":
        how = "your messages are read by the moderators before they are published"
    elif role is Role.VISITOR and conference.mode == "readonly":
        how = "only the staff can write now"
    else:
        how = f"you are {role.value}" if role is not Role.VISITOR else "messages are published at once"
    server.note(
        client, "JOIN", "CONFERENCE", f"{conference.title} is {conference.state}; {how}",
        channel.name, conference.state, conference.mode, role.value,
    )
    if role is Role.GUEST:
        # The guest stage as it stands: what waits for an answer.
        for item in conference.queue.undecided():
            if item.state is State.FORWARDED:
                server.reply(client, "QUEUE", *item_line(channel, conference, item))


def replay_history(server: Server, client: Client, channel: Channel) -> None:
    """Send someone who just joined the latest published messages, with their
    original time and msgid, in a ``chathistory`` batch if they support it."""
    conference = channel.conference
    assert conference is not None
    limit = server.config.history.join_backlog
    if not limit or not conference.published:
        return
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


def _visitor_refusal(
    server: Server, client: Client, channel: Channel, conference: Conference, now: float
) -> tuple[str, ...] | None:
    if client not in channel.members:
        return ("NOT_JOINED", "Join the conference to take part")
    if conference.state == "scheduled":
        when = f" at {conference.opens}" if conference.opens else " later"
        return ("NOT_OPEN", f"The conference is not open yet; questions open{when}")
    if conference.state == "closed":
        return ("CLOSED", "The conference is closed")
    if conference.mode == "readonly" or "m" in channel.modes:
        return ("READ_ONLY", "Only the staff can write in this conference now")
    if channel.is_banned(client):
        return ("BANNED", "You are banned from writing in this conference")
    mute = conference.restricted("mute", client.prefix, client.account, now)
    if mute is not None:
        reason = f": {mute.reason}" if mute.reason else ""
        return ("MUTED", f"You cannot send messages here{reason}")
    if conference.slow_mode:
        last = conference.last_message.get(client)
        if last is not None and now - last < conference.slow_mode:
            wait = max(1, math.ceil(conference.slow_mode - (now - last)))
            return ("SLOW_MODE", f"Slow mode: wait {wait} seconds before your next message", str(wait))
    return None


# ---------------------------------------------------------------- QUEUE


def handle_queue(server: Server, client: Client, msg: Message) -> None:
    found = _conference(server, client, "QUEUE", msg.params[0])
    if found is None:
        return
    channel, conference = found
    if _require(server, client, "QUEUE", channel, MODERATING) is None:
        return
    sub = msg.param(1).upper()
    args = msg.params[2:]
    action = QUEUE_ACTIONS.get(sub)
    if action is None:
        server.fail(client, "QUEUE", "UNKNOWN_SUBCOMMAND", f"Unknown QUEUE subcommand {sub!r}", channel.name)
        return
    if sub not in ("LIST", "NEXT") and not args:
        server.numeric(client, N.ERR_NEEDMOREPARAMS, "QUEUE", "Not enough parameters")
        return
    action(server, client, channel, conference, list(args))


def _queue_list(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
    for item in conference.queue.undecided():
        server.reply(client, "QUEUE", *item_line(channel, conference, item))
    server.reply(client, "QUEUE", channel.name, "END", f"{len(conference.queue.order)} waiting")


def _each_id(
    server: Server, client: Client, channel: Channel, text: str, apply: Callable[[int], None]
) -> None:
    """Run ``apply`` on each id of a comma-separated list (bulk actions);
    each id succeeds or fails on its own, with its own FAIL."""
    for part in filter(None, text.split(",")):
        item_id = _item_id(server, client, "QUEUE", part)
        if item_id is None:
            continue
        try:
            apply(item_id)
        except QueueError as exc:
            server.fail(client, "QUEUE", exc.code, str(exc), channel.name, part)


def _approve(server: Server, client: Client, channel: Channel, conference: Conference, item_id: int, text: str | None = None) -> None:
    now = server.wallclock()
    item = conference.queue.approve(item_id, _actor(client), now, text)
    detail: dict[str, object] = {"wait": round(now - item.submitted_at, 1)}
    if text is not None:
        detail.update(original=item.original, text=item.text)
    conference.record(now, _actor(client), "edit-approve" if text is not None else "approve", item.id, **detail)
    server.stats.message(conference.channel, "published", "human")
    server.stats.decided(conference.channel, now - item.submitted_at)
    publish_item(server, channel, item)


def _queue_approve(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
    _each_id(server, client, channel, args[0], lambda i: _approve(server, client, channel, conference, i))


def _queue_edit(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
    if len(args) < 2 or not args[1].strip():
        server.numeric(client, N.ERR_NEEDMOREPARAMS, "QUEUE", "Not enough parameters")
        return
    item_id = _item_id(server, client, "QUEUE", args[0])
    if item_id is None:
        return
    try:
        _approve(server, client, channel, conference, item_id, args[1])
    except QueueError as exc:
        server.fail(client, "QUEUE", exc.code, str(exc), channel.name, args[0])


def _queue_drop(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
    reason = args[1] if len(args) > 1 else ""

    def drop(item_id: int) -> None:
        now = server.wallclock()
        item = conference.queue.drop(item_id, _actor(client), now, reason)
        conference.record(now, _actor(client), "drop", item.id, reason=reason, wait=round(now - item.submitted_at, 1))
        server.stats.message(conference.channel, "dropped", "human")
        server.stats.decided(conference.channel, now - item.submitted_at)
        told = f": {reason}" if reason and conference.show_decline_reasons else ""
        _tell_author(server, channel, item, "DECLINED", f"Your message was not published{told}")
        announce_item(server, channel, item)

    _each_id(server, client, channel, args[0], drop)


def _simple(method: str, audit: str) -> Callable[[Server, Client, Channel, Conference, list[str]], None]:
    """QUEUE HOLD/UNHOLD/FORWARD/CLAIM/UNCLAIM/TAKEOVER: one queue method, an
    audit entry, and the item's new state announced."""

    def action(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
        def apply(item_id: int) -> None:
            queue = conference.queue
            if method == "takeover":
                item = queue.claim(item_id, _actor(client), takeover=True)
            else:
                item = getattr(queue, method)(item_id, _actor(client))
            conference.record(server.wallclock(), _actor(client), audit, item.id)
            announce_item(server, channel, item)

        _each_id(server, client, channel, args[0], apply)

    return action


def _queue_move(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
    if len(args) < 2:
        server.numeric(client, N.ERR_NEEDMOREPARAMS, "QUEUE", "Not enough parameters")
        return
    item_id = _item_id(server, client, "QUEUE", args[0])
    if item_id is None:
        return
    try:
        item = conference.queue.move(item_id, _actor(client), args[1].lower())
    except QueueError as exc:
        server.fail(client, "QUEUE", exc.code, str(exc), channel.name, args[0])
        return
    conference.record(server.wallclock(), _actor(client), "move", item.id, to=args[1])
    announce_item(server, channel, item)


def _queue_next(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
    try:
        item = conference.queue.next_pending(_actor(client))
        _approve(server, client, channel, conference, item.id)
    except QueueError as exc:
        server.fail(client, "QUEUE", exc.code, str(exc), channel.name)


QUEUE_ACTIONS: dict[str, Callable[[Server, Client, Channel, Conference, list[str]], None]] = {
    "LIST": _queue_list,
    "APPROVE": _queue_approve,
    "EDIT": _queue_edit,
    "DROP": _queue_drop,
    "MOVE": _queue_move,
    "NEXT": _queue_next,
    "HOLD": _simple("hold", "hold"),
    "UNHOLD": _simple("unhold", "unhold"),
    "FORWARD": _simple("forward", "forward"),
    "CLAIM": _simple("claim", "claim"),
    "UNCLAIM": _simple("unclaim", "unclaim"),
    "TAKEOVER": _simple("takeover", "takeover"),
}


# ---------------------------------------------------------------- ANSWER, PREPARED, VOTE


def answer(
    server: Server, client: Client, channel: Channel, conference: Conference, item_id: int | None, text: str,
    command: str = "ANSWER",
) -> str | None:
    """Publish ``text`` from ``client``, threaded to question ``item_id``
    (published first if it was still on the guest stage or in the queue).
    Return the answer's msgid, or None (and a FAIL) when it was refused."""
    if client not in channel.members:
        server.fail(client, command, "NOT_JOINED", "Join the conference to write in it", channel.name)
        return None
    tags: dict[str, str] = {}
    if item_id is not None:
        try:
            item = conference.queue.get(item_id)
            if item.state is State.DROPPED:
                raise QueueError("ALREADY_DECIDED", f"Item {item_id} was dropped", item_id)
            if item.redacted:
                raise QueueError("REDACTED", f"Item {item_id} was deleted", item_id)
            if not item.decided:
                now = server.wallclock()
                conference.queue.approve(item_id, _actor(client), now)
                conference.record(now, _actor(client), "approve", item_id, via="answer")
                server.stats.message(conference.channel, "published", "human")
                server.stats.decided(conference.channel, now - item.submitted_at)
                publish_item(server, channel, item)
        except QueueError as exc:
            server.fail(client, command, exc.code, str(exc), channel.name, str(item_id))
            return None
        assert item.msgid is not None
        tags = {TAG_REPLY: item.msgid, TAG_ITEM: str(item.id)}
    # The sender always gets its own answer back: ANSWER is not a PRIVMSG,
    # and the echo carries the msgid it needs to redact or thread to it.
    msgid = publish_staff(server, channel, client, text, tags)
    conference.record(server.wallclock(), _actor(client), "answer", item_id, msgid=msgid, text=text)
    return msgid


def handle_answer(server: Server, client: Client, msg: Message) -> None:
    found = _conference(server, client, "ANSWER", msg.params[0])
    if found is None:
        return
    channel, conference = found
    if _require(server, client, "ANSWER", channel, STAFF) is None:
        return
    item_id = _item_id(server, client, "ANSWER", msg.params[1])
    if item_id is None:
        return
    if not msg.params[2].strip():
        server.numeric(client, N.ERR_NOTEXTTOSEND, "No text to send")
        return
    answer(server, client, channel, conference, item_id, msg.params[2])


def handle_prepared(server: Server, client: Client, msg: Message) -> None:
    found = _conference(server, client, "PREPARED", msg.params[0])
    if found is None:
        return
    channel, conference = found
    if _require(server, client, "PREPARED", channel, STAFF) is None:
        return
    sub = msg.params[1].upper()
    args = msg.params[2:]
    if sub not in ("LIST", "ADD", "DEL", "PUBLISH"):
        server.fail(client, "PREPARED", "UNKNOWN_SUBCOMMAND", f"Unknown PREPARED subcommand {sub!r}", channel.name)
        return
    if sub == "LIST":
        for name, (author, text) in conference.prepared.items():
            server.reply(client, "PREPARED", channel.name, "ITEM", name, author, text)
        server.reply(client, "PREPARED", channel.name, "END", f"{len(conference.prepared)} prepared")
        return
    if not args:
        server.numeric(client, N.ERR_NEEDMOREPARAMS, "PREPARED", "Not enough parameters")
        return
    name = args[0]
    if sub == "ADD":
        if len(args) < 2 or not args[1].strip() or " " in name:
            server.numeric(client, N.ERR_NEEDMOREPARAMS, "PREPARED", "Not enough parameters")
            return
        conference.prepared[name] = (_actor(client), args[1])
        conference.record(server.wallclock(), _actor(client), "prepare", None, name=name, text=args[1])
        server.note(client, "PREPARED", "SAVED", f"Prepared answer {name} saved", channel.name, name)
    elif sub in ("DEL", "PUBLISH"):
        if name not in conference.prepared:
            server.fail(client, "PREPARED", "NO_SUCH_ANSWER", f"No prepared answer named {name}", channel.name, name)
            return
        if sub == "DEL":
            del conference.prepared[name]
            conference.record(server.wallclock(), _actor(client), "unprepare", None, name=name)
            server.note(client, "PREPARED", "DELETED", f"Prepared answer {name} deleted", channel.name, name)
            return
        item_id = None
        if len(args) > 1:
            item_id = _item_id(server, client, "PREPARED", args[1])
            if item_id is None:
                return
        # The prepared answer is used up only once it is really published.
        if answer(server, client, channel, conference, item_id, conference.prepared[name][1], "PREPARED"):
            del conference.prepared[name]


def handle_vote(server: Server, client: Client, msg: Message) -> None:
    found = _conference(server, client, "VOTE", msg.params[0])
    if found is None:
        return
    channel, conference = found
    item_id = _item_id(server, client, "VOTE", msg.params[1])
    if item_id is None:
        return
    if client not in channel.members:
        server.fail(client, "VOTE", "NOT_JOINED", "Join the conference to vote", channel.name)
        return
    # One vote per account, or per connection for visitors: a nick change
    # does not give a second vote; keying on the address instead would give
    # one vote to a whole office or phone network behind one NAT.
    voter = f"account:{casefold(client.account)}" if client.account else f"connection:{server.boot_id}:{client.id}"
    try:
        item = conference.queue.vote(item_id, voter)
    except QueueError as exc:
        server.fail(client, "VOTE", exc.code, str(exc), channel.name, str(item_id))
        return
    conference.touch(item.id)
    server.note(client, "VOTE", "COUNTED", "Your vote was counted", channel.name, str(item.id), str(len(item.votes)))
    staff = [c for c in channel.staff]
    server.relay(staff, server.name, "CONF", (channel.name, "VOTES", str(item.id), str(len(item.votes))))


# ---------------------------------------------------------------- REDACT


def handle_redact(server: Server, client: Client, msg: Message) -> None:
    target, msgid = msg.params[0], msg.params[1]
    reason = msg.param(2)
    channel = server.find_channel(target)
    if channel is None or channel.conference is None:
        server.fail(client, "REDACT", "INVALID_TARGET", "Messages can be deleted in conferences only", target)
        return
    conference = channel.conference
    if _require(server, client, "REDACT", channel, MODERATING) is None:
        return
    record = conference.published.get(msgid)
    if record is None:
        server.fail(client, "REDACT", "UNKNOWN_MSGID", "No published message has that msgid", channel.name, msgid)
        return
    now = server.wallclock()
    conference.remove_publication(msgid, now, _actor(client))
    item = conference.queue.by_msgid(msgid)
    if item is not None:
        conference.queue.redact(item.id)
        if conference.now_answering == item.id:
            conference.now_answering = None
    conference.record(now, _actor(client), "redact", item.id if item else None, msgid=msgid, reason=reason)
    server.stats.message(conference.channel, "redacted", "human")
    params = (channel.name, msgid, reason) if reason else (channel.name, msgid)
    recipients = list(channel.members)
    server.relay(recipients, client.prefix, "REDACT", params, only_caps=REDACTION_CAP)
    # Clients without the capability cannot delete a line; tell their users.
    server.relay(
        [c for c in recipients if REDACTION_CAP not in c.caps], server.name, "NOTICE",
        (channel.name, "A message was deleted by the moderators" + (f": {reason}" if reason else "")),
    )
    if item is not None:
        announce_item(server, channel, item)


# ---------------------------------------------------------------- CONF


def handle_conf(server: Server, client: Client, msg: Message) -> None:
    first = msg.params[0]
    if first.upper() == "LIST":
        for conference in server.conferences.values():
            server.reply(client, "CONF", "*", "LIST", conference.channel, conference.state, conference.mode, conference.title)
        server.reply(client, "CONF", "*", "END", f"{len(server.conferences)} conferences")
        return
    if first.upper() == "CREATE":
        _conf_create(server, client, list(msg.params[1:]))
        return
    found = _conference(server, client, "CONF", first)
    if found is None:
        return
    channel, conference = found
    sub = msg.param(1, "INFO").upper()
    args = list(msg.params[2:])
    action = CONF_ACTIONS.get(sub)
    if action is None:
        server.fail(client, "CONF", "UNKNOWN_SUBCOMMAND", f"Unknown CONF subcommand {sub!r}", channel.name)
        return
    roles, minimum, run = action
    if roles is not None and _require(server, client, "CONF", channel, roles) is None:
        return
    if len(args) < minimum:
        server.numeric(client, N.ERR_NEEDMOREPARAMS, "CONF", "Not enough parameters")
        return
    run(server, client, channel, conference, args)


def _conf_create(server: Server, client: Client, args: list[str]) -> None:
    if not server.is_admin(client):
        server.fail(client, "CONF", "NEED_ROLE", "Only admins create conferences")
        return
    if len(args) < 2:
        server.numeric(client, N.ERR_NEEDMOREPARAMS, "CONF", "Not enough parameters")
        return
    name, title = args[0], args[1]
    if not name.startswith("#") or not is_valid_channel(name, server.limits.channel_length):
        server.fail(client, "CONF", "INVALID_CHANNEL", f"{name!r} is not a valid channel name", name or "*")
        return
    if casefold(name) in server.conferences:
        server.fail(client, "CONF", "ALREADY_EXISTS", f"{name} is already a conference", name)
        return
    existed = server.find_channel(name) is not None
    channel = server.add_conference(Conference(ConferenceConfig(channel=name, title=title)))
    assert channel.conference is not None
    # Members already in the channel keep their place, see the new topic,
    # and their status follows their conference role.
    if existed:
        server.relay(list(channel.members), server.name, "TOPIC", (channel.name, title))
        for member in list(channel.members):
            before = channel.members[member]
            _refresh_status(server, channel, member)
            _relay_status_change(server, channel, member, before, channel.members[member])
            welcome_to_conference(server, member, channel)
    channel.conference.record(server.wallclock(), _actor(client), "create", None, title=title)
    server.note(client, "CONF", "CREATED", f"Conference {name} created", name)


def refresh_roles(server: Server, client: Client) -> None:
    """After a login or OPER: the client's status in each conference it is
    in follows its (new) role, and the channel is told."""
    for channel in list(client.channels.values()):
        if channel.conference is not None:
            before = channel.members[client]
            _refresh_status(server, channel, client)
            _relay_status_change(server, channel, client, before, channel.members[client])


def _refresh_status(server: Server, channel: Channel, member: Client) -> None:
    role = server.role(member, channel)
    if role in STAFF:
        channel.staff.add(member)
        channel.members[member] = "v" if role is Role.GUEST else "o"
    else:
        channel.staff.discard(member)
        channel.members[member] = ""


def _conf_info(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
    info = conference.info()
    info["audience"] = str(len(channel.members) - len(channel.staff))
    info["now_answering"] = str(conference.now_answering or "")
    if server.role(client, channel) in STAFF:
        info["queue"] = str(len(conference.queue.order))
        oldest = min((conference.queue.items[i].submitted_at for i in conference.queue.order), default=None)
        info["oldest_waiting"] = str(int(server.wallclock() - oldest)) if oldest is not None else ""
    info["role"] = server.role(client, channel).value
    for key, value in info.items():
        server.reply(client, "CONF", channel.name, "INFO", key, value)
    server.reply(client, "CONF", channel.name, "END", "End of conference info")


def _broadcast_notice(server: Server, channel: Channel, text: str, tags: dict[str, str]) -> None:
    server.relay(list(channel.members), server.name, "NOTICE", (channel.name, text), tags)


def _set_state(server: Server, channel: Channel, conference: Conference, state: str, actor: str) -> None:
    conference.state = state
    conference.record(server.wallclock(), actor, "state", None, state=state)
    words = {"scheduled": "is scheduled", "open": "is open for questions", "live": "is live", "closed": "is closed"}
    _broadcast_notice(server, channel, f"{conference.title} {words[state]}", {"confchat/state": state})


def _conf_state(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
    state = args[0].lower()
    if state not in CONFERENCE_STATES:
        server.fail(client, "CONF", "INVALID_STATE", f"State must be one of {', '.join(CONFERENCE_STATES)}", channel.name, args[0])
        return
    conference.schedule_from = server.wallclock()  # times already past no longer apply
    _set_state(server, channel, conference, state, _actor(client))
    server.note(client, "CONF", "STATE", f"{channel.name} is now {state}", channel.name, state)


def _conf_set(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
    key, value = args[0].lower(), args[1]
    error = conference.set(key, value)
    if error:
        server.fail(client, "CONF", "INVALID_SETTING", error, channel.name, key)
        return
    conference.record(server.wallclock(), _actor(client), "set", None, key=key, value=value)
    if key == "title":
        channel.topic, channel.topic_by, channel.topic_at = value, server.name, int(server.wallclock())
        server.relay(list(channel.members), server.name, "TOPIC", (channel.name, value))
    elif key == "mode":
        _broadcast_notice(server, channel, f"The conference is now {value}", {"confchat/mode": value})
    elif key == "slow_mode":
        text = f"Slow mode: one message every {value} seconds" if int(value) else "Slow mode is off"
        _broadcast_notice(server, channel, text, {"confchat/slow_mode": value})
    server.note(client, "CONF", "SET", f"{key} is now {value}", channel.name, key)


def _conf_role(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
    account, role_name = args[0], args[1].lower()
    if casefold(account) not in server.accounts:
        server.fail(client, "CONF", "NO_SUCH_ACCOUNT", f"No account named {account}", channel.name, account)
        return
    if role_name not in ("moderator", "guest", "visitor"):
        server.fail(client, "CONF", "INVALID_ROLE", "Role must be moderator, guest or visitor", channel.name, role_name)
        return
    if role_name == "visitor":
        conference.roles.pop(casefold(account), None)
    else:
        conference.roles[casefold(account)] = Role(role_name)
    conference.record(server.wallclock(), _actor(client), "role", None, account=account, role=role_name)
    for member in list(channel.members):
        if member.account and casefold(member.account) == casefold(account):
            before = channel.members[member]
            _refresh_status(server, channel, member)
            _relay_status_change(server, channel, member, before, channel.members[member])
    server.note(client, "CONF", "ROLE", f"{account} is now {role_name} in {channel.name}", channel.name, account, role_name)


def _relay_status_change(server: Server, channel: Channel, member: Client, before: str, after: str) -> None:
    removed = "".join(m for m in before if m not in after)
    added = "".join(m for m in after if m not in before)
    change = ("-" + removed if removed else "") + ("+" + added if added else "")
    if change:
        nicks = (member.nick,) * (len(removed) + len(added))
        server.relay(list(channel.members), server.name, "MODE", (channel.name, change, *nicks))


def _restriction_mask(server: Server, text: str) -> str:
    """A nick of someone present becomes a ban on their address (and
    account), so reconnecting under another nick does not get round it."""
    if text.startswith("$a:"):
        return text
    if "!" in text or "@" in text or "*" in text or "?" in text:
        return normalize_mask(text)
    target = server.find_nick(text)
    if target is not None:
        return f"$a:{target.account}" if target.account else f"*!*@{target.host}"
    return normalize_mask(text)


def _conf_restrict(kind: str) -> Callable[[Server, Client, Channel, Conference, list[str]], None]:
    def run(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
        mask = _restriction_mask(server, args[0])
        duration = 0
        rest = args[1:]
        if rest and is_number(rest[0]):
            duration = int(rest[0])
            rest = rest[1:]
        reason = rest[0] if rest else ""
        now = server.wallclock()
        conference.restrictions.append(
            Restriction(kind, mask, _actor(client), reason, now, now + duration if duration else 0.0)
        )
        conference.record(now, _actor(client), kind, None, mask=mask, duration=duration, reason=reason)
        server.stats.restrictions[(conference.channel, kind)] += 1
        if kind == "ban":
            for member in list(channel.members):
                if member not in channel.staff and conference.restricted("ban", member.prefix, member.account, now):
                    server.relay({client, *server.audience(channel, member)}, client.prefix, "KICK",
                                 (channel.name, member.nick, reason or "Banned"))
                    server.part_channel(member, channel)
        until = f" for {duration} seconds" if duration else ""
        done = {"ban": "banned", "mute": "muted"}[kind]
        server.note(client, "CONF", kind.upper(), f"{mask} {done}{until}", channel.name, mask)

    return run


def _conf_unrestrict(kind: str) -> Callable[[Server, Client, Channel, Conference, list[str]], None]:
    def run(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
        mask = _restriction_mask(server, args[0])
        before = len(conference.restrictions)
        conference.restrictions = [
            r for r in conference.restrictions if not (r.kind == kind and casefold(r.mask) == casefold(mask))
        ]
        if len(conference.restrictions) == before:
            server.fail(client, "CONF", "NO_SUCH_" + kind.upper(), f"No {kind} on {mask}", channel.name, mask)
            return
        conference.record(server.wallclock(), _actor(client), "un" + kind, None, mask=mask)
        server.note(client, "CONF", "UN" + kind.upper(), f"{kind} on {mask} lifted", channel.name, mask)

    return run


def _conf_bans(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
    now = server.wallclock()
    conference.expire(now)
    for r in conference.restrictions:
        expires = str(int(r.expires)) if r.expires else "0"
        server.reply(client, "CONF", channel.name, "RESTRICTION", r.kind, r.mask, r.by, expires, r.reason)
    server.reply(client, "CONF", channel.name, "END", f"{len(conference.restrictions)} restrictions")


def _conf_disconnect(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
    target = server.find_nick(args[0])
    if target is None or target not in channel.members:
        server.numeric(client, N.ERR_USERNOTINCHANNEL, args[0], channel.name, "They aren't on that channel")
        return
    if target in channel.staff:
        server.fail(client, "CONF", "CANNOT_DISCONNECT_STAFF", "Staff cannot be disconnected this way", channel.name, target.nick)
        return
    reason = args[1] if len(args) > 1 else "Disconnected by a moderator"
    conference.record(server.wallclock(), _actor(client), "disconnect", None, nick=target.nick, reason=reason)
    server.disconnect(target, reason, kind="moderator")
    server.note(client, "CONF", "DISCONNECTED", f"{target.nick} was disconnected", channel.name, target.nick)


def _conf_answering(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
    item_id = _item_id(server, client, "CONF", args[0])
    if item_id is None:
        return
    try:
        item = conference.queue.get(item_id)
    except QueueError as exc:
        server.fail(client, "CONF", exc.code, str(exc), channel.name, args[0])
        return
    if item.state is not State.PUBLISHED or item.msgid is None or item.redacted:
        server.fail(client, "CONF", "NOT_PUBLISHED", f"Item {item_id} is not published", channel.name, args[0])
        return
    conference.now_answering = item.id
    conference.record(server.wallclock(), _actor(client), "answering", item.id)
    _broadcast_notice(
        server, channel, f"Now answering: {item.author}: {item.text}",
        {TAG_ANSWERING: str(item.id), TAG_REPLY: item.msgid},
    )


def _conf_answered(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
    item_id = _item_id(server, client, "CONF", args[0])
    if item_id is None:
        return
    try:
        item = conference.queue.get(item_id)
    except QueueError as exc:
        server.fail(client, "CONF", exc.code, str(exc), channel.name, args[0])
        return
    if item.state is not State.PUBLISHED or item.msgid is None or item.redacted:
        server.fail(client, "CONF", "NOT_PUBLISHED", f"Item {item_id} is not published", channel.name, args[0])
        return
    item.answered = True
    if conference.now_answering == item.id:
        conference.now_answering = None
    conference.record(server.wallclock(), _actor(client), "answered", item.id)
    _broadcast_notice(server, channel, f"Answered: {item.author}: {item.text}",
                      {"confchat/answered": str(item.id), TAG_REPLY: item.msgid})


def _conf_questions(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
    """Published questions, most votes first (ties: oldest first)."""
    items = sorted((i for i in conference.queue.published() if not i.redacted), key=lambda i: (-len(i.votes), i.id))
    for item in items:
        server.reply(
            client, "CONF", channel.name, "QUESTION", str(item.id), str(len(item.votes)),
            "answered" if item.answered else "open", item.msgid or "*", item.author, item.text,
        )
    server.reply(client, "CONF", channel.name, "END", f"{len(items)} questions")


def _conf_audit(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
    for entry in conference.audit:
        detail = json.dumps(entry.detail, ensure_ascii=False, separators=(",", ":"))
        server.reply(
            client, "CONF", channel.name, "AUDIT", str(int(entry.at)), entry.actor, entry.action,
            str(entry.item) if entry.item is not None else "*", detail,
        )
    server.reply(client, "CONF", channel.name, "END", f"{len(conference.audit)} entries")


EXPORT_FORMATS = ("html", "md", "json", "txt")
EXPORT_TTL = 300.0  # seconds a download link stays valid


def _conf_export(server: Server, client: Client, channel: Channel, conference: Conference, args: list[str]) -> None:
    """A one-time download link for the transcript (public, or the internal
    archive with ``internal``), valid five minutes: no password in any URL."""
    fmt = (args[0] if args else "html").lower()
    internal = len(args) > 1 and args[1].lower() == "internal"
    if fmt not in EXPORT_FORMATS:
        server.fail(client, "CONF", "INVALID_FORMAT", f"Format must be one of {', '.join(EXPORT_FORMATS)}", channel.name, fmt)
        return
    token = server.new_export(conference.folded, fmt, internal, EXPORT_TTL)
    conference.record(server.wallclock(), _actor(client), "export", None, format=fmt, internal=internal)
    server.reply(client, "CONF", channel.name, "EXPORT", fmt, "internal" if internal else "public",
                 f"/export/{token}", f"Download link, valid {int(EXPORT_TTL // 60)} minutes, once")


CONF_ACTIONS: dict[str, tuple[frozenset[Role] | None, int, Callable[[Server, Client, Channel, Conference, list[str]], None]]] = {
    "INFO": (None, 0, _conf_info),
    "STATE": (MODERATING, 1, _conf_state),
    "SET": (MODERATING, 2, _conf_set),
    "ROLE": (frozenset({Role.ADMIN}), 2, _conf_role),
    "BAN": (MODERATING, 1, _conf_restrict("ban")),
    "UNBAN": (MODERATING, 1, _conf_unrestrict("ban")),
    "MUTE": (MODERATING, 1, _conf_restrict("mute")),
    "UNMUTE": (MODERATING, 1, _conf_unrestrict("mute")),
    "BANS": (MODERATING, 0, _conf_bans),
    "DISCONNECT": (MODERATING, 1, _conf_disconnect),
    "ANSWERING": (STAFF, 1, _conf_answering),
    "ANSWERED": (STAFF, 1, _conf_answered),
    "QUESTIONS": (STAFF, 0, _conf_questions),
    "AUDIT": (MODERATING, 0, _conf_audit),
    "EXPORT": (MODERATING, 0, _conf_export),
}


def advance_schedules(server: Server) -> None:
    """Move conferences along their schedule (called from Server.tick)."""
    now = server.wallclock()
    for conference in server.conferences.values():
        state = conference.scheduled_state(now)
        if state is not None:
            channel = server.channels[conference.folded]
            _set_state(server, channel, conference, state, "schedule")
        conference.expire(now)
