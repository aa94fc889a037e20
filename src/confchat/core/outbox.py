"""A connection's bounded send queue, pure: the core pushes, the transport drains.

The core never waits on a client: ``push`` appends bytes and returns at once.
When more than ``limit`` bytes wait, the client is too slow to keep up; its
queue is dropped and replaced by ``ERROR :SendQ exceeded`` so that memory stays
bounded and nobody else waits for it (Ergo's ``max-sendq`` does the same).

With storage, an outbox has a ``gate`` (the core's :class:`~.journal.Journal`):
bytes pushed while a change is not yet committed are held, tagged with the
change's sequence number, and ``take`` hands them out only once the journal
has committed that far.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .journal import Journal

SENDQ_EXCEEDED = b"ERROR :SendQ exceeded\r\n"

# What an outbox that never held anything has instead of its three lists of
# held output (made at its first hold): 168 bytes less per idle connection.
_NEVER_HELD: tuple[()] = ()


def _nothing() -> None:
    return None


class Outbox:
    __slots__ = ("limit", "_chunks", "_held", "_seqs", "_counts", "_size", "closed", "overflowed", "wake", "gate")

    def __init__(
        self, limit: int, wake: Callable[[], None] = _nothing, gate: Journal | None = None
    ) -> None:
        self.limit = limit
        self._chunks: list[bytes] = []  # free to send
        self._held: list[bytes] = _NEVER_HELD  # type: ignore[assignment]  # waiting for a commit, in order
        # Runs of held chunks waiting for the same commit, as two parallel
        # lists of plain ints (no per-chunk objects for the garbage collector
        # to track): run i is _counts[i] chunks waiting for commit _seqs[i].
        self._seqs: list[int] = _NEVER_HELD  # type: ignore[assignment]
        self._counts: list[int] = _NEVER_HELD  # type: ignore[assignment]
        self._size = 0
        # Once closed, nothing more is accepted; the transport sends what is
        # left, then closes the connection.
        self.closed = False
        self.overflowed = False
        # Called when the outbox goes from empty to non-empty, or closes: the
        # transport's writer wakes up. Set by the transport.
        self.wake = wake
        self.gate = gate

    @property
    def pending(self) -> int:
        return self._size

    def push(self, data: bytes, durable: bool = True) -> bool:
        """Queue ``data``; False if the queue overflowed and is now closed.

        ``durable=False`` is for lines that tell of nothing stored (a PONG,
        the server's PING): they pass the gate when nothing is held before
        them, so a slow commit does not stop the keep-alives of clients that
        wait for nothing durable; behind held lines they wait their turn."""
        if self.closed:
            return not self.overflowed
        was_empty = not self._size
        self._size += len(data)
        if self._size > self.limit:
            self._chunks = [SENDQ_EXCEEDED]
            self._held = self._seqs = self._counts = _NEVER_HELD  # type: ignore[assignment]
            self._size = len(SENDQ_EXCEEDED)
            self.closed = self.overflowed = True
            self.wake()
            return False
        gate = self.gate
        if gate is not None:
            held = self._held
            if held or (durable and gate.appended > gate.committed_seq):
                # _hold, inline: this is every recipient of a fan-out while
                # its publication is being committed.
                if not held:
                    gate.held.add(self)
                    if held is _NEVER_HELD:
                        held = self._held = []
                        self._seqs, self._counts = [], []
                held.append(data)
                seq = gate.wait_batch
                seqs = self._seqs
                if seqs and seqs[-1] == seq:
                    self._counts[-1] += 1
                else:
                    seqs.append(seq)
                    self._counts.append(1)
                return True
        self._chunks.append(data)
        if was_empty:
            self.wake()
        return True

    def _hold(self, gate: Journal, data: bytes) -> None:
        # Invariant: an outbox holding chunks is in gate.held, or its writer
        # has been woken and will re-enter it in take_chunks.
        if not self._held:
            gate.held.add(self)
            if self._held is _NEVER_HELD:
                self._held, self._seqs, self._counts = [], [], []
        self._held.append(data)
        seq = gate.wait_batch
        seqs = self._seqs
        if seqs and seqs[-1] == seq:
            self._counts[-1] += 1
        else:
            seqs.append(seq)
            self._counts.append(1)

    def release(self) -> None:
        """The gate opened further: wake the writer if anything is now free."""
        gate = self.gate
        if not self._held or gate is None:
            return
        if self._seqs[0] <= gate.committed_batch:
            self.wake()
        else:
            gate.held.add(self)

    def close(self, final: bytes = b"") -> None:
        """Queue ``final`` (e.g. an ERROR line) and accept nothing more."""
        if self.closed:
            return
        if final:
            if self._held and self.gate is not None:
                self._hold(self.gate, final)
            else:
                self._chunks.append(final)
            self._size += len(final)
        self.closed = True
        self.wake()

    @property
    def drained(self) -> bool:
        """Nothing left to send, free or held."""
        return not self._size

    def take(self) -> bytes:
        """Everything free to send so far, as one buffer (coalesced writes)."""
        chunks = self.take_chunks()
        if not chunks:
            return b""
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def take_chunks(self) -> list[bytes]:
        """Everything free to send so far, as the chunks pushed (shared
        objects: the same message for many recipients is one object)."""
        held = self._held
        if held and self.gate is not None:
            committed = self.gate.committed_batch
            seqs, counts = self._seqs, self._counts
            if seqs[-1] <= committed and not self._chunks:
                # Everything held is released and nothing else waits (a
                # fan-out's commit): the held list itself goes out.
                self._held = self._chunks
                self._chunks = []
                seqs.clear()
                counts.clear()
                self._size -= sum(map(len, held))
                return held
            count = runs = 0
            for seq in seqs:
                if seq > committed:
                    break
                count += counts[runs]
                runs += 1
            if count:
                self._chunks.extend(held[:count])
                del held[:count]
                del seqs[:runs]
                del counts[:runs]
            if held:
                self.gate.held.add(self)
        chunks = self._chunks
        if not chunks:
            return chunks
        self._chunks = []
        self._size -= sum(map(len, chunks))
        return chunks
