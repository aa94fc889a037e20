"""What a conference's closing summary counts, kept as the event goes.

The queue forgets old decided items once they are stored (``let_go``), so
the numbers cannot be read from it at the close: they are counted here, at
the one place every change passes (:meth:`Conference.record` calls
:meth:`Tally.note`), and rebuilt from the stored items when a conference is
restored (:meth:`Tally.of`). Memory: a counter per second of waiting (at most
one per second the event lasted) and the ids of answered questions (as many
as the guests answered), never one entry per visitor.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

import attrs

from .queue import Item, State

# Audit actions that publish an item, and the one that drops it.
PUBLISHING = frozenset({"approve", "edit-approve", "publish"})
# Audit actions that answer a published question.
ANSWERING = frozenset({"answer", "answered"})


@attrs.define
class Tally:
    published: int = 0
    dropped: int = 0
    answered: set[int] = attrs.field(factory=set)
    # Whole seconds from question to decision -> how many decisions took that long.
    waits: Counter[int] = attrs.field(factory=Counter)
    # The most visitors present at once (staff not counted), while this
    # process ran: it starts again from those present after a restart.
    peak_audience: int = 0

    def note(self, action: str, item: Item | None, now: float) -> None:
        """An audit entry about ``item`` (None for the conference itself)."""
        if item is None:
            return
        if action in PUBLISHING:
            self.published += 1
            self._waited(now - item.submitted_at)
        elif action == "drop":
            self.dropped += 1
            self._waited(now - item.submitted_at)
        elif action in ANSWERING:
            self.answered.add(item.id)

    def _waited(self, seconds: float) -> None:
        self.waits[max(0, round(seconds))] += 1

    def audience(self, present: int) -> None:
        if present > self.peak_audience:
            self.peak_audience = present

    def median_wait(self) -> float | None:
        """The median of the waits, in seconds (to the second); None when
        nothing was decided."""
        total = sum(self.waits.values())
        if not total:
            return None
        middle = ((total - 1) // 2, total // 2)  # the two middle ranks (equal when odd)
        found: list[int] = []
        seen = 0
        for seconds in sorted(self.waits):
            seen += self.waits[seconds]
            while len(found) < 2 and seen > middle[len(found)]:
                found.append(seconds)
            if len(found) == 2:
                break
        return (found[0] + found[1]) / 2

    @classmethod
    def of(cls, items: Iterable[Item], publications: Iterable[Any]) -> "Tally":
        """The tally of a restored conference: its stored items (all of
        them, before any is let go) and its publications."""
        tally = cls()
        for item in items:
            if item.state is State.PUBLISHED:
                tally.published += 1
            elif item.state is State.DROPPED:
                tally.dropped += 1
            else:
                continue
            if item.decided_at is not None:
                tally._waited(item.decided_at - item.submitted_at)
            if item.answered:
                tally.answered.add(item.id)
        for publication in publications:
            tags = publication.tags
            if "+draft/reply" in tags and str(tags.get("confchat/item", "")).isdigit():
                tally.answered.add(int(tags["confchat/item"]))
        return tally
