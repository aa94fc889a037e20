"""CHATHISTORY (IRCv3 ``draft/chathistory``, with ``draft/event-playback``):
a client asks for the published messages of a conference it is in, by
msgid or time (protocol.md, "History").

What can be asked for is what the live protocol showed everyone in the
channel: the conference's publications (published questions, answers, staff
messages), each as it was published, and never an item that is pending,
held, forwarded or dropped, nor a message deleted since. With
``draft/event-playback`` (and ``draft/message-redaction``) the deletions
themselves are replayed, as ``REDACT`` lines in their place in the history.
The conference's :class:`~confchat.moderation.timeline.Timeline` answers
each query by bisection, within ``history.chathistory_limit`` lines.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Callable

from ...moderation.timeline import Redaction, Selector, Timeline
from ...proto.casemap import casefold
from ...proto.message import Message
from ...proto.numbers import is_number
from ...proto.servertime import format_server_time

if TYPE_CHECKING:
    from ...moderation.timeline import Entry
    from ..channel import Channel
    from ..client import Client
    from ..server import Server

CAP = "draft/chathistory"
PLAYBACK_CAP = "draft/event-playback"
REDACTION_CAP = "draft/message-redaction"
BATCH_TYPE = "chathistory"
TARGETS_BATCH_TYPE = "draft/chathistory-targets"
# ISUPPORT MSGREFTYPES: the selectors understood, the preferred first (a
# msgid is exact; two messages may share a millisecond).
MSGREFTYPES = ("msgid", "timestamp")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


class Invalid(Exception):
    """A parameter the spec's syntax does not allow: INVALID_PARAMS."""

    def __init__(self, text: str, description: str) -> None:
        super().__init__(description)
        self.text = text
        self.description = description


class UnknownMsgid(Exception):
    """``msgid=`` naming no message of that history: MESSAGE_ERROR."""


def isupport_tokens(limit: int) -> list[str]:
    return [f"CHATHISTORY={limit}", "MSGREFTYPES=" + ",".join(MSGREFTYPES)]


def parse_timestamp(text: str) -> int:
    """``YYYY-MM-DDThh:mm:ss.sssZ`` (any ISO 8601 time with a UTC offset)
    as whole milliseconds since the epoch, exactly (no float rounding)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(text, "timestamp takes YYYY-MM-DDThh:mm:ss.sssZ") from None
    if moment.tzinfo is None:
        raise Invalid(text, "timestamp takes YYYY-MM-DDThh:mm:ss.sssZ (UTC)")
    return (moment - _EPOCH) // _MS


def parse_selector(text: str, timeline: Timeline | None, *, msgid_ok: bool = True) -> Selector:
    """``msgid=<id>`` or ``timestamp=<time>``. Without a timeline (a
    channel with no history) a msgid resolves to nothing and is refused."""
    kind, sep, value = text.partition("=")
    kind = kind.lower()
    if not sep or not value:
        raise Invalid(text, "expected msgid=<id> or timestamp=<time>")
    if kind == "timestamp":
        try:
            return Timeline.by_time(parse_timestamp(value))
        except Invalid as bad:
            raise Invalid(text, bad.description) from None
    if kind == "msgid" and msgid_ok:
        found = timeline.by_msgid(value) if timeline is not None else None
        if found is None:
            raise UnknownMsgid(text)
        return found
    raise Invalid(text, "expected timestamp=<time>" if not msgid_ok else "expected msgid=<id> or timestamp=<time>")


def _check_syntax(text: str, star: bool) -> None:
    """A selector's syntax, where there is no history to look it up in."""
    if star and text == "*":
        return
    kind, sep, value = text.partition("=")
    if kind.lower() == "msgid" and value:
        return
    parse_selector(text, None)


def parse_limit(text: str, ceiling: int) -> int:
    """A positive number of lines; more than the server's limit is cut to it."""
    if not is_number(text) or int(text) < 1:
        raise Invalid(text, "limit takes a positive number")
    return min(int(text), ceiling)


# A subcommand: (number of parameters after the subcommand, the query).
Query = Callable[[Timeline, list[str], int, bool], "list[Entry]"]


def _latest(timeline: Timeline, args: list[str], limit: int, events: bool) -> list[Entry]:
    after = None if args[0] == "*" else parse_selector(args[0], timeline)
    return timeline.latest(limit, after, events)


def _before(timeline: Timeline, args: list[str], limit: int, events: bool) -> list[Entry]:
    return timeline.before(parse_selector(args[0], timeline), limit, events)


def _after(timeline: Timeline, args: list[str], limit: int, events: bool) -> list[Entry]:
    return timeline.after(parse_selector(args[0], timeline), limit, events)


def _around(timeline: Timeline, args: list[str], limit: int, events: bool) -> list[Entry]:
    return timeline.around(parse_selector(args[0], timeline), limit, events)


def _between(timeline: Timeline, args: list[str], limit: int, events: bool) -> list[Entry]:
    first, second = parse_selector(args[0], timeline), parse_selector(args[1], timeline)
    return timeline.between(first, second, limit, events)


# Selectors each subcommand takes, between the target and the limit.
QUERIES: dict[str, tuple[int, Query]] = {
    "LATEST": (1, _latest),
    "BEFORE": (1, _before),
    "AFTER": (1, _after),
    "AROUND": (1, _around),
    "BETWEEN": (2, _between),
}


