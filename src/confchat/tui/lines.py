"""The moderation extension's lines, read: each parser takes a
:class:`~confchat.proto.Message` (from the server's own codec) and returns a
small frozen value with named fields, or ``None`` for a line of another kind.

The field orders are the server's (``moderation/engine.py:item_params``,
``core/handlers/conf.py``, protocol.md *Moderation extension*); the states,
roles and tag names are imported from the server package, so a renamed
value breaks here at import time instead of silently. ``*`` (nobody,
nothing) becomes ``None``; numbers are ints.
"""

from __future__ import annotations

import attrs

from ..moderation.conference import Role
from ..moderation.engine import TAG_ANSWERING, TAG_ITEM, TAG_REASONS, TAG_REPLY, TAG_SCORE
from ..moderation.queue import UNDECIDED, State
from ..proto.message import Message
from ..proto.numbers import is_number

TAG_ANSWERED = "confchat/answered"
TAG_STATE = "confchat/state"
TAG_MODE = "confchat/mode"
TAG_SLOW = "confchat/slow_mode"

__all__ = [
    "Broadcast",
    "ConfLine",
    "Member",
    "QueueItem",
    "Reply",
    "Role",
    "State",
    "TAG_ITEM",
    "TAG_REPLY",
    "UNDECIDED",
    "item_id",
    "parse_broadcast",
    "parse_conf",
    "parse_item",
    "parse_more",
    "parse_prepared",
    "parse_reply",
]


def item_id(text: str | None) -> int | None:
    """An item id, or ``None`` when ``text`` is not one."""
    return int(text) if text and is_number(text) and len(text) <= 15 else None


def _count(text: str | None) -> int:
    return int(text) if text and is_number(text) and len(text) <= 15 else 0


def _nobody(text: str | None) -> str | None:
    return None if text in (None, "", "*") else text


@attrs.frozen
class QueueItem:
    """``QUEUE <channel> ITEM <id> <state> <position> <author> <submitted>
    <claimed-by> <decided-by> <flags> :<text>``, with the policies' tags."""

    channel: str
    id: int
    state: State
    position: int
    author: str
    submitted: int
    claimed_by: str | None
    decided_by: str | None
    flags: tuple[str, ...]
    text: str
    score: float | None = None
    reasons: tuple[str, ...] = ()
    event: bool = False  # an event (carries a msgid), not a LIST reply

    @property
    def undecided(self) -> bool:
        return self.state in UNDECIDED

    @property
    def redacted(self) -> bool:
        return "redacted" in self.flags


def parse_item(msg: Message) -> QueueItem | None:
    p = msg.params
    if msg.command != "QUEUE" or len(p) < 11 or p[1] != "ITEM":
        return None
    ident = item_id(p[2])
    try:
        state = State(p[3])
    except ValueError:
        return None
    if ident is None:
        return None
    flags = tuple(f for f in p[9].split(",") if f) if _nobody(p[9]) else ()
    raw_score = msg.tags.get(TAG_SCORE, "")
    try:
        score = float(raw_score) if raw_score else None
    except ValueError:
        score = None
    reasons = tuple(r.strip() for r in msg.tags.get(TAG_REASONS, "").split(" | ") if r.strip())
    return QueueItem(
        channel=p[0],
        id=ident,
        state=state,
        position=_count(p[4]),
        author=p[5],
        submitted=_count(p[6]),
        claimed_by=_nobody(p[7]),
        decided_by=_nobody(p[8]),
        flags=flags,
        text=p[10],
        score=score,
        reasons=reasons,
        event="msgid" in msg.tags,
    )


@attrs.frozen
class More:
    """``<COMMAND> <channel or *> MORE <next> :<n> more``: a paged listing
    goes on from ``next``."""

    command: str
    channel: str
    next: int


def parse_more(msg: Message) -> More | None:
    p = msg.params
    if len(p) >= 3 and p[1] == "MORE" and msg.command in ("QUEUE", "CONF", "ACCOUNTS"):
        start = item_id(p[2])
        if start:
            return More(msg.command, p[0], start)
    return None


@attrs.frozen
class Member:
    nick: str
    userhost: str
    account: str | None


@attrs.frozen
class ConfLine:
    """A ``CONF`` reply or event: ``kind`` is the subcommand word, lowered
    (``info``, ``question``, ``votes``, ``member``, ``end``, ``list``,
    ``restriction``, ``grant``, ``audit``, ``export``, ``shield``,
    ``summary``, ``archived``, ``more``); ``fields`` the rest, as sent."""

    kind: str
    channel: str
    fields: tuple[str, ...]

    def field(self, index: int, default: str = "") -> str:
        return self.fields[index] if index < len(self.fields) else default


def parse_conf(msg: Message) -> ConfLine | None:
    p = msg.params
    if msg.command != "CONF" or len(p) < 2:
        return None
    return ConfLine(p[1].lower(), p[0], tuple(p[2:]))


@attrs.frozen
class Reply:
    """``NOTE|FAIL|WARN <command> <code> [<context>...] :<description>``, or
    the NOTICE a client without standard-replies would get instead (we
    always negotiate it, but a server might not offer it)."""

    kind: str  # NOTE, FAIL or WARN
    command: str
    code: str
    context: tuple[str, ...]
    description: str

    @property
    def channel(self) -> str:
        return self.context[0] if self.context else ""

    @property
    def item(self) -> int | None:
        return item_id(self.context[1]) if len(self.context) > 1 else None


def parse_reply(msg: Message) -> Reply | None:
    if msg.command not in ("NOTE", "FAIL", "WARN") or len(msg.params) < 3:
        return None
    command, code, *rest = msg.params
    return Reply(msg.command, command, code, tuple(rest[:-1]), rest[-1])


@attrs.frozen
class Broadcast:
    """What a server NOTICE to a conference announces, from its tags; a
    field is ``None`` when the notice does not change it. ``answering`` is
    0 for "nothing is being answered now" (the empty tag)."""

    state: str | None = None
    mode: str | None = None
    slow_mode: int | None = None
    answering: int | None = None
    answered: int | None = None


def parse_broadcast(msg: Message) -> Broadcast | None:
    tags = msg.tags
    if msg.command != "NOTICE" or not any(
        key in tags for key in (TAG_STATE, TAG_MODE, TAG_SLOW, TAG_ANSWERING, TAG_ANSWERED)
    ):
        return None
    answering = None
    if TAG_ANSWERING in tags:
        answering = item_id(tags[TAG_ANSWERING]) or 0
    return Broadcast(
        state=tags.get(TAG_STATE),
        mode=tags.get(TAG_MODE),
        slow_mode=_count(tags[TAG_SLOW]) if TAG_SLOW in tags else None,
        answering=answering,
        answered=item_id(tags.get(TAG_ANSWERED)),
    )


@attrs.frozen
class Prepared:
    name: str
    author: str
    text: str


def parse_prepared(msg: Message) -> Prepared | str | None:
    """A ``PREPARED <channel> ITEM <name> <author> :<text>`` line, or
    ``"end"`` for its ``END``."""
    p = msg.params
    if msg.command != "PREPARED" or len(p) < 2:
        return None
    if p[1] == "ITEM" and len(p) >= 5:
        return Prepared(p[2], p[3], p[4])
    if p[1] == "END":
        return "end"
    return None
