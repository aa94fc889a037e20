"""A conference's history in order: what ``CHATHISTORY`` reads.

Pure: the conference adds each publication here as it is published (and
storage, at start, the stored ones), and tells of each redaction. Nothing
here knows who asks; the core's handler (``core/handlers/history.py``)
decides what a client may see and turns entries into lines.

Two sorted lists, each searched by bisection, so a query costs
O(log n + limit) however long the conference has run:

- the **messages**: publications still shown, in publication order;
- the **events**: redactions (a ``REDACT`` replayed to clients with
  ``draft/event-playback``), in the order they happened.

Every entry has a sequence number (one counter for both lists: the order of
the conference's history, "a consistent message order" as the chathistory
spec asks) and a key, its time in whole milliseconds, the precision of the
``time`` tag, so that ``timestamp=`` selectors taken from a line's ``time``
tag select exactly that line. Keys never go down: a wall clock stepped back
gives the entry the previous entry's key, not an earlier place.

A redacted publication leaves the message list, but its msgid is still
known (its sequence number and key), so ``AFTER msgid=<a message deleted
since>`` still answers from the right place.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from heapq import merge
from typing import TYPE_CHECKING, Iterable, Union

import attrs

if TYPE_CHECKING:
    from .conference import Publication


@attrs.define(slots=True)
class Redaction:
    """A published message deleted by a moderator (REDACT)."""

    msgid: str  # this event's own id in the history
    target: str  # the msgid of the deleted message
    at: float
    by: str  # who deleted it (account or nick)


Entry = Union["Publication", Redaction]


def millis(at: float) -> int:
    """A time in whole milliseconds, truncated like the ``time`` tag."""
    return int(at * 1000)


@attrs.frozen
class Selector:
    """``msgid=<id>`` or ``timestamp=<time>`` of a CHATHISTORY command,
    resolved: ``seq`` is set for a msgid the timeline knows; ``key`` is the
    time in milliseconds (the message's, for a msgid)."""

    key: int
    seq: int | None = None

    def point(self) -> tuple[int, int]:
        """Where it stands in the history's order, to compare two selectors."""
        return (self.key, self.seq if self.seq is not None else -1)


class _Sorted:
    """One list of entries with their sequence numbers and keys."""

    __slots__ = ("seqs", "keys", "items")

    def __init__(self) -> None:
        self.seqs: list[int] = []
        self.keys: list[int] = []
        self.items: list[Entry] = []

    def append(self, seq: int, key: int, item: Entry) -> None:
        self.seqs.append(seq)
        self.keys.append(key)
        self.items.append(item)

    def remove(self, seq: int) -> Entry | None:
        i = bisect_left(self.seqs, seq)
        if i == len(self.seqs) or self.seqs[i] != seq:
            return None
        del self.seqs[i], self.keys[i]
        return self.items.pop(i)

    def after(self, selector: Selector) -> int:
        """Index of the first entry after ``selector`` (excluded)."""
        if selector.seq is not None:
            return bisect_right(self.seqs, selector.seq)
        return bisect_right(self.keys, selector.key)

    def before(self, selector: Selector) -> int:
        """Index past the last entry before ``selector`` (excluded)."""
        if selector.seq is not None:
            return bisect_left(self.seqs, selector.seq)
        return bisect_left(self.keys, selector.key)

    def at_or_after(self, selector: Selector) -> int:
        """Index of the first entry at ``selector`` or later."""
        return self.before(selector)

    def slice(self, lo: int, hi: int) -> list[tuple[int, Entry]]:
        return list(zip(self.seqs[lo:hi], self.items[lo:hi]))


class Timeline:
    def __init__(self) -> None:
        self._next = 0
        self.messages = _Sorted()
        self.events = _Sorted()
        # msgid -> (sequence number, key), for every entry ever added: a
        # selector naming a deleted message still finds its place.
        self.known: dict[str, tuple[int, int]] = {}
        self._last_key = 0

    def __len__(self) -> int:
        return len(self.messages.seqs)

    def _stamp(self, msgid: str, at: float) -> tuple[int, int]:
        seq = self._next
        self._next += 1
        key = max(millis(at), self._last_key)
        self._last_key = key
        self.known[msgid] = (seq, key)
        return seq, key

    def add(self, publication: Publication) -> None:
        """A message published (or restored from storage, in order)."""
        if publication.msgid in self.known:
            return
        seq, key = self._stamp(publication.msgid, publication.at)
        self.messages.append(seq, key, publication)

    def redact(self, msgid: str, at: float, by: str) -> Redaction | None:
        """``msgid`` was deleted: it leaves the messages, and the deletion
        becomes an event of the history."""
        place = self.known.get(msgid)
        if place is None or self.messages.remove(place[0]) is None:
            return None
        event = Redaction(f"{msgid}-redacted", msgid, at, by)
        seq, key = self._stamp(event.msgid, at)
        self.events.append(seq, key, event)
        return event

    def forget(self, msgid: str) -> None:
        """A message deleted before the history was rebuilt (a restart): its
        place is kept for selectors, without an event."""
        place = self.known.get(msgid)
        if place is not None:
            self.messages.remove(place[0])

    def trim(self, keep: int) -> int:
        """Forget the oldest messages beyond the ``keep`` most recent, with
        the events and msgids from before the first one kept: a long event's
        history in memory stays bounded (storage and the exports keep it
        whole). A selector naming a forgotten msgid is unknown, like any
        other. Returns the number of messages forgotten."""
        messages, events = self.messages, self.events
        excess = len(messages.seqs) - keep
        if excess <= 0:
            return 0
        first = messages.seqs[excess]
        del messages.seqs[:excess], messages.keys[:excess], messages.items[:excess]
        cut = bisect_left(events.seqs, first)
        del events.seqs[:cut], events.keys[:cut], events.items[:cut]
        self.known = {msgid: place for msgid, place in self.known.items() if place[0] >= first}
        return excess

    def restore_redacted(self, publication: Publication) -> None:
        """A stored publication that was deleted: known by its msgid (so
        selectors naming it work after a restart), never shown."""
        self.add(publication)
        self.forget(publication.msgid)

    # ------------------------------------------------------------ selectors

    def by_msgid(self, msgid: str) -> Selector | None:
        place = self.known.get(msgid)
        return None if place is None else Selector(place[1], place[0])

    @staticmethod
    def by_time(at_millis: int) -> Selector:
        return Selector(at_millis)

    # ------------------------------------------------------------ queries

    def _lists(self, events: bool) -> tuple[_Sorted, ...]:
        return (self.messages, self.events) if events else (self.messages,)

    def _first(self, bounds: Iterable[tuple[_Sorted, int, int]], limit: int) -> list[Entry]:
        """The first ``limit`` entries of the merged ranges, in order."""
        parts = [s.slice(lo, min(hi, lo + limit)) for s, lo, hi in bounds]
        return [item for _, item in list(merge(*parts, key=_seq))[:limit]]

    def _last(self, bounds: Iterable[tuple[_Sorted, int, int]], limit: int) -> list[Entry]:
        """The last ``limit`` entries of the merged ranges, in order."""
        if limit <= 0:
            return []
        parts = [s.slice(max(lo, hi - limit), hi) for s, lo, hi in bounds]
        return [item for _, item in list(merge(*parts, key=_seq))[-limit:]]

    def latest(self, limit: int, after: Selector | None = None, events: bool = False) -> list[Entry]:
        """The most recent ``limit`` entries (only those after ``after``)."""
        lists = self._lists(events)
        return self._last(((s, s.after(after) if after else 0, len(s.seqs)) for s in lists), limit)

    def before(self, selector: Selector, limit: int, events: bool = False) -> list[Entry]:
        return self._last(((s, 0, s.before(selector)) for s in self._lists(events)), limit)

    def after(self, selector: Selector, limit: int, events: bool = False) -> list[Entry]:
        return self._first(((s, s.after(selector), len(s.seqs)) for s in self._lists(events)), limit)

    def between(self, first: Selector, second: Selector, limit: int, events: bool = False) -> list[Entry]:
        """Entries strictly between the two selectors; with more than
        ``limit``, those nearest ``first`` (forwards or backwards in time)."""
        forwards = first.point() <= second.point()
        low, high = (first, second) if forwards else (second, first)
        bounds = [(s, s.after(low), s.before(high)) for s in self._lists(events)]
        return self._first(bounds, limit) if forwards else self._last(bounds, limit)

    def around(self, selector: Selector, limit: int, events: bool = False) -> list[Entry]:
        """``limit`` entries centred on ``selector``: the entry it names (or
        the first at or after its time) and about as many before as after."""
        lists = self._lists(events)
        earlier = self._last(((s, 0, s.at_or_after(selector)) for s in lists), limit)
        later = self._first(((s, s.at_or_after(selector), len(s.seqs)) for s in lists), limit)
        wanted_before = (limit - 1) // 2
        take_before = min(len(earlier), max(wanted_before, limit - len(later)))
        take_after = min(len(later), limit - take_before)
        return earlier[len(earlier) - take_before :] + later[:take_after]

    def latest_between(self, low: int, high: int) -> int | None:
        """The key of the last message strictly between two times (ms)."""
        lo, hi = sorted((low, high))
        s = self.messages
        end = bisect_left(s.keys, hi)
        if end == 0 or s.keys[end - 1] <= lo:
            return None
        return s.keys[end - 1]


def _seq(pair: tuple[int, Entry]) -> int:
    return pair[0]
