"""Whether a visitor may write in a conference now: the conference's
state and mode, the shield, bans and mutes, the caps on waiting questions
and slow mode, checked in the order protocol.md's table gives. Pure: a
refusal is a :class:`QueueError` raised before anything changes."""

from __future__ import annotations

import math

import attrs

from ..vocab import ConferenceState, RoomMode
from .conference import Conference
from .effects import Actor
from .queue import QueueError


@attrs.frozen
class PendingCaps:
    """How many undecided questions one visitor connection
    (moderation.max_pending_per_visitor) and one address, all its
    connections together (max_pending_per_address; none for ``shared``
    addresses), may have; 0: no cap."""

    per_visitor: int = 0
    per_address: int = 0
    shared: frozenset[str] = frozenset()


def check_visitor(
    conference: Conference, author: Actor, now: float, caps: PendingCaps, *, readonly: bool, banned: bool
) -> None:
    """Raise the refusal of ``author``'s message, if any. ``readonly`` and
    ``banned`` are the channel's own modes (+m, +b), which the core knows."""
    if conference.state is ConferenceState.SCHEDULED:
        when = f" at {conference.opens}" if conference.opens else " later"
        raise QueueError("NOT_OPEN", f"The conference is not open yet; questions open{when}")
    if conference.state is ConferenceState.CLOSED:
        raise QueueError("CLOSED", "The conference is closed")
    if conference.mode is RoomMode.READONLY or readonly:
        raise QueueError("READ_ONLY", "Only the staff can write in this conference now")
    shield = conference.shield
    if shield.on:
        visitor = conference.visitors.get(author.id)
        if visitor is not None and visitor.joined_at > shield.since:
            raise QueueError("MUTED", "You cannot send messages here yet: new visitors are muted for now")
    if banned:
        raise QueueError("BANNED", "You are banned from writing in this conference")
    waiting = conference.queue.undecided_by.get(author.id, 0)
    if caps.per_visitor and waiting >= caps.per_visitor:
        raise QueueError(
            "TOO_MANY_PENDING",
            f"You have {waiting} messages waiting for the moderators; send more once they are decided",
            context=(str(waiting),),
        )
    cap = caps.per_address
    if cap and author.address and author.address not in caps.shared:
        from_address = conference.queue.undecided_from.get(author.address, 0)
        if from_address >= cap:
            raise QueueError(
                "TOO_MANY_PENDING",
                f"{from_address} messages from your network are waiting for the moderators; "
                "send yours once some are decided",
                context=(str(from_address),),
            )
    mute = conference.restricted("mute", author.prefix, author.account, now, author.marks)
    if mute is not None:
        reason = f": {mute.reason}" if mute.reason else ""
        raise QueueError("MUTED", f"You cannot send messages here{reason}")
    if conference.slow_mode:
        last = conference.last_message.get(author.id)
        if last is not None and now - last < conference.slow_mode:
            wait = max(1, math.ceil(conference.slow_mode - (now - last)))
            raise QueueError(
                "SLOW_MODE", f"Slow mode: wait {wait} seconds before your next message", context=(str(wait),)
            )
