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

from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol

if TYPE_CHECKING:
    from .outbox import Outbox


class Changes(Protocol):
    """Something whose changes are stored: a conference, for now."""

    folded: str  # its key

    def take_changes(self) -> Any:
        """What changed since the last call (handed over once)."""


def _nothing() -> None:
    return None


def _as_is(changes: Any) -> Any:
    return changes


class Journal:
    __slots__ = (
        "appended", "committed_seq", "collected_seq", "batches", "committed_batch",
        "_batch_seq", "held", "_dirty", "wake", "enabled", "snapshot",
    )

    def __init__(self) -> None:
        self.appended = 0  # sequence number of the latest change marked
        self.committed_seq = 0  # every change up to this one is on disk
        # Commits go in numbered batches (one per ``collect``). Held output
        # is tagged with the batch it waits for, not with a change: all the
        # output of one step of the core waits for the same batch.
        self.collected_seq = 0  # ``appended`` at the last collect
        self.batches = 0  # batches collected so far
        self.committed_batch = 0
        self._batch_seq: dict[int, int] = {}
        self.held: set[Outbox] = set()  # outboxes holding bytes for a commit
        self._dirty: dict[str, Changes] = {}
        self.wake: Callable[[], None] = _nothing  # the storage writer's wakeup
        # Storage's row format, applied to each change set as it is
        # collected (so the rows are a snapshot of that moment).
        self.snapshot: Callable[[Any], Any] = _as_is
        # Without storage (unit tests of the core) marks are counted but the
        # gate stays open.
        self.enabled = False

    def enable(self, conferences: Iterable[Changes]) -> None:
        """Storage is attached: from now on changes are marked, starting with
        every conference as it stands (so the config's new ones are stored)."""
        self.enabled = True
        for conference in conferences:
            self.mark(conference)

    @property
    def wait_batch(self) -> int:
        """The batch whose commit output pushed now must wait for: the next
        one if changes are marked but not yet collected, else the one being
        committed."""
        return self.batches + 1 if self.appended > self.collected_seq else self.batches

    @property
    def pending(self) -> bool:
        """Changes are marked that are not committed yet (the gate is closed)."""
        return self.appended > self.committed_seq

    def mark(self, conference: Changes) -> None:
        """``conference`` changed; hold all output from now until committed."""
        if not self.enabled:
            return
        self._dirty[conference.folded] = conference
        self.appended += 1
        self.wake()

    def collect(self) -> tuple[int, list[dict[str, Any]]]:
        """The changes of every dirty conference, and the number of this
        batch, to pass to :meth:`committed` once they are on disk."""
        snapshot = self.snapshot
        changes = [snapshot(conference.take_changes()) for conference in self._dirty.values()]
        self._dirty.clear()
        self.batches += 1
        self.collected_seq = self.appended
        self._batch_seq[self.batches] = self.appended
        return self.batches, changes

    def committed(self, batch: int) -> None:
        """Batch ``batch`` (and those before it) is durable: release what
        waited for it."""
        if batch <= self.committed_batch:
            return
        self.committed_batch = batch
        self.committed_seq = self._batch_seq.pop(batch)
        for older in [b for b in self._batch_seq if b < batch]:
            del self._batch_seq[older]
        held, self.held = self.held, set()
        for outbox in held:
            outbox.release()
