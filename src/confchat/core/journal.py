"""Write-ahead for the core: what changed, and the gate on acknowledgements.

Every change that must survive a crash (a question entering the queue, a
decision, a publication, a ban, a setting) marks its conference dirty here
*before* the core writes any reply about it. The storage shell collects the
dirty conferences, commits their changes, then calls :meth:`Journal.committed`.

The gate: while changes are marked but not yet committed, every byte the core
queues for any client is held in that client's :class:`~.outbox.Outbox` and
released only once the commit that precedes it is done. So nothing the server
acknowledged (a HELD note, a published line, a moderator's confirmation) can
reach anyone before it is on disk, and output order is never changed. With no
storage attached the gate never closes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable

if TYPE_CHECKING:
    from ..moderation.conference import Conference
    from .outbox import Outbox


def _nothing() -> None:
    return None


class Journal:
    __slots__ = ("appended", "committed_seq", "held", "_dirty", "wake", "enabled")

    def __init__(self) -> None:
        self.appended = 0  # sequence number of the latest change marked
        self.committed_seq = 0  # every change up to this one is on disk
        self.held: set[Outbox] = set()  # outboxes holding bytes for a commit
        self._dirty: dict[str, Conference] = {}
        self.wake: Callable[[], None] = _nothing  # the storage writer's wakeup
        # Without storage (unit tests of the core) marks are counted but the
        # gate stays open.
        self.enabled = False

    def enable(self, conferences: Iterable[Conference]) -> None:
        """Storage is attached: from now on changes are marked, starting with
        every conference as it stands (so the config's new ones are stored)."""
        self.enabled = True
        for conference in conferences:
            self.mark(conference)

    @property
    def pending(self) -> bool:
        """Changes are marked that are not committed yet (the gate is closed)."""
        return self.appended > self.committed_seq

    def mark(self, conference: Conference) -> None:
        """``conference`` changed; hold all output from now until committed."""
        if not self.enabled:
            return
        self._dirty[conference.folded] = conference
        self.appended += 1
        self.wake()

    def collect(self) -> tuple[int, list[dict[str, Any]]]:
        """The changes of every dirty conference, and the sequence number that
        committing them reaches."""
        changes = [conference.take_changes() for conference in self._dirty.values()]
        self._dirty.clear()
        return self.appended, changes

    def committed(self, seq: int) -> None:
        """Changes up to ``seq`` are durable: release what waited for them."""
        if seq <= self.committed_seq:
            return
        self.committed_seq = seq
        held, self.held = self.held, set()
        for outbox in held:
            outbox.release()