def _fail(server: Server, client: Client, code: str, description: str, *context: str) -> None:
    """"Errors are returned using the standard replies syntax": a FAIL
    line, whether or not the client asked for standard-replies."""
    server.reply(client, "FAIL", "CHATHISTORY", code, *context, description)


def handle_chathistory(server: Server, client: Client, msg: Message) -> None:
    params = list(msg.params)
    if not params:
        _fail(server, client, "NEED_MORE_PARAMS", "Missing parameters", "*")
        return
    sub = params[0].upper()
    if sub == "TARGETS":
        _targets(server, client, sub, params[1:])
        return
    if sub not in QUERIES:
        _fail(server, client, "UNKNOWN_COMMAND", "Unknown command", params[0])
        return
    selectors, query = QUERIES[sub]
    if len(params) < 3 + selectors:
        _fail(server, client, "NEED_MORE_PARAMS", "Missing parameters", sub)
        return
    target = params[1]
    try:
        limit = parse_limit(params[2 + selectors], server.config.history.chathistory_limit)
    except Invalid as bad:
        _fail(server, client, "INVALID_PARAMS", bad.description, sub, bad.text)
        return
    timeline, channel = _readable(server, client, target)
    if timeline is False:
        _fail(server, client, "INVALID_TARGET", "Messages could not be retrieved", sub, target)
        return
    events = PLAYBACK_CAP in client.caps and REDACTION_CAP in client.caps
    args = params[2 : 2 + selectors]
    try:
        if timeline is None:  # no history here: an empty batch, if well asked
            for text in args:
                _check_syntax(text, star=sub == "LATEST")
            entries: list[Entry] = []
        else:
            entries = query(timeline, args, limit, events)
    except Invalid as bad:
        _fail(server, client, "INVALID_PARAMS", bad.description, sub, bad.text)
        return
    except UnknownMsgid as unknown:
        _fail(server, client, "MESSAGE_ERROR", "No message here has that msgid", sub, target, str(unknown))
        return
    name = channel.name if channel is not None else target
    send_batch(server, client, name, entries)


def _readable(server: Server, client: Client, target: str) -> tuple[Timeline | None | bool, Channel | None]:
    """The history ``client`` may read at ``target``: a conference's
    timeline if the client is in that channel; None (an empty history) for a
    channel without one that the client is in, or a nick (direct messages
    are not kept); False for a channel it is not in or that does not exist
    (INVALID_TARGET, the same for both: nothing tells which channels exist)."""
    if not target.startswith(("#", "&")):
        return None, None
    channel = server.channels.get(casefold(target))
    if channel is None or client not in channel.members:
        return False, None
    if channel.conference is None:
        return None, channel
    return channel.conference.timeline, channel


def send_batch(server: Server, client: Client, target: str, entries: list[Entry]) -> None:
    """The entries as they were sent live, with their msgid and time, in a
    ``chathistory`` batch for clients with ``batch``."""
    batch = "batch" in client.caps
    ref = server.new_msgid()
    if batch:
        server.send(client, Message("BATCH", ("+" + ref, BATCH_TYPE, target), server.name))
    for entry in entries:
        server.send(client, _line(entry, target, ref if batch else None))
    if batch:
        server.send(client, Message("BATCH", ("-" + ref,), server.name))


def _line(entry: Entry, target: str, ref: str | None) -> Message:
    if isinstance(entry, Redaction):
        tags = {"msgid": entry.msgid, "time": format_server_time(entry.at)}
        message = ("REDACT", (target, entry.target), entry.by)
    else:
        tags = {**entry.tags, "msgid": entry.msgid, "time": format_server_time(entry.at)}
        message = (entry.command, (target, entry.text), entry.source)
    if ref is not None:
        tags["batch"] = ref
    command, params, source = message
    return Message(command, params, source, tags)


def _format_millis(key: int) -> str:
    """A timeline key (whole milliseconds) as a ``time`` tag, exactly."""
    seconds, ms = divmod(key, 1000)
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms:03d}Z"


def _targets(server: Server, client: Client, sub: str, args: list[str]) -> None:
    """``CHATHISTORY TARGETS <timestamp> <timestamp> <limit>``: the channels
    the client is in whose history has messages between the two times, each
    with the time of its latest there, oldest first."""
    if len(args) < 3:
        _fail(server, client, "NEED_MORE_PARAMS", "Missing parameters", sub)
        return
    try:
        low = parse_selector(args[0], None, msgid_ok=False).key
        high = parse_selector(args[1], None, msgid_ok=False).key
        limit = parse_limit(args[2], server.config.history.chathistory_limit)
    except Invalid as bad:
        _fail(server, client, "INVALID_PARAMS", bad.description, sub, bad.text)
        return
    found: list[tuple[int, str]] = []
    for channel in client.channels.values():  # at most CHANLIMIT of them
        if channel.conference is None:
            continue
        latest = channel.conference.timeline.latest_between(low, high)
        if latest is not None:
            found.append((latest, channel.name))
    found.sort()
    batch = "batch" in client.caps
    ref = server.new_msgid()
    if batch:
        server.send(client, Message("BATCH", ("+" + ref, TARGETS_BATCH_TYPE), server.name))
    for latest, name in found[:limit]:
        tags = {"batch": ref} if batch else {}
        at = _format_millis(latest)
        server.send(client, Message("CHATHISTORY", ("TARGETS", name, at), server.name, tags))
    if batch:
        server.send(client, Message("BATCH", ("-" + ref,), server.name))
