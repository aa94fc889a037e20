"""What the audience is shown of itself, coalesced: each published
question's vote count and the size of the audience.

Pure: the engine calls in with the wall clock's reading. A count that
changes many times a second (a popular question, a crowd arriving) must not
cost one line per change to every visitor: 500 votes in a second to 10,000
visitors would be five million lines. So each question's count goes to the
visitors at most once per :data:`VOTES_INTERVAL` and the audience size at most
once per :data:`AUDIENCE_INTERVAL`: the first change goes at once, the ones
that follow inside the interval wait, and the latest value goes when the
interval is over (the engine's tick, about once a second). The staff keep
their line per vote (``CONF <channel> VOTES`` to the staff, protocol.md).
"""

from __future__ import annotations

from typing import Hashable, Iterable

from .conference import Conference
from .effects import Audience, Broadcast
from .queue import Item, State

# At most one vote-count line per question per second to the visitors, as
# Slido and Pigeonhole refresh their counts: live to a person, bounded for
# the server (a line per question per second, whatever the votes).
VOTES_INTERVAL = 1.0
# At most one audience count every five seconds: the number moves with
# every arrival; a person reads it now and then.
AUDIENCE_INTERVAL = 5.0


class Coalescer:
    """At most one update per key per ``interval`` seconds.

    :meth:`change` says whether an update may go now (none went for that
    key within the interval); otherwise the key waits, and :meth:`due`
    hands it back once the interval is over. Memory: the keys changed
    within the last interval, no more."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.sent: dict[Hashable, float] = {}  # key -> when its last update went
        self.waiting: set[Hashable] = set()

    def change(self, key: Hashable, now: float) -> bool:
        last = self.sent.get(key)
        if last is None or now - last >= self.interval:
            self.sent[key] = now
            self.waiting.discard(key)
            return True
        self.waiting.add(key)
        return False

    def due(self, now: float) -> list[Hashable]:
        """The waiting keys whose interval is over (their update goes now);
        keys quiet for a whole interval are forgotten."""
        ready = sorted((k for k in self.waiting if now - self.sent[k] >= self.interval), key=str)
        for key in ready:
            self.waiting.discard(key)
            self.sent[key] = now
        for key in [k for k, at in self.sent.items() if k not in self.waiting and now - at >= self.interval]:
            del self.sent[key]
        return ready


# The visitors' counts are confchat's own lines (``CONF <channel> VOTES``,
# ``HEADCOUNT``): they go to the clients that asked for them with this
# capability (the web pages), never to a plain IRC client, which would
# show them as unknown commands.
AUDIENCE_CAP = "confchat/audience"


def votes_line(conference: Conference, item: Item, audience: Audience = Audience.VISITORS) -> Broadcast:
    """``CONF <channel> VOTES <item> <votes>``."""
    only = AUDIENCE_CAP if audience is Audience.VISITORS else None
    return Broadcast(audience, "CONF", ("VOTES", str(item.id), str(len(item.votes))), only_caps=only)


class PublicCounts:
    """One conference's counts as the visitors were last told them."""

    def __init__(self) -> None:
        self.votes = Coalescer(VOTES_INTERVAL)
        self.audience_told = 0  # an empty room is told nothing
        self.audience_at = float("-inf")

    def voted(self, conference: Conference, item: Item, now: float) -> list[Broadcast]:
        """A vote was counted for ``item``: its count, now or at a later tick."""
        return [votes_line(conference, item)] if self.votes.change(item.id, now) else []

    def tick(self, conference: Conference, audience: int, now: float) -> list[Broadcast]:
        """The counts whose interval is over; ``audience`` is the number of
        members who are not staff (the core knows it)."""
        out = []
        for item_id in self.votes.due(now):
            item = conference.queue.items.get(item_id)  # type: ignore[arg-type]
            if item is not None and item.state is State.PUBLISHED and not item.redacted:
                out.append(votes_line(conference, item))
        if audience != self.audience_told and now - self.audience_at >= AUDIENCE_INTERVAL:
            self.audience_told, self.audience_at = audience, now
            out.append(Broadcast(Audience.VISITORS, "CONF", ("HEADCOUNT", str(audience)), only_caps=AUDIENCE_CAP))
        return out


class Tallies:
    """The public counts of every conference, by folded channel name."""

    def __init__(self) -> None:
        self._by_conference: dict[str, PublicCounts] = {}

    def of(self, conference: Conference) -> PublicCounts:
        counts = self._by_conference.get(conference.folded)
        if counts is None:
            counts = self._by_conference[conference.folded] = PublicCounts()
        return counts


def ranked(items: Iterable[Item]) -> list[Item]:
    """Published questions still shown, the order ``sort = "popular"``
    means: most votes first, ties by the oldest (lowest id)."""
    return sorted((i for i in items if i.state is State.PUBLISHED and not i.redacted), key=lambda i: (-len(i.votes), i.id))
